package storage

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twinmq/twinmq/storage/vfs"
)

// countObs counts observations and keeps the largest.
type countObs struct {
	mu  sync.Mutex
	n   int
	max float64
}

func (o *countObs) Observe(v float64) {
	o.mu.Lock()
	o.n++
	o.max = max(o.max, v)
	o.mu.Unlock()
}

func (o *countObs) get() (int, float64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.n, o.max
}

// TestObservers: in both flush modes every append is observed once when
// it becomes readable; SYNC_FLUSH observes each append's group commit and
// each fsync, ASYNC_FLUSH each flush that had bytes to sync and none that
// had not.
func TestObservers(t *testing.T) {
	for _, mode := range []FlushDiskType{AsyncFlush, SyncFlush} {
		t.Run(string(mode), func(t *testing.T) {
			cfg := testConfig(vfs.NewMem())
			cfg.FlushDiskType = mode
			cfg.SegmentSize = 1 << 20
			s := mustOpen(t, cfg)
			defer s.Close()
			var fsync, group, visible countObs
			s.SetObservers(Observers{Fsync: &fsync, GroupCommit: &group, Visible: &visible})
			const n = 40
			var wg sync.WaitGroup
			for w := range 4 {
				wg.Go(func() {
					for i := range n / 4 {
						if _, err := s.Append(context.Background(), []Entry{msg("T", int32(w), i), msg("T", int32(w), i)}); err != nil {
							t.Error(err)
						}
					}
				})
			}
			wg.Wait()
			for q := range 4 {
				waitDispatched(t, s, "T", int32(q), 2*n/4)
			}
			// Dispatch and observation are one step under the dispatcher's
			// ownership: once every queue shows its entries, poll the
			// count (the last pass may still be observing).
			deadline := time.Now().Add(10 * time.Second)
			for {
				if c, _ := visible.get(); c == n {
					break
				} else if c > n || time.Now().After(deadline) {
					t.Fatalf("visible: %d observations of %d appends", c, n)
				}
				time.Sleep(time.Millisecond)
			}
			if _, m := visible.get(); m <= 0 || m > 60 {
				t.Fatalf("visible: largest %v s", m)
			}
			if mode == SyncFlush {
				if c, _ := group.get(); c != n {
					t.Fatalf("group commit: %d observations of %d appends", c, n)
				}
				if c, _ := fsync.get(); c == 0 || c > n {
					t.Fatalf("fsync: %d observations for %d appends", c, n)
				}
				return
			}
			if c, _ := group.get(); c != 0 {
				t.Fatalf("group commit in ASYNC_FLUSH: %d", c)
			}
			if _, err := s.timedFlush(s.observers()); err != nil {
				t.Fatal(err)
			}
			if _, err := s.timedFlush(s.observers()); err != nil { // nothing left to sync
				t.Fatal(err)
			}
			if c, _ := fsync.get(); c != 1 {
				t.Fatalf("fsync: %d observations of one flush with bytes", c)
			}
		})
	}
}

// TestVisRingBounded: a ring that is full samples no more appends, and
// drains in order up to the dispatched end.
func TestVisRingBounded(t *testing.T) {
	var r visRing
	var dispatched atomic.Int64
	var early countObs
	now := func() int64 { return 1e9 }
	for i := range 2000 {
		r.push(int64(i+1)*10, 0, &dispatched, &early, now)
	}
	if r.n != len(r.end) {
		t.Fatalf("%d recorded", r.n)
	}
	var o countObs
	r.drain(100, 1e9, &o)
	if c, m := o.get(); c != 10 || m != 1 || r.n != len(r.end)-10 {
		t.Fatalf("drained %d (largest %v), %d left", c, m, r.n)
	}
	r.drain(1<<62, 1e9, &o)
	if c, _ := o.get(); c != len(r.end) || r.n != 0 {
		t.Fatalf("drained %d, %d left", c, r.n)
	}
	// An append the dispatch passed before its push is observed at once,
	// not left for a drain that already happened.
	dispatched.Store(500)
	r.push(400, 0, &dispatched, &early, now)
	if c, m := early.get(); c != 1 || m != 1 || r.n != 0 {
		t.Fatalf("an append already visible: %d observed (largest %v), %d recorded", c, m, r.n)
	}
}

// nopObs is an Observer that does nothing: the benchmark measures the
// store's side.
type nopObs struct{}

func (nopObs) Observe(float64) {}

// BenchmarkVisRing: what the Visible histogram adds to an append (a
// clock read and a push) and to its dispatch (a drain), per append.
func BenchmarkVisRing(b *testing.B) {
	s := &Store{opened: time.Now()}
	pos := []Position{{Phys: 0, Size: 100}}
	b.ReportAllocs()
	var end int64
	for b.Loop() {
		end += 100
		pos[0].Phys = end - 100
		s.appended(pos, s.since(), nopObs{})
		s.dispatched.Store(end)
		s.vis.drain(end, s.since(), nopObs{})
	}
}

// TestSetFlushInterval: an ASYNC_FLUSH store whose period is an hour
// flushes what was written once the period is set short, without a
// restart; a period that is not positive is refused.
func TestSetFlushInterval(t *testing.T) {
	cfg := testConfig(vfs.NewMem()) // FlushInterval: an hour
	s := mustOpen(t, cfg)
	defer s.Close()
	if _, err := s.Append(context.Background(), []Entry{msg("T", 0, 1)}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetFlushInterval(0); err == nil {
		t.Fatal("a zero flush interval accepted")
	}
	if err := s.SetFlushInterval(5 * time.Millisecond); err != nil || s.FlushInterval() != 5*time.Millisecond {
		t.Fatalf("set: %v, now %v", err, s.FlushInterval())
	}
	for deadline := time.Now().Add(10 * time.Second); s.Stats().FlushedOffset < s.Stats().WrittenOffset; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("nothing flushed 10 s after the period became 5 ms: %+v", s.Stats())
		}
	}
}

// TestSetRetentionBytes: a store without a size cap keeps its segments; a
// cap set while it runs deletes the oldest down to it at the next
// retention pass; a cap below -1 is refused.
func TestSetRetentionBytes(t *testing.T) {
	cfg := testConfig(vfs.NewMem()) // 8 KiB segments, no cap
	cfg.RetentionHours = -1         // none by age either
	s := mustOpen(t, cfg)
	defer s.Close()
	for i := range 400 {
		if _, err := s.Append(context.Background(), []Entry{msg("T", 0, i)}); err != nil {
			t.Fatal(err)
		}
	}
	waitDispatched(t, s, "T", 0, 400)
	if err := s.EnforceRetention(); err != nil {
		t.Fatal(err)
	}
	n := len(s.log.Segments())
	if n <= 3 || s.RetentionBytes() != -1 {
		t.Fatalf("%d segments, cap %d before the cap", n, s.RetentionBytes())
	}
	if err := s.SetRetentionBytes(-2); err == nil {
		t.Fatal("cap -2 accepted")
	}
	if err := s.SetRetentionBytes(3 * cfg.SegmentSize); err != nil {
		t.Fatal(err)
	}
	if err := s.EnforceRetention(); err != nil {
		t.Fatal(err)
	}
	if got := len(s.log.Segments()); got > 3 {
		t.Fatalf("%d segments of %d after a cap of 3", got, n)
	}
}
