package compattests

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/twinmq/twinmq/wire/remoting"
)

// aliOnsEvent is one JSON line of node/alions.js.
type aliOnsEvent struct {
	Sent, Recv     *int
	MsgID          string `json:"msgId"`
	Body           string `json:"body"`
	Tags, Keys, P  string
	Topic          string `json:"topic"`
	QueueID        int    `json:"queueId"`
	QueueOffset    int64  `json:"queueOffset"`
	BornTimestamp  int64  `json:"bornTimestamp"`
	StoreTimestamp int64  `json:"storeTimestamp"`
}

// TestRocketMQAliOns runs ali-ons, the Node.js remoting client (installed
// by .ci/run with npm ci in compat-tests/node): its producer sends with
// tags, keys and a property (SEND_MESSAGE_V2 with numeric extFields), and
// its push consumer subscribed to one tag receives exactly those messages
// with every field, and commits its offsets on the broker.
func TestRocketMQAliOns(t *testing.T) {
	nodeBin, dir := nodeClients(t)
	c := startRocketMQ(t, t.TempDir())
	const topic, n = "OnsTopic", 10
	// ali-ons throws on TOPIC_NOT_EXIST instead of falling back to TBW102
	// (mq_client_api.js: the case falls through to its default handler), so,
	// as on Aliyun ONS, the topic exists before the producer starts.
	if r := brokerCall(t, c, remoting.UpdateAndCreateTopic, map[string]string{"topic": topic, "readQueueNums": "4",
		"writeQueueNums": "4", "perm": "6"}, nil); r.Code != remoting.Success {
		t.Fatalf("create %s: %d %s", topic, r.Code, r.Remark)
	}
	waitFor(t, 5*time.Second, func() bool { _, ok := c.ns.Table().Route(topic); return ok })
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, nodeBin, "alions.js")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NAMESRV="+c.nsAddr, "TOPIC="+topic, "COUNT="+strconv.Itoa(n), "TIMEOUT_MS=60000")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node alions.js: %v\nstdout:\n%s\nstderr:\n%s", err, out, stderr.Bytes())
	}
	sent := map[int]aliOnsEvent{}
	recv := map[int][]aliOnsEvent{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var e aliOnsEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		switch {
		case e.Sent != nil:
			sent[*e.Sent] = e
		case e.Recv != nil:
			recv[*e.Recv] = append(recv[*e.Recv], e)
		}
	}
	if len(sent) != n {
		t.Fatalf("sent %d of %d:\n%s", len(sent), n, out)
	}
	for i := range n {
		got := recv[i]
		if i%2 == 1 {
			if len(got) > 0 {
				t.Errorf("TagB message %d delivered to a TagA subscriber", i)
			}
			continue
		}
		if len(got) != 1 {
			t.Fatalf("message %d delivered %d times:\n%s", i, len(got), out)
		}
		e, s := got[0], sent[i]
		if e.Body != fmt.Sprint("ons-body-", i) || e.Tags != "TagA" || e.Keys != fmt.Sprint("k", i) || e.P != strconv.Itoa(i) || e.Topic != topic {
			t.Errorf("message %d: %+v", i, e)
		}
		if e.MsgID != s.MsgID || e.QueueID != s.QueueID || e.QueueOffset != s.QueueOffset {
			t.Errorf("message %d: received %s q%d@%d, sent %s q%d@%d", i, e.MsgID, e.QueueID, e.QueueOffset, s.MsgID, s.QueueID, s.QueueOffset)
		}
		if e.BornTimestamp < start.UnixMilli() || e.StoreTimestamp < e.BornTimestamp || e.StoreTimestamp > time.Now().UnixMilli() {
			t.Errorf("message %d: born %d stored %d (test began %d)", i, e.BornTimestamp, e.StoreTimestamp, start.UnixMilli())
		}
	}
	// What ali-ons stored reads back in the Go client's decoder, by key.
	for i := range n {
		r := brokerCall(t, c, remoting.QueryMessage, map[string]string{"topic": topic, "key": fmt.Sprint("k", i), "maxNum": "4",
			"beginTimestamp": "0", "endTimestamp": strconv.FormatInt(time.Now().Add(time.Minute).UnixMilli(), 10)}, nil)
		msgs := primitive.DecodeMessage(r.Body)
		if r.Code != remoting.Success || len(msgs) != 1 || string(msgs[0].Body) != fmt.Sprint("ons-body-", i) ||
			msgs[0].GetProperty("p") != strconv.Itoa(i) {
			t.Fatalf("query k%d: code %d, %d messages", i, r.Code, len(msgs))
		}
	}
	// ali-ons committed its offsets (UPDATE_CONSUMER_OFFSET with numbers)
	// and unregistered (UNREGISTER_CLIENT) when it closed.
	// Each queue's offset is at least past its last TagA message (a
	// trailing filtered TagB one may or may not have been committed yet).
	need := map[int]int64{}
	for i, s := range sent {
		if i%2 == 0 {
			need[s.QueueID] = max(need[s.QueueID], s.QueueOffset+1)
		}
	}
	for q, want := range need {
		if got, ok := c.current().offsets.Fetch("ons_cg_"+topic, topic, int32(q)); !ok || got < want {
			t.Errorf("ali-ons committed %d (%v) on queue %d, want >= %d", got, ok, q, want)
		}
	}
	if ids := consumerIDs(t, c, "ons_cg_"+topic); len(ids) != 0 {
		t.Errorf("ali-ons consumer still registered: %v", ids)
	}
}
