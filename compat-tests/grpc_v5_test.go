package compattests

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	rmq5 "github.com/apache/rocketmq-clients/golang/v5"

	"github.com/twinmq/twinmq/broker/pop"
)

// inFlight is the number of records the group holds locked on topic.
func (c *grpcCluster) inFlight(t *testing.T, group, topic string, queues int32) int {
	t.Helper()
	n := 0
	for q := int32(0); q < queues; q++ {
		if st, ok := c.current().engine.Status(pop.Key{Group: group, Topic: topic, Queue: q}); ok {
			n += st.InFlight
		}
	}
	return n
}

func send5(t *testing.T, p rmq5.Producer, m *rmq5.Message) *rmq5.SendReceipt {
	t.Helper()
	rs, err := p.Send(context.Background(), m)
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	if len(rs) != 1 || rs[0].MessageID == "" {
		t.Fatalf("receipts %+v", rs)
	}
	return rs[0]
}

// TestGRPCProducerSimpleConsumer: what a v5 Producer sends, a v5
// SimpleConsumer receives (tag filter applied, body, tag, keys and
// properties intact) and acknowledges; nothing stays locked after.
func TestGRPCProducerSimpleConsumer(t *testing.T) {
	c := startGRPCCluster(t, 0)
	topic := "rmq5-basic"
	c.createTopic(t, topic, 4)
	p := c.producer5(t, topic)
	const n = 20
	ids := map[string]int{}
	for i := 0; i < n; i++ {
		m := &rmq5.Message{Topic: topic, Body: []byte(fmt.Sprintf("body-%d", i))}
		m.SetTag([]string{"A", "B"}[i%2])
		m.SetKeys(fmt.Sprintf("k-%d", i))
		m.AddProperty("seq", fmt.Sprint(i))
		r := send5(t, p, m)
		if i%2 == 0 {
			ids[r.MessageID] = i
		}
	}
	sc := c.simpleConsumer(t, "g-basic", topic, "A", 2*time.Second)
	got := receive5(t, sc, n/2, 20*time.Second, 30*time.Second)
	if len(got) != n/2 {
		t.Fatalf("received %d of %d", len(got), n/2)
	}
	seen := map[string]bool{}
	for _, mv := range got {
		i, ok := ids[mv.GetMessageId()]
		if !ok || seen[mv.GetMessageId()] {
			t.Fatalf("unexpected or duplicate message %s", mv.GetMessageId())
		}
		seen[mv.GetMessageId()] = true
		if string(mv.GetBody()) != fmt.Sprintf("body-%d", i) || mv.GetTag() == nil || *mv.GetTag() != "A" ||
			!slices.Equal(mv.GetKeys(), []string{fmt.Sprintf("k-%d", i)}) || mv.GetProperties()["seq"] != fmt.Sprint(i) ||
			mv.GetDeliveryAttempt() != 1 {
			t.Fatalf("message %d: body %q tag %v keys %v props %v attempt %d", i, mv.GetBody(), mv.GetTag(), mv.GetKeys(),
				mv.GetProperties(), mv.GetDeliveryAttempt())
		}
		if err := sc.Ack(context.Background(), mv); err != nil {
			t.Fatal(err)
		}
	}
	if k := c.inFlight(t, "g-basic", topic, 4); k != 0 {
		t.Fatalf("%d records still locked after acking all", k)
	}
	if more := receive5(t, sc, 1, 20*time.Second, 3*time.Second); len(more) != 0 {
		t.Fatalf("received %d more after acking all", len(more))
	}
}

// TestGRPCRedeliveryAndDLQ: a message not acknowledged comes back after
// its invisible time with the next delivery attempt; after the last
// allowed attempt it goes to %DLQ%group, readable there by a consumer,
// and never comes back to the group.
func TestGRPCRedeliveryAndDLQ(t *testing.T) {
	c := startGRPCCluster(t, 2)
	topic, group := "rmq5-dlq", "g-dlq"
	c.createTopic(t, topic, 2)
	p := c.producer5(t, topic)
	m := &rmq5.Message{Topic: topic, Body: []byte("poison")}
	m.SetTag("T")
	r := send5(t, p, m)
	sc := c.simpleConsumer(t, group, topic, "*", 3*time.Second)
	for attempt := int32(1); attempt <= 2; attempt++ {
		got := receive5(t, sc, 1, time.Second, 30*time.Second)
		if len(got) != 1 || got[0].GetMessageId() != r.MessageID || got[0].GetDeliveryAttempt() != attempt {
			t.Fatalf("attempt %d: %d messages, %+v", attempt, len(got), got)
		}
	}
	// The lock of the second (last) attempt expires: the next receive
	// dead-letters the message instead of delivering it.
	waitFor(t, 30*time.Second, func() bool {
		_, _ = sc.Receive(context.Background(), 1, time.Second)
		return c.inFlight(t, group, topic, 2) == 0
	})
	dc := c.simpleConsumer(t, "g-dlq-reader", "%DLQ%"+group, "*", 2*time.Second)
	dead := receive5(t, dc, 1, 20*time.Second, 30*time.Second)
	if len(dead) != 1 || dead[0].GetMessageId() != r.MessageID || string(dead[0].GetBody()) != "poison" ||
		dead[0].GetTag() == nil || *dead[0].GetTag() != "T" {
		t.Fatalf("dead-letter topic holds %+v", dead)
	}
	if err := dc.Ack(context.Background(), dead[0]); err != nil {
		t.Fatal(err)
	}
	if more := receive5(t, sc, 1, time.Second, 3*time.Second); len(more) != 0 {
		t.Fatalf("the dead-lettered message came back: %+v", more)
	}
}

// TestGRPCChangeInvisibleDuration: a consumer extends a lock, then
// releases it (invisible 0 is refused by the client, so 1 s): the message
// comes back with the next attempt, and the new handle acknowledges it.
func TestGRPCChangeInvisibleDuration(t *testing.T) {
	c := startGRPCCluster(t, 0)
	topic, group := "rmq5-change", "g-change"
	c.createTopic(t, topic, 1)
	p := c.producer5(t, topic)
	r := send5(t, p, &rmq5.Message{Topic: topic, Body: []byte("x")})
	sc := c.simpleConsumer(t, group, topic, "*", 2*time.Second)
	got := receive5(t, sc, 1, time.Hour, 30*time.Second)
	if len(got) != 1 {
		t.Fatalf("received %d", len(got))
	}
	old := got[0].GetReceiptHandle()
	if err := sc.ChangeInvisibleDuration(got[0], time.Second); err != nil {
		t.Fatal(err)
	}
	if got[0].GetReceiptHandle() == old {
		t.Fatal("the receipt handle did not change")
	}
	again := receive5(t, sc, 1, time.Hour, 30*time.Second)
	if len(again) != 1 || again[0].GetMessageId() != r.MessageID || again[0].GetDeliveryAttempt() != 2 {
		t.Fatalf("after the change: %+v", again)
	}
	if err := sc.Ack(context.Background(), again[0]); err != nil {
		t.Fatal(err)
	}
	if n := c.inFlight(t, group, topic, 1); n != 0 {
		t.Fatalf("%d still locked", n)
	}
}

// TestGRPCFIFOAndDelay: the messages of one message group land in one
// queue in send order and are received in that order (a batch is
// delivered only once the one before it is acknowledged); a message with
// a delivery timestamp is not received before it.
func TestGRPCFIFOAndDelay(t *testing.T) {
	c := startGRPCCluster(t, 0)
	topic := "rmq5-fifo"
	c.createTopic(t, topic, 4)
	p := c.producer5(t, topic)
	const n = 10
	for i := 0; i < n; i++ {
		m := &rmq5.Message{Topic: topic, Body: []byte(fmt.Sprint(i))}
		m.SetMessageGroup("order-42")
		send5(t, p, m)
	}
	sc := c.simpleConsumer(t, "g-fifo", topic, "*", 2*time.Second)
	// A FIFO queue delivers nothing more while some of it is locked: ack
	// each batch before the next receive.
	var got []*rmq5.MessageView
	for deadline := time.Now().Add(30 * time.Second); len(got) < n && time.Now().Before(deadline); {
		batch := receive5(t, sc, n-len(got), time.Minute, 5*time.Second)
		for _, mv := range batch {
			if err := sc.Ack(context.Background(), mv); err != nil {
				t.Fatal(err)
			}
		}
		got = append(got, batch...)
	}
	if len(got) != n {
		t.Fatalf("received %d of %d", len(got), n)
	}
	for i, mv := range got {
		if string(mv.GetBody()) != fmt.Sprint(i) || mv.GetMessageGroup() == nil || *mv.GetMessageGroup() != "order-42" {
			t.Fatalf("message %d: body %q group %v", i, mv.GetBody(), mv.GetMessageGroup())
		}
		if mv.GetOffset() != int64(i) { // one queue, dense offsets
			t.Fatalf("message %d at queue offset %d", i, mv.GetOffset())
		}
	}

	dtopic := "rmq5-delay"
	c.createTopic(t, dtopic, 2)
	dp := c.producer5(t, dtopic)
	due := time.Now().Add(2 * time.Second)
	dm := &rmq5.Message{Topic: dtopic, Body: []byte("later")}
	dm.SetDelayTimestamp(due)
	r := send5(t, dp, dm)
	dc := c.simpleConsumer(t, "g-delay", dtopic, "*", 2*time.Second)
	late := receive5(t, dc, 1, time.Minute, 30*time.Second)
	if len(late) != 1 || late[0].GetMessageId() != r.MessageID || string(late[0].GetBody()) != "later" {
		t.Fatalf("delayed message: %+v", late)
	}
	if now := time.Now(); now.Before(due.Truncate(time.Millisecond)) {
		t.Fatalf("delivered at %v, before its delivery time %v", now, due)
	}
}
