package compattests

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
)

// TestRocketMQSendAndPushConsume: sync sends with tags, keys and
// properties, then a clustering push consumer receives each exactly once
// with all of them intact.
func TestRocketMQSendAndPushConsume(t *testing.T) {
	c := startRocketMQ(t, t.TempDir())
	p := c.producer(t)
	const n = 20
	results := sendN(t, p, "RmqSendTopic", "TagA", 0, n)
	for i, r := range results {
		if len(r.OffsetMsgID) != 32 || r.MsgID == "" || r.MessageQueue.Topic != "RmqSendTopic" {
			t.Fatalf("result %d: %+v", i, r)
		}
	}

	col := newCollector()
	pc := c.pushConsumer(t, "cg_send")
	if err := pc.Subscribe("RmqSendTopic", consumer.MessageSelector{}, col.handler); err != nil {
		t.Fatal(err)
	}
	if err := pc.Start(); err != nil {
		t.Fatal(err)
	}
	defer pc.Shutdown()
	waitFor(t, 20*time.Second, func() bool { return col.n.Load() >= n })
	time.Sleep(300 * time.Millisecond) // duplicates would show up by now
	col.mu.Lock()
	defer col.mu.Unlock()
	if len(col.msgs) != n || col.n.Load() != n {
		t.Fatalf("got %d distinct, %d total; want %d once each", len(col.msgs), col.n.Load(), n)
	}
	for i := range n {
		ms := col.msgs[fmt.Sprint("body-", i)]
		if len(ms) != 1 {
			t.Fatalf("body-%d delivered %d times", i, len(ms))
		}
		m := ms[0]
		if m.GetTags() != "TagA" || m.GetKeys() != fmt.Sprint("k", i) || m.GetProperty("p") != fmt.Sprint(i) {
			t.Fatalf("body-%d: tags %q keys %q p %q", i, m.GetTags(), m.GetKeys(), m.GetProperty("p"))
		}
		if m.MsgId != results[i].MsgID || m.OffsetMsgId != results[i].OffsetMsgID {
			t.Fatalf("body-%d: ids %s/%s, send said %s/%s", i, m.MsgId, m.OffsetMsgId, results[i].MsgID, results[i].OffsetMsgID)
		}
		if m.StoreTimestamp < m.BornTimestamp-1000 || m.StoreTimestamp > time.Now().UnixMilli() {
			t.Fatalf("body-%d: born %d store %d", i, m.BornTimestamp, m.StoreTimestamp)
		}
	}
}

// TestRocketMQBatchSend: one SEND_BATCH_MESSAGE lands as consecutive
// offsets of one queue, with comma-joined offsetMsgIds.
func TestRocketMQBatchSend(t *testing.T) {
	c := startRocketMQ(t, t.TempDir())
	p := c.producer(t)
	var msgs []*primitive.Message
	for i := range 5 {
		msgs = append(msgs, primitive.NewMessage("RmqBatchTopic", fmt.Appendf(nil, "batch-%d", i)).WithTag("TagB"))
	}
	r, err := p.SendSync(context.Background(), msgs...)
	if err != nil {
		t.Fatal(err)
	}
	if ids := strings.Split(r.OffsetMsgID, ","); len(ids) != 5 {
		t.Fatalf("offsetMsgId %q", r.OffsetMsgID)
	}
	q := int32(r.MessageQueue.QueueId)
	waitFor(t, 5*time.Second, func() bool { // dispatch to the ConsumeQueue is asynchronous
		maxOff, err := c.store.MaxOffset("RmqBatchTopic", q)
		return err == nil && maxOff == r.QueueOffset+5
	})
	col := newCollector()
	pc := c.pushConsumer(t, "cg_batch")
	if err := pc.Subscribe("RmqBatchTopic", consumer.MessageSelector{}, col.handler); err != nil {
		t.Fatal(err)
	}
	if err := pc.Start(); err != nil {
		t.Fatal(err)
	}
	defer pc.Shutdown()
	waitFor(t, 20*time.Second, func() bool { return col.n.Load() >= 5 })
	col.mu.Lock()
	defer col.mu.Unlock()
	for i := range 5 {
		ms := col.msgs[fmt.Sprint("batch-", i)]
		if len(ms) != 1 || ms[0].GetTags() != "TagB" || int64(i)+r.QueueOffset != ms[0].QueueOffset {
			t.Fatalf("batch-%d: %v", i, ms)
		}
	}
}

// TestRocketMQUnknownTopic: a push consumer cannot start on a topic that
// no broker serves (GET_ROUTEINFO_BY_TOPIC answers TOPIC_NOT_EXIST).
func TestRocketMQUnknownTopic(t *testing.T) {
	c := startRocketMQ(t, t.TempDir())
	pc := c.pushConsumer(t, "cg_unknown")
	if err := pc.Subscribe("RmqNoSuchTopic", consumer.MessageSelector{}, newCollector().handler); err != nil {
		t.Fatal(err)
	}
	if err := pc.Start(); err == nil {
		pc.Shutdown()
		t.Fatal("push consumer started on a topic with no route")
	}
}
