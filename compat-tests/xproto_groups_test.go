package compattests

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/twinmq/twinmq/wire/remoting"
)

// xProduceMixed writes n messages value-<from+i> to two partitions, the
// even ones from franz-go, the odd ones from rocketmq-client-go, so every
// queue holds entries of both protocols.
func xProduceMixed(t *testing.T, b *xBroker, topic string, from, n int) {
	t.Helper()
	cl := kgoClient(t, b.kafkaAddr)
	p := b.rmq.producer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := from; i < from+n; i++ {
		v := fmt.Sprint("value-", i)
		if i%2 == 0 {
			if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: int32(i/2) % 2, Value: []byte(v)}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		} else if r, err := p.SendSync(ctx, primitive.NewMessage(topic, []byte(v))); err != nil || r.Status != primitive.SendOK {
			t.Fatalf("send %d: %v %v", i, r, err)
		}
	}
}

// kgoGroupRead consumes with a franz-go group member, committing what it
// polled, until n values arrived; it then leaves the group.
func kgoGroupRead(t *testing.T, b *xBroker, topic, group string, n int, seen map[string]int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.kafkaAddr), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), xWait)
	defer cancel()
	got := 0
	for got < n {
		fs := cl.PollRecords(ctx, n-got) // what is polled is what gets committed
		if ctx.Err() != nil {
			t.Fatalf("franz-go got %d of %d", got, n)
		}
		fs.EachRecord(func(r *kgo.Record) { seen[string(r.Value)]++; got++ })
		if err := cl.CommitUncommittedOffsets(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// TestXProtoGroupMigration moves one consumer group from franz-go to
// rocketmq-client-go (push, clustering) and back, mid-stream, over a
// topic holding both protocols' entries: every message is consumed once
// in all, nothing lost or repeated past the commits; both protocols'
// offset views agree at each hand-over.
func TestXProtoGroupMigration(t *testing.T) {
	b := startXBroker(t)
	topic := kafkaTopicName(t, "migrate")
	group := uniqueGroup(t, "xg_migrate")
	b.createXTopic(t, topic, 2)
	seen := map[string]int{}

	xProduceMixed(t, b, topic, 0, 20)
	kgoGroupRead(t, b, topic, group, 8, seen) // stops somewhere mid-stream
	afterKafka := len(seen)
	if afterKafka != 8 {
		t.Fatalf("franz-go consumed %d values, want 8", afterKafka)
	}
	xCheckOffsetsAgree(t, b, topic, group)

	xProduceMixed(t, b, topic, 20, 10)
	col := newCollector()
	pc := b.rmq.pushConsumer(t, group)
	if err := pc.Subscribe(topic, consumer.MessageSelector{}, col.handler); err != nil {
		t.Fatal(err)
	}
	if err := pc.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, xWait, func() bool { return int(col.n.Load()) >= 30-afterKafka })
	if err := pc.Shutdown(); err != nil { // persists the consumed offsets
		t.Fatal(err)
	}
	col.mu.Lock()
	for v, ms := range col.msgs {
		seen[v] += len(ms)
	}
	col.mu.Unlock()
	xCheckOffsetsAgree(t, b, topic, group)

	xProduceMixed(t, b, topic, 30, 6)
	kgoGroupRead(t, b, topic, group, 6, seen)
	for i := range 36 {
		if n := seen[fmt.Sprint("value-", i)]; n != 1 {
			t.Errorf("value-%d consumed %d times", i, n)
		}
	}
	if len(seen) != 36 {
		t.Errorf("%d distinct values, want 36", len(seen))
	}
}

// xCheckOffsetsAgree asserts that kadm's committed offsets of the group
// and RocketMQ's QUERY_CONSUMER_OFFSET (14) are the same numbers.
// rocketmq-client-go persists offsets with a oneway
// UPDATE_CONSUMER_OFFSET (no reply, even at Shutdown), so the last
// update may still be in flight: the views are compared until they
// agree, for up to 10 s, and the last disagreement fails the test.
func xCheckOffsetsAgree(t *testing.T, b *xBroker, topic, group string) {
	t.Helper()
	adm := kadm.NewClient(kgoClient(t, b.kafkaAddr))
	var problems []string
	for deadline := time.Now().Add(10 * time.Second); ; {
		problems = xOffsetViews(t, adm, b, topic, group)
		if len(problems) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, p := range problems {
		t.Error(p)
	}
}

// xOffsetViews compares both protocols' views of the group's offsets
// once and describes each disagreement.
func xOffsetViews(t *testing.T, adm *kadm.Client, b *xBroker, topic, group string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	offs, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	var problems []string
	for q := range int32(2) {
		k, ok := offs.Lookup(topic, q)
		r := brokerCall(t, b.rmq, remoting.QueryConsumerOffset, map[string]string{"consumerGroup": group, "topic": topic,
			"queueId": strconv.Itoa(int(q))}, nil)
		rq, _ := strconv.ParseInt(r.ExtFields["offset"], 10, 64)
		if !ok {
			// No commit yet: RocketMQ answers "not found", or 0 for a
			// queue that starts at 0 (Java's rule), where Kafka's
			// reset policy starts too.
			if r.Code == remoting.Success && rq != 0 {
				problems = append(problems, fmt.Sprintf("queue %d: no Kafka commit, RocketMQ offset %d", q, rq))
			}
			continue
		}
		if r.Code != remoting.Success || k.At != rq {
			problems = append(problems, fmt.Sprintf("queue %d: kadm %+v (found %v), RocketMQ code %d offset %d", q, k.At, ok, r.Code, rq))
		}
	}
	return problems
}
