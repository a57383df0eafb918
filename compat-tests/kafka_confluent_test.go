package compattests

import (
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// TestKafkaConfluentProduceConsume runs librdkafka (bundled by
// confluent-kafka-go) with every codec, idempotence on and off, and reads
// back with an assigned (group-less) consumer from the start and the middle.
func TestKafkaConfluentProduceConsume(t *testing.T) {
	b := startKafka(t, t.TempDir(), "127.0.0.1:0")
	for _, codec := range []string{"none", "gzip", "snappy", "lz4", "zstd"} {
		for _, idem := range []bool{false, true} {
			name := codec
			if idem {
				name += "/idempotent"
			}
			t.Run(name, func(t *testing.T) {
				topic := kafkaTopicName(t, "rdkafka-"+codec)
				createTopic(t, b.addr, topic, 2, nil)
				want := wantRecords(100, 2, codec)
				confluentProduce(t, b.addr, topic, codec, idem, want)
				got := confluentConsume(t, b.addr, topic, map[int32]int64{0: 0, 1: 0}, 100)
				checkRecords(t, want, got, true)
				mid := confluentConsume(t, b.addr, topic, map[int32]int64{1: 25}, 25)
				if mid[0].Offset != 25 || mid[0].Value != want[51].Value {
					t.Fatalf("from the middle: %+v", mid[0])
				}
			})
		}
	}
}

func confluentProduce(t *testing.T, addr, topic, codec string, idem bool, want []kafkaRecord) {
	t.Helper()
	p, err := kafka.NewProducer(&kafka.ConfigMap{"bootstrap.servers": addr, "compression.codec": codec,
		"enable.idempotence": idem, "linger.ms": 5, "log_level": 3})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for _, w := range want {
		err := p.Produce(&kafka.Message{
			TopicPartition: kafka.TopicPartition{Topic: &topic, Partition: w.Partition},
			Key:            []byte(w.Key), Value: []byte(w.Value), Timestamp: w.Timestamp,
			Headers: []kafka.Header{{Key: "i", Value: []byte(w.Header)}},
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
	}
	for range want {
		select {
		case e := <-p.Events():
			if m, ok := e.(*kafka.Message); ok && m.TopicPartition.Error != nil {
				t.Fatalf("delivery: %v", m.TopicPartition.Error)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("no delivery report")
		}
	}
}

func confluentConsume(t *testing.T, addr, topic string, from map[int32]int64, n int) []gotRecord {
	t.Helper()
	c, err := kafka.NewConsumer(&kafka.ConfigMap{"bootstrap.servers": addr, "group.id": "unused",
		"enable.auto.commit": false, "log_level": 3})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var parts []kafka.TopicPartition
	for p, off := range from {
		parts = append(parts, kafka.TopicPartition{Topic: &topic, Partition: p, Offset: kafka.Offset(off)})
	}
	if err := c.Assign(parts); err != nil {
		t.Fatal(err)
	}
	var got []gotRecord
	deadline := time.Now().Add(20 * time.Second)
	for len(got) < n && time.Now().Before(deadline) {
		m, err := c.ReadMessage(time.Second)
		if err != nil {
			if kerr, ok := err.(kafka.Error); ok && kerr.IsTimeout() {
				continue
			}
			t.Fatalf("read: %v", err)
		}
		g := gotRecord{Partition: m.TopicPartition.Partition, Offset: int64(m.TopicPartition.Offset),
			Key: string(m.Key), Value: string(m.Value), Timestamp: m.Timestamp}
		for _, h := range m.Headers {
			if h.Key == "i" {
				g.Header = string(h.Value)
			}
		}
		got = append(got, g)
	}
	if len(got) < n {
		t.Fatalf("read %d of %d", len(got), n)
	}
	// Per partition order is what librdkafka guarantees; sort by partition
	// (stable) so checkRecords sees each partition's records in order.
	sorted := make([]gotRecord, 0, len(got))
	for p := range int32(len(from) + 2) {
		for _, g := range got {
			if g.Partition == p {
				sorted = append(sorted, g)
			}
		}
	}
	return sorted
}
