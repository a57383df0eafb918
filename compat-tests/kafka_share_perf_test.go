package compattests

import (
	"context"
	"crypto/rand"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestKafkaShareRatio is issue 18's share-group figure, measured in one
// run on one broker: N records of 1 KiB are consumed to the end by a
// classic consumer group of 4 franz-go consumers on a topic of 4
// partitions, and by 4 franz-go share consumers (each record accepted)
// on a topic of 1 partition. It reports both rates and their ratio
// (target >= 0.5).
//
// A measurement, not a check (timings are never asserted); it runs only
// when asked:
//
//	TWINMQ_SHARE_PERF=1 go test ./compat-tests -run KafkaShareRatio -v
func TestKafkaShareRatio(t *testing.T) {
	if os.Getenv("TWINMQ_SHARE_PERF") == "" {
		t.Skip("a throughput measurement; set TWINMQ_SHARE_PERF=1 to run it")
	}
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("TWINMQ_SHARE_PERF_N")); err == nil && v > 0 {
		n = v
	}
	c := startGRPCCluster(t, 0)
	c.createTopic(t, "perf-4p", 4)
	c.createTopic(t, "perf-1p", 1)
	body := make([]byte, 1<<10)
	_, _ = rand.Read(body)
	p := kgoClient(t, c.kafkaAddr, kgo.ProducerLinger(5*time.Millisecond))
	for _, topic := range []string{"perf-4p", "perf-1p"} {
		for sent := 0; sent < n; {
			k := min(1000, n-sent)
			recs := make([]*kgo.Record, k)
			for i := range recs {
				recs[i] = &kgo.Record{Topic: topic, Value: body}
			}
			if err := p.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
				t.Fatal(err)
			}
			sent += k
		}
	}
	admin := kgoClient(t, c.kafkaAddr)
	setShareConfigs(t, admin, "perf-share", "share.auto.offset.reset", "earliest")

	consume := func(opts ...kgo.Opt) time.Duration {
		var got atomic.Int64
		start := time.Now()
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cl := kgoClient(t, c.kafkaAddr, opts...)
				defer cl.Close()
				deadline := time.Now().Add(5 * time.Minute)
				for got.Load() < int64(n) && time.Now().Before(deadline) {
					ctx, cancel := context.WithTimeout(context.Background(), time.Second)
					fs := cl.PollFetches(ctx)
					cancel()
					got.Add(int64(len(fs.Records())))
				}
			}()
		}
		for got.Load() < int64(n) {
			time.Sleep(time.Millisecond)
		}
		d := time.Since(start)
		wg.Wait()
		return d
	}
	classic := consume(kgo.ConsumerGroup("perf-classic"), kgo.ConsumeTopics("perf-4p"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	share := consume(kgo.ShareGroup("perf-share"), kgo.ConsumeTopics("perf-1p"))
	cr, sr := float64(n)/classic.Seconds(), float64(n)/share.Seconds()
	t.Logf("%d records of 1 KiB: classic group, 4 consumers on 4 partitions: %.0f rec/s (%v); "+
		"share group, 4 consumers on 1 partition: %.0f rec/s (%v); ratio %.2f", n, cr, classic, sr, share, sr/cr)
}
