package kafkaapi

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/twinmq/twinmq/broker/log"
	"github.com/twinmq/twinmq/broker/topics"
	"github.com/twinmq/twinmq/storage"
)

// BenchmarkXProtoFetchCache measures the cache of converted batches
// (xproto_fetchcache.go) over the store of BenchmarkXProtoFetch (the same
// records stored once per producing protocol), with the drains of that
// benchmark, in one run:
//
//   - once: one consumer reading the data once, so every converted batch
//     is a miss (the cache is emptied before each drain): verbatim,
//     converted without a cache, converted through the cold cache. The
//     cache must not make a single read slower.
//   - fanout4: four consumer groups reading the same data one after the
//     other from an empty cache (the first converts, three hit), against
//     four verbatim drains: the case the cache is for.
//   - fanout4-concurrent: the four groups reading at the same time, each
//     in its own goroutine, against four verbatim drains at the same
//     time: fetches at the same offsets at the same moment, where the
//     single flight (broker/log/cache_flight.go) makes one convert and the others
//     wait for it. converts/op counts the conversions.
//
// Metrics: MB/s of values served each way, their ratios, and the bytes
// the cache holds after the drains (B/op counts the allocations, the
// converted batches included).
//
//	go test ./broker/kafkaapi -run '^$' -bench XProtoFetchCache -benchtime 20x
func BenchmarkXProtoFetchCache(b *testing.B) {
	plain, cached := xcBenchHandlers(b)
	reset := func() { cached.xcache = newXCache(log.DefaultCacheBytes, nil) }
	var out []byte
	mb := func(b *testing.B, drains int) float64 { return float64(b.N*drains) * xbRecords * xbValueSize / 1e6 }
	b.Run("once", func(b *testing.B) {
		var same, conv, cold time.Duration
		b.SetBytes(3 * xbRecords * xbValueSize)
		b.ReportAllocs()
		for b.Loop() {
			reset()
			t0 := time.Now()
			xbDrainFetch(b, cached, "kafka-produced", &out)
			t1 := time.Now()
			xbDrainFetch(b, plain, "rocketmq-produced", &out)
			t2 := time.Now()
			xbDrainFetch(b, cached, "rocketmq-produced", &out)
			same, conv, cold = same+t1.Sub(t0), conv+t2.Sub(t1), cold+time.Since(t2)
		}
		b.ReportMetric(mb(b, 1)/same.Seconds(), "verbatim-MB/s")
		b.ReportMetric(mb(b, 1)/conv.Seconds(), "converted-MB/s")
		b.ReportMetric(mb(b, 1)/cold.Seconds(), "cold-cache-MB/s")
		b.ReportMetric(same.Seconds()/conv.Seconds(), "converted/verbatim")
		b.ReportMetric(same.Seconds()/cold.Seconds(), "cold-cache/verbatim")
		b.ReportMetric(float64(cached.xcache.Stats().Bytes)/(1<<20), "cache-MiB")
	})
	// once-read-ahead: "once" with the read-ahead on (xproto_fetchahead.go):
	// each fetch starts the conversion of the next range, which runs on
	// the other core while this one writes the response; a consumer that
	// handles what it fetched before fetching again gains more.
	b.Run("once-read-ahead", func(b *testing.B) {
		ahead := xcHandlerConfig(b, cached.store, cached.reg, Config{})
		var same, cold time.Duration
		b.SetBytes(2 * xbRecords * xbValueSize)
		b.ReportAllocs()
		for b.Loop() {
			ahead.xcache = newXCache(log.DefaultCacheBytes, nil)
			t0 := time.Now()
			xbDrainFetch(b, cached, "kafka-produced", &out)
			t1 := time.Now()
			xbDrainFetch(b, ahead, "rocketmq-produced", &out)
			same, cold = same+t1.Sub(t0), cold+time.Since(t1)
		}
		b.ReportMetric(mb(b, 1)/same.Seconds(), "verbatim-MB/s")
		b.ReportMetric(mb(b, 1)/cold.Seconds(), "read-ahead-MB/s")
		b.ReportMetric(same.Seconds()/cold.Seconds(), "read-ahead/verbatim")
	})
	// consumer-2ms: one consumer that handles each fetch for 2 ms per MiB
	// (franz-go decodes RocketMQ-produced records at 270-690 MB/s,
	// docs/cross-protocol.md) reads the RocketMQ-produced data from a cold
	// cache, with and without the read-ahead; the metrics are the time its
	// fetches took (its handling excluded) and their ratio to the verbatim
	// fetches of the Kafka-produced data by the same consumer.
	b.Run("consumer-2ms", func(b *testing.B) {
		ahead := xcHandlerConfig(b, cached.store, cached.reg, Config{})
		const think = 2 * time.Millisecond
		var same, cold, ra time.Duration
		b.SetBytes(3 * xbRecords * xbValueSize)
		for b.Loop() {
			reset()
			ahead.xcache = newXCache(log.DefaultCacheBytes, nil)
			same += xbDrainFetchThink(b, cached, "kafka-produced", &out, think)
			cold += xbDrainFetchThink(b, cached, "rocketmq-produced", &out, think)
			ra += xbDrainFetchThink(b, ahead, "rocketmq-produced", &out, think)
		}
		b.ReportMetric(float64(same.Microseconds())/float64(b.N), "verbatim-fetch-us/drain")
		b.ReportMetric(float64(cold.Microseconds())/float64(b.N), "cold-fetch-us/drain")
		b.ReportMetric(float64(ra.Microseconds())/float64(b.N), "read-ahead-fetch-us/drain")
		b.ReportMetric(same.Seconds()/cold.Seconds(), "cold/verbatim")
		b.ReportMetric(same.Seconds()/ra.Seconds(), "read-ahead/verbatim")
	})
	b.Run("warm", func(b *testing.B) {
		var same, conv time.Duration
		reset()
		xbDrainFetch(b, cached, "rocketmq-produced", &out)
		b.SetBytes(2 * xbRecords * xbValueSize)
		b.ReportAllocs()
		for b.Loop() {
			t0 := time.Now()
			xbDrainFetch(b, cached, "kafka-produced", &out)
			t1 := time.Now()
			xbDrainFetch(b, cached, "rocketmq-produced", &out)
			same, conv = same+t1.Sub(t0), conv+time.Since(t1)
		}
		b.ReportMetric(mb(b, 1)/same.Seconds(), "verbatim-MB/s")
		b.ReportMetric(mb(b, 1)/conv.Seconds(), "cached-MB/s")
		b.ReportMetric(same.Seconds()/conv.Seconds(), "cached/verbatim")
	})
	b.Run("fanout4", func(b *testing.B) {
		const groups = 4
		var same, conv time.Duration
		b.SetBytes(2 * groups * xbRecords * xbValueSize)
		b.ReportAllocs()
		for b.Loop() {
			reset()
			t0 := time.Now()
			for range groups {
				xbDrainFetch(b, cached, "kafka-produced", &out)
			}
			t1 := time.Now()
			for range groups {
				xbDrainFetch(b, cached, "rocketmq-produced", &out)
			}
			same, conv = same+t1.Sub(t0), conv+time.Since(t1)
		}
		b.ReportMetric(mb(b, groups)/same.Seconds(), "verbatim-MB/s")
		b.ReportMetric(mb(b, groups)/conv.Seconds(), "cached-MB/s")
		b.ReportMetric(same.Seconds()/conv.Seconds(), "cached/verbatim")
		_, hits, misses := xcStats(cached)
		b.ReportMetric(float64(hits)/float64(hits+misses), "hit-ratio")
		b.ReportMetric(float64(cached.xcache.Stats().Bytes)/(1<<20), "cache-MiB")
	})
	b.Run("fanout4-concurrent", func(b *testing.B) {
		const groups = 4
		var same, conv time.Duration
		var hits, misses, converts int64
		outs := make([][]byte, groups)
		drainAll := func(topic string) {
			var wg sync.WaitGroup
			for g := range groups {
				// xbDrainFetch's Fatal ends only its goroutine (wg.Go's
				// deferred Done still runs) and fails the benchmark.
				wg.Go(func() { xbDrainFetch(b, cached, topic, &outs[g]) })
			}
			wg.Wait()
		}
		b.SetBytes(2 * groups * xbRecords * xbValueSize)
		b.ReportAllocs()
		for b.Loop() {
			reset()
			t0 := time.Now()
			drainAll("kafka-produced")
			t1 := time.Now()
			drainAll("rocketmq-produced")
			same, conv = same+t1.Sub(t0), conv+time.Since(t1)
			_, h, m := xcStats(cached)
			hits, misses, converts = hits+h, misses+m, converts+cached.xcache.Stats().Converts
		}
		b.ReportMetric(mb(b, groups)/same.Seconds(), "verbatim-MB/s")
		b.ReportMetric(mb(b, groups)/conv.Seconds(), "cached-MB/s")
		b.ReportMetric(same.Seconds()/conv.Seconds(), "cached/verbatim")
		b.ReportMetric(float64(hits)/float64(hits+misses), "hit-ratio")
		b.ReportMetric(float64(converts)/float64(b.N), "converts/op")
	})
}

// xcBenchHandlers returns two handlers over one store holding
// BenchmarkXProtoFetch's data: one without and one with the cache.
func xcBenchHandlers(b *testing.B) (plain, cached *Handler) {
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	st, err := storage.Open(ctx, storage.Config{Dir: b.TempDir(), SegmentSize: 64 << 20, Logger: log})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	reg, err := topics.Open(ctx, st, log)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { reg.Close() })
	plain, cached = xcHandler(b, st, reg, -1), xcHandler(b, st, reg, 0)
	for _, name := range []string{"kafka-produced", "rocketmq-produced"} {
		cfg, err := reg.Create(ctx, topics.Config{Name: name, Queues: 1})
		if err != nil {
			b.Fatal(err)
		}
		entries := xbRocketMQEntries(name)
		if name == "kafka-produced" {
			entries = xbKafkaEntries(b, plain, cfg)
		}
		xbAppend(b, st, entries)
	}
	return plain, cached
}
