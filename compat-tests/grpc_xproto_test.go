package compattests

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	rmq5 "github.com/apache/rocketmq-clients/golang/v5"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestGRPCCrossProtocol: messages sent with the v5 gRPC Producer are read
// by a Kafka consumer (franz-go) and a remoting push consumer
// (rocketmq-client-go) with their body, key and properties; messages
// sent by a remoting producer and by a Kafka producer reach a v5
// SimpleConsumer.
func TestGRPCCrossProtocol(t *testing.T) {
	c := startGRPCCluster(t, 0)
	const n = 6
	ctx := context.Background()

	// gRPC -> Kafka and remoting.
	topic := "rmq5-x-out"
	c.createTopic(t, topic, 2)
	p := c.producer5(t, topic)
	for i := 0; i < n; i++ {
		m := &rmq5.Message{Topic: topic, Body: []byte(fmt.Sprintf("v5-%d", i))}
		m.SetTag("A")
		m.SetKeys(fmt.Sprintf("key-%d", i))
		m.AddProperty("h", fmt.Sprint(i))
		send5(t, p, m)
	}
	kc, err := kgo.NewClient(kgo.SeedBrokers(c.kafkaAddr), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	seen := map[string]bool{}
	fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for len(seen) < n && fctx.Err() == nil {
		kc.PollFetches(fctx).EachRecord(func(r *kgo.Record) {
			hs := map[string]string{}
			for _, h := range r.Headers {
				hs[h.Key] = string(h.Value)
			}
			var i int
			if _, err := fmt.Sscanf(string(r.Value), "v5-%d", &i); err != nil || string(r.Key) != fmt.Sprintf("key-%d", i) ||
				hs["h"] != fmt.Sprint(i) || hs["TAGS"] != "A" {
				t.Errorf("Kafka record %q key %q headers %v", r.Value, r.Key, hs)
			}
			seen[string(r.Value)] = true
		})
	}
	if len(seen) != n {
		t.Fatalf("Kafka consumer read %d of %d", len(seen), n)
	}
	col := newCollector()
	pc := c.rmq().pushConsumer(t, "g-x-push")
	if err := pc.Subscribe(topic, consumer.MessageSelector{Type: consumer.TAG, Expression: "A"}, col.handler); err != nil {
		t.Fatal(err)
	}
	if err := pc.Start(); err != nil {
		t.Fatal(err)
	}
	defer pc.Shutdown()
	waitFor(t, 30*time.Second, func() bool { return col.n.Load() >= n })
	for i := 0; i < n; i++ {
		ms := col.msgs[fmt.Sprintf("v5-%d", i)]
		if len(ms) == 0 || ms[0].GetKeys() != fmt.Sprintf("key-%d", i) || ms[0].GetProperty("h") != fmt.Sprint(i) || ms[0].GetTags() != "A" {
			t.Fatalf("remoting consumer got %+v for message %d", ms, i)
		}
	}

	// Remoting and Kafka -> gRPC.
	in := "rmq5-x-in"
	c.createTopic(t, in, 2)
	rp := c.rmq().producer(t)
	sendN(t, rp, in, "B", 0, n)
	kp, err := kgo.NewClient(kgo.SeedBrokers(c.kafkaAddr), kgo.ProducerLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	defer kp.Close()
	for i := 0; i < n; i++ {
		rec := &kgo.Record{Topic: in, Key: []byte(fmt.Sprintf("kk-%d", i)), Value: []byte(fmt.Sprintf("kafka-%d", i)),
			Headers: []kgo.RecordHeader{{Key: "TAGS", Value: []byte("B")}, {Key: "kh", Value: []byte(fmt.Sprint(i))}}}
		if err := kp.ProduceSync(ctx, rec).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	sc := c.simpleConsumer(t, "g-x-in", in, "B", 2*time.Second)
	got := receive5(t, sc, 2*n, time.Minute, 30*time.Second)
	if len(got) != 2*n {
		t.Fatalf("SimpleConsumer received %d of %d", len(got), 2*n)
	}
	bodies := map[string]*rmq5.MessageView{}
	for _, mv := range got {
		bodies[string(mv.GetBody())] = mv
		if err := sc.Ack(ctx, mv); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < n; i++ {
		r := bodies[fmt.Sprintf("body-%d", i)]
		if r == nil || r.GetProperties()["p"] != fmt.Sprint(i) || len(r.GetKeys()) != 1 || r.GetKeys()[0] != fmt.Sprint("k", i) {
			t.Fatalf("remoting message %d as received: %+v", i, r)
		}
		k := bodies[fmt.Sprintf("kafka-%d", i)]
		if k == nil || k.GetProperties()["kh"] != fmt.Sprint(i) || len(k.GetKeys()) != 1 || k.GetKeys()[0] != fmt.Sprintf("kk-%d", i) ||
			k.GetTag() == nil || *k.GetTag() != "B" {
			t.Fatalf("Kafka record %d as received: %+v", i, k)
		}
	}
	if c.inFlight(t, "g-x-in", in, 2) != 0 {
		t.Fatal("records still locked after acking all")
	}
	_ = primitive.SendOK
}

// TestGRPCRestart: in-flight state survives a broker restart: a message
// acknowledged before it never comes back; one received and not
// acknowledged comes back once its invisible time has passed, with the
// next delivery attempt.
func TestGRPCRestart(t *testing.T) {
	c := startGRPCCluster(t, 0)
	topic, group := "rmq5-restart", "g-restart"
	c.createTopic(t, topic, 1)
	p := c.producer5(t, topic)
	a := send5(t, p, &rmq5.Message{Topic: topic, Body: []byte("acked")})
	b := send5(t, p, &rmq5.Message{Topic: topic, Body: []byte("held")})
	sc := c.simpleConsumer(t, group, topic, "*", 2*time.Second)
	received := time.Now() // before any lock was taken: each ends 3 s after this or later
	got := receive5(t, sc, 2, 3*time.Second, 30*time.Second)
	if len(got) != 2 {
		t.Fatalf("received %d", len(got))
	}
	for _, mv := range got {
		if mv.GetMessageId() == a.MessageID {
			if err := sc.Ack(context.Background(), mv); err != nil {
				t.Fatal(err)
			}
		}
	}
	_ = sc.GracefulStop()
	c.restart()
	if n := c.inFlight(t, group, topic, 1); n != 1 {
		t.Fatalf("%d records locked after the restart, want 1", n)
	}
	sc2 := c.simpleConsumer(t, group, topic, "*", 2*time.Second)
	back := receive5(t, sc2, 1, time.Minute, 30*time.Second)
	if len(back) != 1 || back[0].GetMessageId() != b.MessageID || back[0].GetDeliveryAttempt() != 2 {
		t.Fatalf("after the restart: %+v", back)
	}
	// The broker keeps lock deadlines in whole milliseconds (the POP
	// state's layout) and a parked receive wakes at the deadline, so the
	// message may come back up to a millisecond before 3 s after the
	// test's own clock reading: allow 5 ms.
	if since := time.Since(received); since < 3*time.Second-5*time.Millisecond {
		t.Fatalf("the held message came back %v after it was received, before its invisible time (3 s) ended", since)
	}
	if err := sc2.Ack(context.Background(), back[0]); err != nil {
		t.Fatal(err)
	}
	if more := receive5(t, sc2, 1, time.Minute, 3*time.Second); len(more) != 0 {
		t.Fatalf("after acking all: %+v", more)
	}
}
