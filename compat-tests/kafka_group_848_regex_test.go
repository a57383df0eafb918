package compattests

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestKafkaGroup848Regex: a franz-go KIP-848 member subscribing by regular
// expression gets from the broker every topic the expression matches in
// full, as Kafka's coordinator resolves them, the internal
// __consumer_offsets included when named, and reads every record of the
// matching topics; a topic it only matches partly is not assigned; a
// topic created after the member joined is picked up. The assignment is
// read with ConsumerGroupDescribe.
func TestKafkaGroup848Regex(t *testing.T) {
	b := startGroupBroker(t, t.TempDir(), nil)
	pfx := kafkaTopicName(t, "rx") + "-"
	orders, ordersV2, other := pfx+"orders", pfx+"orders-v2", "x"+pfx+"orders"
	for _, topic := range []string{orders, ordersV2, other} {
		createTopic(t, b.addr, topic, 2, nil)
	}
	prod := kgoClient(t, b.addr)
	for _, topic := range []string{orders, ordersV2, other} {
		if err := prod.ProduceSync(context.Background(), &kgo.Record{Topic: topic, Value: []byte(topic)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	group := "g-" + pfx + "rx"
	cl := kgoClient(t, b.addr, kgo.ConsumerGroup(group), kgo.ServerSideBalancer(), kgo.ConsumeRegex(),
		kgo.ConsumeTopics("^"+regexp.QuoteMeta(pfx)+"orders.*", regexp.QuoteMeta("__consumer_offsets")),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.MetadataMinAge(100*time.Millisecond),
		kgo.FetchMaxWait(250*time.Millisecond))
	defer cl.Close()

	seen := map[string]int{}
	poll := func(want map[string]bool) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for ctx.Err() == nil && !func() bool {
			for topic := range want {
				if seen[topic] == 0 {
					return false
				}
			}
			return true
		}() {
			fs := cl.PollFetches(ctx)
			fs.EachError(func(topic string, p int32, err error) {
				if ctx.Err() == nil {
					t.Errorf("fetch %s/%d: %v", topic, p, err)
				}
			})
			fs.EachRecord(func(r *kgo.Record) { seen[r.Topic]++ })
		}
		for topic := range want {
			if seen[topic] != 1 {
				t.Fatalf("%s: %d records, want 1 (seen %v)", topic, seen[topic], seen)
			}
		}
	}
	poll(map[string]bool{orders: true, ordersV2: true})

	assigned := func() []string {
		req := kmsg.NewPtrConsumerGroupDescribeRequest()
		req.Groups = []string{group}
		resp, err := req.RequestWith(context.Background(), prod)
		if err != nil || len(resp.Groups) != 1 {
			t.Fatalf("describe: %v", err)
		}
		var names []string
		for _, m := range resp.Groups[0].Members {
			for _, tp := range m.Assignment.TopicPartitions {
				names = append(names, fmt.Sprintf("%s/%d", tp.Topic, len(tp.Partitions)))
			}
		}
		slices.Sort(names)
		return names
	}
	want := []string{orders + "/2", ordersV2 + "/2", "__consumer_offsets/1"}
	slices.Sort(want)
	groupWaitFor(t, "the regex resolved", 15*time.Second, func() bool { return slices.Equal(assigned(), want) })

	// A topic created later that the expression matches is assigned too.
	later := pfx + "orders-later"
	createTopic(t, b.addr, later, 1, nil)
	if err := prod.ProduceSync(context.Background(), &kgo.Record{Topic: later, Value: []byte(later)}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	poll(map[string]bool{later: true})
	if seen[other] != 0 {
		t.Fatalf("consumed %d records of %s, which the expression does not match in full", seen[other], other)
	}
}
