package pop

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/twinmq/twinmq/storage"
)

func openStore(t *testing.T, dir string) *storage.Store {
	t.Helper()
	s, err := storage.Open(context.Background(), storage.Config{Dir: dir, SegmentSize: 1 << 20,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// clock is a settable clock for the engine.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// sliceSource serves records 0..n-1 of one queue, whose values are their
// offsets, keeping the odd ones only when odd is set (a filter), and
// records what it dead-letters.
type sliceSource struct {
	n    int64
	odd  bool
	dead []int64
}

func (s *sliceSource) src() Source[int64] {
	return Source[int64]{
		Start: func() (int64, error) { return 0, nil },
		Read: func(from int64, max int) ([]Record[int64], int64, error) {
			var out []Record[int64]
			off := from
			for ; off < s.n && len(out) < max; off++ {
				if !s.odd || off%2 == 1 {
					out = append(out, Record[int64]{Offset: off, Msg: off})
				}
			}
			return out, off, nil
		},
		At: func(off int64) (int64, bool, error) { return off, off < s.n, nil },
		Dead: func(_ context.Context, off int64, _ int64, attempts int32) error {
			s.dead = append(s.dead, off)
			return nil
		},
	}
}

func offsets(ds []Delivery[int64]) []int64 {
	var out []int64
	for _, d := range ds {
		out = append(out, d.Offset)
	}
	return out
}

// TestEngineRestart: after a reopen of the store an acknowledged record
// is not delivered again, an unacknowledged one is locked until its
// deadline and delivered again after it, and handles issued before the
// restart still work.
func TestEngineRestart(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	clk := &clock{t: time.UnixMilli(1_000_000)}
	store := openStore(t, dir)
	e, err := Open(ctx, store, Options{Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	src := &sliceSource{n: 4}
	k := Key{Group: "g", Topic: "t", Queue: 0}
	ds, err := Acquire(ctx, e, k, 3, time.Minute, src.src())
	if err != nil || len(ds) != 3 {
		t.Fatalf("%v %v", offsets(ds), err)
	}
	kk, h, err := e.Decode("g", "t", ds[1].Handle)
	if err != nil || kk != k {
		t.Fatal(err)
	}
	if err := e.Ack(ctx, k, h); err != nil {
		t.Fatal(err)
	}
	e.Close()
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}

	store = openStore(t, dir)
	defer store.Close()
	e, err = Open(ctx, store, Options{Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	// Before the deadline: only record 3, never delivered, comes.
	ds2, err := Acquire(ctx, e, k, 10, time.Minute, src.src())
	if err != nil || len(ds2) != 1 || ds2[0].Offset != 3 {
		t.Fatalf("before the deadline: %v %v", offsets(ds2), err)
	}
	// A handle from before the restart still acknowledges.
	_, h0, err := e.Decode("g", "t", ds[0].Handle)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Ack(ctx, k, h0); err != nil {
		t.Fatalf("ack with a handle issued before the restart: %v", err)
	}
	clk.add(time.Minute)
	ds3, err := Acquire(ctx, e, k, 10, time.Minute, src.src())
	if err != nil || len(ds3) != 2 || ds3[0].Offset != 2 || ds3[1].Offset != 3 || ds3[0].Lock.Attempts != 2 {
		t.Fatalf("after the deadline: %+v %v", ds3, err)
	}
	// The acknowledged ones' handles are refused.
	if err := e.Ack(ctx, k, h); !errors.Is(err, ErrNotHeld) {
		t.Fatalf("second ack: %v", err)
	}
}

// TestEngineDeadLetter: a record never acknowledged is delivered
// MaxAttempts times, then dead-lettered once and done.
func TestEngineDeadLetter(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.UnixMilli(5_000)}
	store := openStore(t, t.TempDir())
	defer store.Close()
	e, err := Open(ctx, store, Options{Now: clk.now, MaxAttempts: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	src := &sliceSource{n: 1}
	k := Key{Group: "g", Topic: "t"}
	for attempt := int32(1); attempt <= 3; attempt++ {
		ds, err := Acquire(ctx, e, k, 5, time.Second, src.src())
		if err != nil || len(ds) != 1 || ds[0].Lock.Attempts != attempt {
			t.Fatalf("attempt %d: %+v %v", attempt, ds, err)
		}
		clk.add(time.Second)
	}
	ds, err := Acquire(ctx, e, k, 5, time.Second, src.src())
	if err != nil || len(ds) != 0 || len(src.dead) != 1 || src.dead[0] != 0 {
		t.Fatalf("after the last attempt: %+v %v dead %v", ds, err, src.dead)
	}
	if st, _ := e.Status(k); st.InFlight != 0 || st.Acked != 1 {
		t.Fatalf("status %+v", st)
	}
}

// TestEngineFilterAndBound: offsets the source filters out are done; no
// more than MaxInFlight records are locked at once.
func TestEngineFilterAndBound(t *testing.T) {
	ctx := context.Background()
	store := openStore(t, t.TempDir())
	defer store.Close()
	e, err := Open(ctx, store, Options{MaxInFlight: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	src := &sliceSource{n: 100, odd: true}
	k := Key{Group: "g", Topic: "t"}
	ds, err := Acquire(ctx, e, k, 1000, time.Minute, src.src())
	if err != nil || len(ds) != 4 {
		t.Fatalf("%v %v", offsets(ds), err)
	}
	for i, d := range ds {
		if d.Offset != int64(2*i+1) {
			t.Fatalf("%v", offsets(ds))
		}
	}
	if more, _ := Acquire(ctx, e, k, 1000, time.Minute, src.src()); len(more) != 0 {
		t.Fatalf("past MaxInFlight: %v", offsets(more))
	}
	_, h, _ := e.Decode("g", "t", ds[0].Handle)
	if err := e.Ack(ctx, k, h); err != nil {
		t.Fatal(err)
	}
	if more, _ := Acquire(ctx, e, k, 1000, time.Minute, src.src()); len(more) != 1 || more[0].Offset != 9 {
		t.Fatalf("after one ack: %v", offsets(more))
	}
}

// TestEngineOrdered: while an ordered record is locked, no later ordered
// record of the queue is delivered; an expired one is delivered again
// first; after the ack the next one comes. The flag survives a reopen.
func TestEngineOrdered(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	clk := &clock{t: time.UnixMilli(10_000)}
	store := openStore(t, dir)
	e, err := Open(ctx, store, Options{Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	// Offsets 0..4, all ordered.
	src := Source[int64]{
		Start: func() (int64, error) { return 0, nil },
		Read: func(from int64, max int) ([]Record[int64], int64, error) {
			var out []Record[int64]
			off := from
			for ; off < 5 && len(out) < max; off++ {
				out = append(out, Record[int64]{Offset: off, Msg: off, Ordered: true})
			}
			return out, off, nil
		},
		At:   func(off int64) (int64, bool, error) { return off, off < 5, nil },
		Dead: func(context.Context, int64, int64, int32) error { return nil },
	}
	k := Key{Group: "g", Topic: "fifo"}
	first, err := Acquire(ctx, e, k, 2, time.Second, src)
	if err != nil || len(first) != 2 || first[0].Offset != 0 || first[1].Offset != 1 || !first[0].Lock.Ordered {
		t.Fatalf("first: %+v %v", first, err)
	}
	if more, _ := Acquire(ctx, e, k, 2, time.Second, src); len(more) != 0 {
		t.Fatalf("delivered %v while 0 and 1 are locked", offsets(more))
	}
	e.Close()
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	store = openStore(t, dir)
	defer store.Close()
	e, err = Open(ctx, store, Options{Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if more, _ := Acquire(ctx, e, k, 2, time.Second, src); len(more) != 0 {
		t.Fatalf("after a reopen, delivered %v while 0 and 1 are locked", offsets(more))
	}
	clk.add(time.Second)
	again, _ := Acquire(ctx, e, k, 5, time.Second, src)
	if len(again) != 2 || again[0].Offset != 0 || again[1].Offset != 1 || again[0].Lock.Attempts != 2 {
		t.Fatalf("after expiry: %+v", again)
	}
	for _, d := range again {
		_, h, _ := e.Decode("g", "fifo", d.Handle)
		if err := e.Ack(ctx, k, h); err != nil {
			t.Fatal(err)
		}
	}
	next, _ := Acquire(ctx, e, k, 5, time.Second, src)
	if len(next) != 3 || next[0].Offset != 2 {
		t.Fatalf("after the acks: %v", offsets(next))
	}
}
