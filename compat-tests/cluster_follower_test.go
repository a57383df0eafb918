package compattests

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestClusterFollowerFetch: Kafka follower fetch (KIP-392) from a slave.
// A SYNC_MASTER in rack "ra" and its slave in rack "rb", as processes.
// Metadata lists the slave's Kafka listener with its rack; franz-go and
// librdkafka consumers with client.rack "rb" read every record once, in
// order per key, with keys and headers, and the slave serves their
// fetches; a consumer in rack "ra" and a read_committed one in rack "rb"
// are served by the master alone. A client that knows only the slave's
// address produces and consumes through it (the slave forwards what it
// does not serve to its master).
func TestClusterFollowerFetch(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	startGroupWith(t, "SYNC_MASTER", []string{"--broker-rack", "ra"}, []string{"--broker-rack", "rb"})
	const master, slave, slaveHTTP = "127.0.2.11:9092", "127.0.2.12:9092", "127.0.2.12:8080"
	const topic, records = "ClusterFollowerTopic", 400
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	kc, err := kgo.NewClient(kgo.SeedBrokers(master), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	adm := kadm.NewClient(kc)
	waitFor(t, 30*time.Second, func() bool { // the slave's listener registered, in the master's Metadata
		c, err := kgo.NewClient(kgo.SeedBrokers(master)) // a new client: kgo caches the broker list
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		m, err := kadm.NewClient(c).BrokerMetadata(ctx)
		if err != nil || len(m.Brokers) != 2 {
			return false
		}
		for _, b := range m.Brokers {
			if b.Host == "127.0.2.12" && b.Rack != nil && *b.Rack == "rb" {
				return true
			}
		}
		return false
	})
	if _, err := adm.CreateTopic(ctx, 4, -1, nil, topic); err != nil {
		t.Fatal(err)
	}
	for i := range records {
		r := &kgo.Record{Topic: topic, Key: []byte(fmt.Sprint("k", i%10)), Value: []byte(strconv.Itoa(i)),
			Headers: []kgo.RecordHeader{{Key: "h", Value: []byte(fmt.Sprint("v", i))}}}
		if err := kc.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("produce %d: %v", i, err)
		}
	}

	served := func() int {
		v, ok := metric(slaveHTTP, "twinmq_kafka_follower_fetch_requests_total")
		if !ok {
			return -1
		}
		n, _ := strconv.ParseFloat(v, 64)
		return int(n)
	}
	// check reads records from a consumer and checks them: every one
	// once, in order per key, with its key and header.
	check := func(name string, poll func() (key, value, header string, ok bool)) {
		t.Helper()
		seen, last := map[int]bool{}, map[string]int{}
		for len(seen) < records {
			if ctx.Err() != nil {
				t.Fatalf("%s: read %d of %d records", name, len(seen), records)
			}
			k, v, h, ok := poll()
			if !ok {
				continue
			}
			i, err := strconv.Atoi(v)
			if err != nil || seen[i] || k != fmt.Sprint("k", i%10) || h != fmt.Sprint("v", i) {
				t.Fatalf("%s: record %q key %q header %q (seen before: %v)", name, v, k, h, seen[i])
			}
			if prev, ok := last[k]; ok && prev > i {
				t.Fatalf("%s: key %s: %d after %d", name, k, i, prev)
			}
			seen[i], last[k] = true, i
		}
	}
	kgoConsume := func(name, rack string, opts ...kgo.Opt) {
		t.Helper()
		c, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(master), kgo.ConsumeTopics(topic), kgo.ConsumerGroup("g-" + name),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.Rack(rack)}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		var buf []*kgo.Record
		check(name, func() (string, string, string, bool) {
			if len(buf) == 0 {
				buf = c.PollFetches(ctx).Records()
				if len(buf) == 0 {
					return "", "", "", false
				}
			}
			r := buf[0]
			buf = buf[1:]
			h := ""
			if len(r.Headers) == 1 {
				h = string(r.Headers[0].Value)
			}
			return string(r.Key), string(r.Value), h, true
		})
		if err := c.CommitUncommittedOffsets(ctx); err != nil {
			t.Fatalf("%s: commit: %v", name, err)
		}
	}

	before := served()
	kgoConsume("same-rack-as-master", "ra")
	if got := served(); got != before {
		t.Errorf("a consumer in the master's rack was served by the slave: %d fetches", got-before)
	}
	before = served()
	kgoConsume("committed", "rb", kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if got := served(); got != before {
		t.Errorf("a read_committed consumer was served by the slave: %d fetches", got-before)
	}
	before = served()
	kgoConsume("franz-go", "rb")
	if got := served(); got <= before {
		t.Errorf("franz-go with client.rack rb: the slave served %d fetches", got-before)
	}
	t.Logf("franz-go in rack rb: the slave served %d fetches", served()-before)

	before = served()
	rc, err := ckafka.NewConsumer(&ckafka.ConfigMap{"bootstrap.servers": master, "group.id": "g-librdkafka",
		"auto.offset.reset": "earliest", "client.rack": "rb", "enable.auto.commit": false,
		// librdkafka reads read_committed by default, which the master
		// serves itself (docs/cluster.md).
		"isolation.level": "read_uncommitted"})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if err := rc.Subscribe(topic, nil); err != nil {
		t.Fatal(err)
	}
	check("librdkafka", func() (string, string, string, bool) {
		m, err := rc.ReadMessage(time.Second)
		if err != nil {
			return "", "", "", false
		}
		h := ""
		if len(m.Headers) == 1 {
			h = string(m.Headers[0].Value)
		}
		return string(m.Key), string(m.Value), h, true
	})
	if got := served(); got <= before {
		t.Errorf("librdkafka with client.rack rb: the slave served %d fetches", got-before)
	}
	t.Logf("librdkafka in rack rb: the slave served %d fetches", served()-before)

	// A client that knows only the slave: its Metadata, produces and
	// group requests are forwarded to the master.
	sc, err := kgo.NewClient(kgo.SeedBrokers(slave), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(0),
		kgo.ConsumeTopics(topic), kgo.ConsumerGroup("g-via-slave"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	if err := sc.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: []byte("k0"), Value: []byte("via-slave")}).FirstErr(); err != nil {
		t.Fatalf("produce through the slave's listener: %v", err)
	}
	n := 0
	for n < records+1 && ctx.Err() == nil {
		n += len(sc.PollFetches(ctx).Records())
	}
	if n != records+1 {
		t.Fatalf("through the slave's listener: consumed %d records, want %d", n, records+1)
	}
}
