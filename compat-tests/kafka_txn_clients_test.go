package compattests

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// The transactional producers of sarama and confluent-kafka-go
// (librdkafka): a committed and an aborted transaction, then a second
// producer with the same transactional id fencing the first one's open
// transaction; each client's read_committed consumer sees exactly the
// committed records, its read_uncommitted one everything.

// wantCommitted and wantAll are the record counts by prefix that each
// scenario below leaves: "aborted" and "zombie" only read_uncommitted.
var (
	wantCommitted = map[string]int{"committed": 10, "new": 5}
	wantAll       = map[string]int{"aborted": 10, "committed": 10, "zombie": 5, "new": 5}
)

func saramaTxnConfig(id string) *sarama.Config {
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V3_0_0_0
	cfg.Producer.Idempotent = true
	cfg.Producer.Transaction.ID = id
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Return.Successes = true
	cfg.Net.MaxOpenRequests = 1
	cfg.Metadata.AllowAutoTopicCreation = false
	return cfg
}

func TestKafkaTxnSarama(t *testing.T) {
	b := startTxnBroker(t, t.TempDir(), nil)
	createTopic(t, b.addr, "stx", 2, nil)
	newProducer := func() sarama.SyncProducer {
		p, err := sarama.NewSyncProducer([]string{b.addr}, saramaTxnConfig("s1"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Close() })
		return p
	}
	send := func(p sarama.SyncProducer, prefix string, n int) {
		t.Helper()
		for i := range n {
			if _, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: "stx", Key: sarama.StringEncoder(fmt.Sprint("k", i)),
				Value: sarama.StringEncoder(fmt.Sprintf("%s-%d", prefix, i))}); err != nil {
				t.Fatalf("send %s: %v", prefix, err)
			}
		}
	}
	step := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	p1 := newProducer()
	step(p1.BeginTxn())
	send(p1, "aborted", 10)
	step(p1.AbortTxn())
	step(p1.BeginTxn())
	send(p1, "committed", 10)
	step(p1.CommitTxn())
	step(p1.BeginTxn())
	send(p1, "zombie", 5)

	p2 := newProducer() // InitProducerId fences p1
	step(p2.BeginTxn())
	send(p2, "new", 5)
	step(p2.CommitTxn())
	if err := p1.CommitTxn(); err == nil {
		t.Fatal("the fenced producer committed")
	}
	produceSentinels(t, b.addr, "stx", 2)
	for iso, want := range map[sarama.IsolationLevel]map[string]int{sarama.ReadCommitted: wantCommitted, sarama.ReadUncommitted: wantAll} {
		if got := countPrefixes(saramaToSentinels(t, b.addr, "stx", 2, iso)); !mapsEqual(got, want) {
			t.Fatalf("sarama isolation %d: %v, want %v", iso, got, want)
		}
	}
}

// saramaToSentinels reads every partition from the start with a sarama
// consumer until its sentinel.
func saramaToSentinels(t *testing.T, addr, topic string, partitions int32, iso sarama.IsolationLevel) []string {
	t.Helper()
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V3_0_0_0
	cfg.Consumer.IsolationLevel = iso
	cons, err := sarama.NewConsumer([]string{addr}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	var values []string
	for p := range partitions {
		pc, err := cons.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err != nil {
			t.Fatal(err)
		}
		timeout := time.After(60 * time.Second)
	read:
		for {
			select {
			case m := <-pc.Messages():
				if string(m.Value) == endSentinel {
					break read
				}
				values = append(values, string(m.Value))
			case err := <-pc.Errors():
				t.Fatalf("sarama consume: %v", err)
			case <-timeout:
				t.Fatalf("sarama: no sentinel on %s/%d after %d records", topic, p, len(values))
			}
		}
		_ = pc.Close()
	}
	return values
}

func TestKafkaTxnConfluent(t *testing.T) {
	b := startTxnBroker(t, t.TempDir(), nil)
	createTopic(t, b.addr, "ctx", 2, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	topic := "ctx"
	newProducer := func() *kafka.Producer {
		p, err := kafka.NewProducer(&kafka.ConfigMap{"bootstrap.servers": b.addr, "transactional.id": "c1",
			"linger.ms": 5, "log_level": 3})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Close)
		if err := p.InitTransactions(ctx); err != nil {
			t.Fatal(err)
		}
		return p
	}
	send := func(p *kafka.Producer, prefix string, n int) {
		t.Helper()
		reports := make(chan kafka.Event, n)
		for i := range n {
			if err := p.Produce(&kafka.Message{TopicPartition: kafka.TopicPartition{Topic: &topic, Partition: kafka.PartitionAny},
				Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "%s-%d", prefix, i)}, reports); err != nil {
				t.Fatal(err)
			}
		}
		for range n {
			select {
			case e := <-reports:
				if m, ok := e.(*kafka.Message); ok && m.TopicPartition.Error != nil {
					t.Fatalf("delivery of %s: %v", prefix, m.TopicPartition.Error)
				}
			case <-ctx.Done():
				t.Fatalf("no delivery report for %s", prefix)
			}
		}
	}
	step := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	p1 := newProducer()
	step(p1.BeginTransaction())
	send(p1, "aborted", 10)
	step(p1.AbortTransaction(ctx))
	step(p1.BeginTransaction())
	send(p1, "committed", 10)
	step(p1.CommitTransaction(ctx))
	step(p1.BeginTransaction())
	send(p1, "zombie", 5)

	p2 := newProducer() // fences p1
	step(p2.BeginTransaction())
	send(p2, "new", 5)
	step(p2.CommitTransaction(ctx))
	if err := p1.CommitTransaction(ctx); err == nil {
		t.Fatal("the fenced producer committed")
	}
	produceSentinels(t, b.addr, topic, 2)
	for iso, want := range map[string]map[string]int{"read_committed": wantCommitted, "read_uncommitted": wantAll} {
		if got := countPrefixes(confluentToSentinels(t, b.addr, topic, 2, iso)); !mapsEqual(got, want) {
			t.Fatalf("librdkafka %s: %v, want %v", iso, got, want)
		}
	}
}

// confluentToSentinels reads every partition from the start with a
// librdkafka consumer until each partition's sentinel.
func confluentToSentinels(t *testing.T, addr, topic string, partitions int32, iso string) []string {
	t.Helper()
	c, err := kafka.NewConsumer(&kafka.ConfigMap{"bootstrap.servers": addr, "group.id": "unused-" + iso,
		"enable.auto.commit": false, "isolation.level": iso, "log_level": 3})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var parts []kafka.TopicPartition
	for p := range partitions {
		parts = append(parts, kafka.TopicPartition{Topic: &topic, Partition: p, Offset: kafka.OffsetBeginning})
	}
	if err := c.Assign(parts); err != nil {
		t.Fatal(err)
	}
	var values []string
	ended := map[int32]bool{}
	deadline := time.Now().Add(60 * time.Second)
	for len(ended) < int(partitions) {
		if time.Now().After(deadline) {
			t.Fatalf("librdkafka: sentinels of %d partitions after %d records", len(ended), len(values))
		}
		m, err := c.ReadMessage(time.Second)
		if err != nil {
			if kerr, ok := err.(kafka.Error); ok && kerr.IsTimeout() {
				continue
			}
			t.Fatalf("read: %v", err)
		}
		if string(m.Value) == endSentinel {
			ended[m.TopicPartition.Partition] = true
			continue
		}
		values = append(values, string(m.Value))
	}
	return values
}
