package compattests

import (
	"log"
	"os"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

func init() {
	// TWINMQ_TEST_DEBUG shows sarama's own log: its retries and
	// reconnections explain any record it stores twice.
	if os.Getenv("TWINMQ_TEST_DEBUG") != "" {
		sarama.Logger = log.New(os.Stderr, "[sarama] ", log.Lmicroseconds)
	}
}

func saramaConfig(version sarama.KafkaVersion, acks sarama.RequiredAcks, codec sarama.CompressionCodec) *sarama.Config {
	cfg := sarama.NewConfig()
	cfg.Version = version
	cfg.Producer.RequiredAcks = acks
	cfg.Producer.Compression = codec
	cfg.Producer.Return.Successes = true
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	cfg.Metadata.AllowAutoTopicCreation = false
	return cfg
}

func TestKafkaSaramaProduceConsume(t *testing.T) {
	b := startKafka(t, t.TempDir(), "127.0.0.1:0")
	codecs := map[string]sarama.CompressionCodec{"none": sarama.CompressionNone, "gzip": sarama.CompressionGZIP,
		"snappy": sarama.CompressionSnappy, "lz4": sarama.CompressionLZ4, "zstd": sarama.CompressionZSTD}
	versions := map[string]sarama.KafkaVersion{"default": sarama.NewConfig().Version, "newest": sarama.MaxVersion}
	acks := map[string]sarama.RequiredAcks{"all": sarama.WaitForAll, "one": sarama.WaitForLocal}
	for vname, version := range versions {
		for aname, ack := range acks {
			for cname, codec := range codecs {
				t.Run(vname+"/"+aname+"/"+cname, func(t *testing.T) {
					saramaRoundTrip(t, b.addr, saramaConfig(version, ack, codec), vname+aname+cname)
				})
			}
		}
	}
}

func saramaRoundTrip(t *testing.T, addr string, cfg *sarama.Config, tag string) {
	topic := kafkaTopicName(t, "sarama-"+tag)
	createTopic(t, addr, topic, 2, nil)
	prod := saramaProducer(t, addr, topic, cfg)
	defer prod.Close()
	want := wantRecords(100, 2, tag)
	msgs := make([]*sarama.ProducerMessage, len(want))
	for i, w := range want {
		msgs[i] = &sarama.ProducerMessage{Topic: topic, Partition: w.Partition, Key: sarama.StringEncoder(w.Key),
			Value: sarama.StringEncoder(w.Value), Timestamp: w.Timestamp,
			Headers: []sarama.RecordHeader{{Key: []byte("i"), Value: []byte(w.Header)}}}
	}
	if err := prod.SendMessages(msgs); err != nil {
		t.Fatalf("send: %v", err)
	}
	cons, err := sarama.NewConsumer([]string{addr}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	var got []gotRecord
	for p := range int32(2) {
		got = append(got, saramaConsume(t, cons, topic, p, sarama.OffsetOldest, 50)...)
	}
	checkRecords(t, want, got, true)
	// From the middle of partition 1.
	mid := saramaConsume(t, cons, topic, 1, 25, 25)
	if mid[0].Offset != 25 || mid[0].Value != want[51].Value {
		t.Fatalf("from the middle: %+v", mid[0])
	}
}

// saramaProducer returns a sync producer whose partition leader is
// connected before the first send. sarama opens a leader's connection in
// the background (Broker.Open), and a produce that wins the race against
// that open fails with ErrNotConnected; its error path closes the shared
// connection (brokerProducer.handleError), failing the other partition's
// request in flight after the broker stored it, and a non-idempotent
// sarama resends it: the record is stored twice. That is at-least-once
// delivery as a real Kafka gives it too (seen here 2 runs in ~70 under
// load, as a partition's first record again at offset 1; the broker stored
// exactly what it received), so the test takes the race out of the client.
func saramaProducer(t *testing.T, addr, topic string, cfg *sarama.Config) sarama.SyncProducer {
	t.Helper()
	client, err := sarama.NewClient([]string{addr}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	leader, err := client.Leader(topic, 0)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := leader.Connected(); !ok {
		t.Fatalf("connect to the leader: %v", err)
	}
	prod, err := sarama.NewSyncProducerFromClient(client)
	if err != nil {
		t.Fatal(err)
	}
	return prod
}

func saramaConsume(t *testing.T, cons sarama.Consumer, topic string, part int32, from int64, n int) []gotRecord {
	t.Helper()
	pc, err := cons.ConsumePartition(topic, part, from)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	var got []gotRecord
	timeout := time.After(20 * time.Second)
	for len(got) < n {
		select {
		case m := <-pc.Messages():
			g := gotRecord{Partition: m.Partition, Offset: m.Offset, Key: string(m.Key), Value: string(m.Value), Timestamp: m.Timestamp}
			for _, h := range m.Headers {
				if string(h.Key) == "i" {
					g.Header = string(h.Value)
				}
			}
			got = append(got, g)
		case err := <-pc.Errors():
			t.Fatalf("consume %s/%d: %v", topic, part, err)
		case <-timeout:
			t.Fatalf("consumed %d of %d", len(got), n)
		}
	}
	return got
}
