package remotingapi

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"testing"

	"github.com/twinmq/twinmq/broker/delay"
	"github.com/twinmq/twinmq/nameserver"
	"github.com/twinmq/twinmq/storage"
	"github.com/twinmq/twinmq/wire/remoting"
)

// TestResendDLQ: two messages sent back with delay level -1 land in
// %DLQ%g; ResendDLQ stores them again in their original topic as fresh
// messages (same body, tags and UNIQ_KEY, reconsume times 0, no retry
// properties); a second request re-sends nothing; bad requests get their
// codes.
func TestResendDLQ(t *testing.T) {
	b, st, addr := startBroker(t)
	b.EnableDelay(delay.Policy{})
	c, err := nameserver.Dial(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	hb := `{"clientID":"c1","producerDataSet":[],"consumerDataSet":[{"groupName":"g","consumeType":"CONSUME_PASSIVELY",` +
		`"messageModel":"CLUSTERING","consumeFromWhere":"CONSUME_FROM_FIRST_OFFSET","subscriptionDataSet":[{"topic":"T","subString":"*"}]}]}`
	if r := call(t, c, remoting.HeartBeat, nil, []byte(hb)); r.Code != remoting.Success {
		t.Fatalf("heartbeat: %d %s", r.Code, r.Remark)
	}
	for i := range 2 {
		if r := sendProps(t, c, "T", map[string]string{"TAGS": "a", "UNIQ_KEY": "U" + strconv.Itoa(i)}); r.Code != remoting.Success {
			t.Fatalf("send: %d %s", r.Code, r.Remark)
		}
		m := waitMessage(t, st, "T", int64(i))
		if r := call(t, c, remoting.ConsumerSendMsgBack, map[string]string{"offset": strconv.FormatInt(m.CommitLogOffset, 10),
			"group": "g", "delayLevel": "-1", "originTopic": "T"}, nil); r.Code != remoting.Success {
			t.Fatalf("send back: %d %s", r.Code, r.Remark)
		}
	}
	waitMessage(t, st, "%DLQ%g", 1)

	resend := func(ext map[string]string) (ResendDLQResult, *remoting.Command) {
		r := call(t, c, ResendDLQ, ext, nil)
		var res ResendDLQResult
		if r.Code == remoting.Success {
			if err := json.Unmarshal(r.Body, &res); err != nil {
				t.Fatal(err)
			}
		}
		return res, r
	}
	if res, r := resend(map[string]string{"group": "g"}); r.Code != remoting.Success || res.Resent != 2 || res.NextOffset != 2 {
		t.Fatalf("resend: %d %s %+v", r.Code, r.Remark, res)
	}
	var resent []remoting.MessageExt // queue 0 holds the originals; the resend picks random queues
	for q := range int32(4) {
		res, err := st.Read("T", q, 0, storage.ReadOptions{})
		if err != nil {
			continue
		}
		for _, e := range res.Entries {
			m, _, err := remoting.DecodeStoredMessage(append([]byte(nil), e.Payload...))
			if err == nil && (q != 0 || e.QueueOffset >= 2) {
				resent = append(resent, m)
			}
		}
		res.Release()
	}
	if len(resent) != 2 {
		t.Fatalf("%d messages resent to T, want 2", len(resent))
	}
	slices.SortFunc(resent, func(a, b remoting.MessageExt) int { return int(a.CommitLogOffset - b.CommitLogOffset) })
	for i, m := range resent {
		p := remoting.ParseProperties(m.Properties)
		if string(m.Body) != "body" || m.ReconsumeTimes != 0 || p["TAGS"] != "a" || p["UNIQ_KEY"] != "U"+strconv.Itoa(i) {
			t.Errorf("resent %d: body %q times %d props %v", i, m.Body, m.ReconsumeTimes, p)
		}
		for _, k := range []string{"RETRY_TOPIC", "REAL_TOPIC", "DELAY"} {
			if _, ok := p[k]; ok {
				t.Errorf("resent %d keeps %s", i, k)
			}
		}
	}
	if res, r := resend(map[string]string{"group": "g"}); r.Code != remoting.Success || res.Resent != 0 || res.NextOffset != 2 {
		t.Fatalf("second resend: %d %s %+v", r.Code, r.Remark, res)
	}
	total := int64(0)
	for q := range int32(4) {
		n, _ := st.MaxOffset("T", q)
		total += n
	}
	if total != 4 {
		t.Fatalf("T has %d messages, want 4", total)
	}
	for _, tc := range []struct {
		ext  map[string]string
		code int32
	}{
		{map[string]string{}, remoting.InvalidParameter},
		{map[string]string{"group": "nobody"}, remoting.TopicNotExist},
		{map[string]string{"group": "g", "max": "0"}, remoting.InvalidParameter},
	} {
		if _, r := resend(tc.ext); r.Code != tc.code {
			t.Errorf("%v: code %d (%s), want %d", tc.ext, r.Code, r.Remark, tc.code)
		}
	}
}

// TestRetrySendAsNewMessage: rocketmq-client-go's fallback when
// CONSUMER_SEND_MSG_BACK fails is a SEND_MESSAGE to %RETRY%<group> with
// reconsumeTimes and maxReconsumeTimes (docs/rocketmq-protocol.md §2.4 step 4). Within the
// maximum it is delayed by its DELAY (3 + times) like any send; over it,
// it goes to %DLQ%<group> at once.
func TestRetrySendAsNewMessage(t *testing.T) {
	b, st, addr := startBroker(t)
	b.EnableDelay(delay.Policy{})
	c, err := nameserver.Dial(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	send := func(times, max, level string) *remoting.Command {
		props := map[string]string{"RETRY_TOPIC": "T", "ORIGIN_MESSAGE_ID": "X", "DELAY": level}
		return call(t, c, remoting.SendMessageV2, map[string]string{"a": "CLIENT_INNER_PRODUCER", "b": "%RETRY%g", "c": "TBW102",
			"d": "1", "e": "0", "f": "0", "g": "1", "h": "0", "i": string(remoting.AppendProperties(nil, props)),
			"j": times, "l": max}, []byte("body"))
	}
	if r := send("1", "2", "1"); r.Code != remoting.Success {
		t.Fatalf("retry send: %d %s", r.Code, r.Remark)
	}
	m := waitMessage(t, st, delay.ScheduleTopic, 0) // level 1: queue 0
	if p := remoting.ParseProperties(m.Properties); p["REAL_TOPIC"] != "%RETRY%g" || m.ReconsumeTimes != 1 {
		t.Fatalf("retry within max: props %v times %d", p, m.ReconsumeTimes)
	}
	if r := send("3", "2", "6"); r.Code != remoting.Success {
		t.Fatalf("retry send over max: %d %s", r.Code, r.Remark)
	}
	m = waitMessage(t, st, "%DLQ%g", 0)
	if p := remoting.ParseProperties(m.Properties); p["RETRY_TOPIC"] != "T" || m.ReconsumeTimes != 3 {
		t.Fatalf("over max: props %v times %d", p, m.ReconsumeTimes)
	}
}
