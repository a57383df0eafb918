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
