package kafkaapi

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/broker/topics"
	"github.com/twinmq/twinmq/storage"
	"github.com/twinmq/twinmq/wire/kafka"
)

// BenchmarkOnFrameInlineLatency is one 1 KiB one-record Produce (acks=1)
// answered on the event loop through OnFrameInline, without and with the
// request latency histogram twinmq serve registers: the ratio of the two
// is the histogram's cost on the fastest request path there is.
//
//	go test ./broker/kafkaapi -run '^$' -bench OnFrameInlineLatency -benchmem -count 6
func BenchmarkOnFrameInlineLatency(b *testing.B) {
	for _, on := range []bool{false, true} {
		name := "histogram=off"
		if on {
			name = "histogram=on"
		}
		b.Run(name, func(b *testing.B) { benchOnFrameInline(b, on) })
	}
}

func benchOnFrameInline(b *testing.B, histogram bool) {
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
	var hv *prometheus.HistogramVec
	if histogram {
		hv = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "lat"}, []string{"api"})
		h.SetLatency(func(key int16) Observer { return hv.WithLabelValues(kmsg.NameForKey(key)) })
	}
	batch, err := kafka.AppendBatch(nil, kafka.BatchSpec{FirstTimestamp: time.Now().UnixMilli(), ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1},
		[]kafka.Record{{Value: make([]byte, 1024)}}, kafka.CodecNone)
	if err != nil {
		b.Fatal(err)
	}
	req := kmsg.NewPtrProduceRequest()
	req.Version, req.Acks, req.TimeoutMillis = 9, 1, 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = "p"
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = batch
	rt.Partitions = []kmsg.ProduceRequestTopicPartition{rp}
	req.Topics = []kmsg.ProduceRequestTopic{rt}
	frame := kmsg.NewRequestFormatter(kmsg.FormatterClientID("bench")).AppendRequest(nil, req, 1)[4:]
	var out []byte
	declined := 0
	b.ReportAllocs()
	b.SetBytes(1024)
	for b.Loop() {
		var ok bool
		if out, ok = h.OnFrameInline(nil, frame, out[:0]); !ok {
			declined++ // the dispatcher at work: OnFrame's path, not measured here
		}
	}
	b.ReportMetric(float64(declined)/float64(b.N), "declined/op")
	if histogram {
		var m dto.Metric
		if err := hv.WithLabelValues("Produce").(prometheus.Metric).Write(&m); err != nil {
			b.Fatal(err)
		}
		if got := m.GetHistogram().GetSampleCount(); got == 0 || int(got) > b.N {
			b.Fatalf("%d latencies observed for %d requests", got, b.N)
		}
	}
}

// BenchmarkObserve is what the histogram adds to one request: the clock
// reads and the Observer's add (compare with BenchmarkOnFrameInlineLatency).
func BenchmarkObserve(b *testing.B) {
	h := &Handler{served: make([]atomic.Int64, 1), apis: map[int16]api{produceKey: {}}}
	hv := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "lat"}, []string{"api"})
	h.SetLatency(func(key int16) Observer { return hv.WithLabelValues(kmsg.NameForKey(key)) })
	b.ReportAllocs()
	for b.Loop() {
		h.observe(produceKey, time.Now())
	}
}
