package remotingapi

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twinmq/twinmq/nameserver"
	"github.com/twinmq/twinmq/wire/remoting"
)

// TestAdminBadInput: each admin request with missing or malformed fields
// gets its response code, the connection stays up, and nothing is
// committed.
func TestAdminBadInput(t *testing.T) {
	b, _, addr := startBroker(t)
	c, err := nameserver.Dial(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sendOne(t, c, "bt", "", "x")
	// The send is acknowledged before the ConsumeQueue has it: wait.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		var hi int64
		for q := range int32(4) {
			_, h, _ := b.queueRange("bt", q)
			hi += h
		}
		if hi == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the message is not dispatched after 10 s")
		}
	}
	for _, tc := range []struct {
		code int32
		ext  map[string]string
		body string
		want int32
	}{
		{getTopicStatsInfo, nil, "", remoting.InvalidParameter},
		{getTopicStatsInfo, map[string]string{"topic": "nope"}, "", remoting.TopicNotExist},
		{getConsumeStats, nil, "", remoting.InvalidParameter},
		{getConsumeStats, map[string]string{"consumerGroup": "g", "topicList": ";;nope;"}, "", remoting.Success},
		{getConsumerConnectionList, nil, "", remoting.InvalidParameter},
		{getConsumerConnectionList, map[string]string{"consumerGroup": "g"}, "", remoting.ConsumerNotOnline},
		{getProducerConnectionList, nil, "", remoting.InvalidParameter},
		{queryTopicConsumeByWho, nil, "", remoting.InvalidParameter},
		{queryConsumeTimeSpan, map[string]string{"topic": "nope"}, "", remoting.TopicNotExist},
		{deleteSubscriptionGroup, nil, "", remoting.InvalidParameter},
		{getAllConsumerOffset, nil, "", remoting.SystemError}, // none yet
		{InvokeBrokerToResetOffset, map[string]string{"topic": "bt", "group": "g"}, "", remoting.InvalidParameter},
		{InvokeBrokerToResetOffset, map[string]string{"topic": "bt", "group": "g", "timestamp": "soon"}, "", remoting.InvalidParameter},
		{InvokeBrokerToResetOffset, map[string]string{"topic": "nope", "group": "g", "timestamp": "0"}, "", remoting.TopicNotExist},
		{InvokeBrokerToResetOffset, map[string]string{"topic": "bt", "group": "g", "timestamp": "0"}, `{"offsetTable":{{"queueId":`, remoting.InvalidParameter},
		{InvokeBrokerToResetOffset, map[string]string{"topic": "bt", "group": "g", "timestamp": "0", "queueId": "0", "offset": "9"}, "", remoting.SystemError},
		{InvokeBrokerToResetOffset, map[string]string{"topic": "bt", "group": "g", "timestamp": "0"}, `{"offsetTable":{}}`, remoting.SystemError},
		{updateBrokerConfig, nil, strings.Repeat("k=v\n", 20000), remoting.SystemError},
		{getBrokerConsumeStats, map[string]string{"isOrder": "maybe"}, "", remoting.Success},
	} {
		resp := call(t, c, tc.code, tc.ext, []byte(tc.body))
		if resp.Code != tc.want {
			t.Errorf("code %d %v %.40q: answered %d (%s), want %d", tc.code, tc.ext, tc.body, resp.Code, resp.Remark, tc.want)
		}
	}
	if off, ok := b.offsets.Fetch("g", "bt", 0); ok {
		t.Fatalf("a refused reset committed offset %d", off)
	}
	// A good reset after all that, on the same connection.
	resp := call(t, c, InvokeBrokerToResetOffset, map[string]string{"topic": "bt", "group": "g", "timestamp": "-1", "isForce": "true"}, nil)
	if resp.Code != remoting.Success {
		t.Fatalf("reset: %d %s", resp.Code, resp.Remark)
	}
	if off, _ := b.offsets.Fetch("g", "bt", 0); off != 1 {
		t.Fatalf("reset to the end committed %d, want 1", off)
	}
}
