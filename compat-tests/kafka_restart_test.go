package compattests

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/wire/kafka"
)

// rawProduce sends one idempotent batch of two records with kmsg.
func rawProduce(t *testing.T, cl *kgo.Client, topic string, pid int64, epoch int16, seq int32) kmsg.ProduceResponseTopicPartition {
	t.Helper()
	batch, err := kafka.AppendBatch(nil, kafka.BatchSpec{FirstTimestamp: time.Now().UnixMilli(), ProducerID: pid,
		ProducerEpoch: epoch, BaseSequence: seq}, []kafka.Record{{Value: []byte("a")}, {Value: []byte("b")}}, kafka.CodecNone)
	if err != nil {
		t.Fatal(err)
	}
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = -1, 10_000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rt.TopicID = topicID(t, cl, topic) // Produce v13 names topics by id
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	return resp.Topics[0].Partitions[0]
}

func topicID(t *testing.T, cl *kgo.Client, topic string) [16]byte {
	t.Helper()
	td, err := kadm.NewClient(cl).ListTopics(context.Background(), topic)
	if err != nil || td[topic].Err != nil {
		t.Fatalf("metadata: %v %v", err, td[topic].Err)
	}
	return td[topic].ID
}

func endOffset(t *testing.T, cl *kgo.Client, topic string) int64 {
	t.Helper()
	ends, err := kadm.NewClient(cl).ListEndOffsets(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	lo, _ := ends.Lookup(topic, 0)
	return lo.Offset
}

// TestKafkaRestartKeepsDataAndProducerState restarts the broker between
// produces: the data stays, the same kgo client goes on producing without
// duplicates, and a batch retried after the restart is answered with its
// first offsets instead of being stored twice.
func TestKafkaRestartKeepsDataAndProducerState(t *testing.T) {
	b := startKafkaBehind(t, t.TempDir(), "127.0.0.1:0", newKafkaProxy(t))
	topic := kafkaTopicName(t, "restart")
	createTopic(t, b.addr, topic, 1, nil)
	cl := kgoClient(t, b.addr, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	first := produceKgo(t, cl, topic, 1, 100, "before")

	raw := kgoClient(t, b.addr)
	ipid, err := kmsg.NewPtrInitProducerIDRequest().RequestWith(context.Background(), raw)
	if err != nil || ipid.ErrorCode != 0 {
		t.Fatalf("init producer id: %v %+v", err, ipid)
	}
	p0 := rawProduce(t, raw, topic, ipid.ProducerID, ipid.ProducerEpoch, 0)
	if p0.ErrorCode != 0 || p0.BaseOffset != 100 {
		t.Fatalf("first raw batch: %+v", p0)
	}

	b = b.restart()

	if again := rawProduce(t, raw, topic, ipid.ProducerID, ipid.ProducerEpoch, 0); again.ErrorCode != 0 || again.BaseOffset != 100 {
		t.Fatalf("retried batch after restart: %+v, want offset 100 again", again)
	}
	if end := endOffset(t, raw, topic); end != 102 {
		t.Fatalf("end offset %d after the retry, want 102 (no duplicate)", end)
	}
	if gap := rawProduce(t, raw, topic, ipid.ProducerID, ipid.ProducerEpoch, 5); gap.ErrorCode != 45 {
		t.Fatalf("sequence gap: error %d, want OUT_OF_ORDER_SEQUENCE_NUMBER (45)", gap.ErrorCode)
	}
	if next := rawProduce(t, raw, topic, ipid.ProducerID, ipid.ProducerEpoch, 2); next.ErrorCode != 0 || next.BaseOffset != 102 {
		t.Fatalf("next batch: %+v", next)
	}
	if bump := rawProduce(t, raw, topic, ipid.ProducerID, ipid.ProducerEpoch+1, 0); bump.ErrorCode != 0 || bump.BaseOffset != 104 {
		t.Fatalf("epoch bump with sequence 0: %+v", bump)
	}
	if fenced := rawProduce(t, raw, topic, ipid.ProducerID, ipid.ProducerEpoch, 4); fenced.ErrorCode != 47 {
		t.Fatalf("old epoch: error %d, want INVALID_PRODUCER_EPOCH (47)", fenced.ErrorCode)
	}

	// The kgo client from before the restart carries on.
	second := produceKgo(t, cl, topic, 1, 100, "after")
	got := consumeAllKgo(t, b.addr, topic, 1, 206)
	var kgoGot []gotRecord
	for _, g := range got {
		if g.Key != "" {
			kgoGot = append(kgoGot, g)
		}
	}
	if got[100].Value != "a" || got[101].Value != "b" || got[102].Value != "a" {
		t.Fatalf("raw batches at 100..: %+v %+v %+v", got[100], got[101], got[102])
	}
	// Offsets are dense; the kgo records are in order with their keys.
	want := append(first, second...)
	if len(kgoGot) != len(want) {
		t.Fatalf("%d kgo records, want %d", len(kgoGot), len(want))
	}
	for i := range want {
		if kgoGot[i].Value != want[i].Value || kgoGot[i].Key != want[i].Key || kgoGot[i].Header != want[i].Header {
			t.Fatalf("record %d: %+v, want %+v", i, kgoGot[i], want[i])
		}
	}
}
