package timer

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twinmq/twinmq/storage"
)

var (
	benchTimers = flag.Int("timer.n", 200_000, "timers of the timer benchmarks")
	benchSpan   = flag.Duration("timer.span", 10*time.Second, "delay spread of BenchmarkFiringLateness")
)

func appendTimers(b *testing.B, st *storage.Store, n int, delay func(i int) int64) {
	b.Helper()
	const batch = 1000
	entries := make([]storage.Entry, 0, batch)
	for i := range n {
		entries = append(entries, timerEntry(b, "Real", delay(i), fmt.Sprint("b", i)))
		if len(entries) == batch || i == n-1 {
			if _, err := st.Append(context.Background(), entries); err != nil {
				b.Fatal(err)
			}
			entries = entries[:0]
		}
	}
}

func heapAlloc() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkPendingTimerMemory ingests -timer.n timers due in one to two
// hours and reports the Go heap they cost once ingested, per timer, against
// the baseline of holding each timer in an in-memory heap (the size of one
// heap item).
func BenchmarkPendingTimerMemory(b *testing.B) {
	for b.Loop() { // one measured run whatever b.N; the figures are the metrics
	}
	st := openStore(b, b.TempDir())
	defer st.Close()
	n := *benchTimers
	rng := rand.New(rand.NewPCG(1, 1))
	appendTimers(b, st, n, func(int) int64 { return int64(time.Hour/time.Millisecond) + rng.Int64N(3_600_000) })
	before := heapAlloc()
	s := startService(b, st, toyBuild)
	defer s.Close()
	for s.Stats().Ingested < int64(n) {
		time.Sleep(10 * time.Millisecond)
	}
	after := heapAlloc()
	perTimer := float64(int64(after)-int64(before)) / float64(n)
	b.ReportMetric(perTimer, "heapB/timer")
	b.ReportMetric(perTimer/float64(unsafeSizeofItem), "x-inmem-heap")
	b.ReportMetric(float64(s.Stats().PendingSlots), "slots")
}

const unsafeSizeofItem = 24 // item: Phys, DueMs, slot (int64 each)

// BenchmarkFiringLateness appends -timer.n timers with delays spread over
// -timer.span (the first ones fire while the rest are still being
// appended and ingested) and reports how late the Service fires them
// (time of Build minus due time): p50, p99, max.
func BenchmarkFiringLateness(b *testing.B) {
	for b.Loop() { // one measured run whatever b.N; the figures are the metrics
	}
	st := openStore(b, b.TempDir())
	defer st.Close()
	n := *benchTimers
	span := benchSpan.Milliseconds()
	var mu sync.Mutex
	late := make([]int64, 0, n)
	build := func(e storage.ReadEntry) ([]storage.Entry, error) {
		now := time.Now().UnixMilli()
		mu.Lock()
		late = append(late, now-e.Header.TagsCode(0))
		mu.Unlock()
		return toyBuild(e)
	}
	s := startService(b, st, build)
	defer s.Close()
	rng := rand.New(rand.NewPCG(2, 2))
	start := time.Now()
	appendTimers(b, st, n, func(int) int64 { return 1 + rng.Int64N(span) })
	appendDur := time.Since(start)
	for s.Stats().Fired < int64(n) {
		time.Sleep(10 * time.Millisecond)
		if time.Since(start) > time.Duration(span)*time.Millisecond+time.Minute {
			b.Fatalf("fired %d of %d", s.Stats().Fired, n)
		}
	}
	mu.Lock()
	slices.Sort(late)
	q := func(p float64) float64 { return float64(late[int(p*float64(len(late)-1))]) }
	b.ReportMetric(q(0.50), "p50-late-ms")
	b.ReportMetric(q(0.99), "p99-late-ms")
	b.ReportMetric(q(1), "max-late-ms")
	b.ReportMetric(float64(n)/appendDur.Seconds(), "appends/s")
	mu.Unlock()
}
