package kafkaapi

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/broker/topics"
	"github.com/twinmq/twinmq/storage"
	"github.com/twinmq/twinmq/wire/kafka"
)

// BenchmarkProduceInline is the broker's side of one idempotent
// one-record Produce answered on the event loop (acks=all, ASYNC_FLUSH),
// franz-go's ProduceSync of a 1 KiB value: decode aside, validation, the
// idempotence check-and-append, the append and its dispatch, and the
// response. A produce not answered inline takes the worker's append path
// (fallbacks/op counts them).
//
//	go test ./broker/kafkaapi -run '^$' -bench ProduceInline -benchmem
func BenchmarkProduceInline(b *testing.B) {
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	store, err := storage.Open(ctx, storage.Config{Dir: b.TempDir(), SegmentSize: 256 << 20, Logger: log})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	reg, err := topics.Open(ctx, store, log)
	if err != nil {
		b.Fatal(err)
	}
	defer reg.Close()
	h, err := New(Config{NodeID: 1, ClusterID: "bench", Logger: log}, store, reg)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := reg.Create(ctx, topics.Config{Name: "p", Queues: 1}); err != nil {
		b.Fatal(err)
	}
	value := make([]byte, 1024)
	pid := h.producers.Allocate()
	seq := int32(0)
	req := kmsg.NewPtrProduceRequest()
	req.Version, req.Acks, req.TimeoutMillis = 9, -1, 5000
	fallbacks := 0
	b.ReportAllocs()
	b.SetBytes(int64(len(value)))
	for b.Loop() {
		spec := kafka.BatchSpec{FirstTimestamp: time.Now().UnixMilli(), ProducerID: pid, ProducerEpoch: 0, BaseSequence: seq}
		batch, err := kafka.AppendBatch(nil, spec, []kafka.Record{{Value: value}}, kafka.CodecNone)
		if err != nil {
			b.Fatal(err)
		}
		seq++
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = "p"
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Records = batch
		rt.Partitions = []kmsg.ProduceRequestTopicPartition{rp}
		req.Topics = []kmsg.ProduceRequestTopic{rt}
		resp, ok := h.produceInline(req)
		if !ok {
			// The first produce loads the partition's producer state, and
			// one that meets the dispatcher at work declines: both take
			// the worker's path, as OnFrame would.
			fallbacks++
			res := h.appendIdempotent(mustTopic(b, reg, "p"), 0, mustHeader(b, batch), func() appendResult {
				e, _, _, _ := h.buildEntry(mustTopic(b, reg, "p"), 0, batch, nil)
				return h.appendPlain(ctx, e)
			})
			if res.code != errNone {
				b.Fatalf("produce %d: error %d", seq, res.code)
			}
			continue
		}
		if c := resp.Topics[0].Partitions[0].ErrorCode; c != 0 {
			b.Fatalf("produce %d: error %d", seq, c)
		}
	}
	b.ReportMetric(float64(fallbacks)/float64(b.N), "fallbacks/op")
}

func mustTopic(b *testing.B, reg *topics.Registry, name string) topics.Config {
	c, ok := reg.Get(name)
	if !ok {
		b.Fatalf("no topic %s", name)
	}
	return c
}

func mustHeader(b *testing.B, batch []byte) *kafka.BatchHeader {
	h, err := kafka.ParseBatchHeader(batch)
	if err != nil {
		b.Fatal(err)
	}
	return &h
}
