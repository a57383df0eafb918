package topics

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twinmq/twinmq/storage"
)

// appendN stores n entries of size bytes covering count offsets each and
// waits until they are dispatched.
func appendN(t *testing.T, s *storage.Store, topic string, q int32, n, size int, count int32) {
	t.Helper()
	before, _ := s.MaxOffset(topic, q)
	entries := make([]storage.Entry, n)
	for i := range entries {
		entries[i] = storage.Entry{Kind: storage.KindKafka, Topic: topic, QueueID: q, Count: count, Payload: make([]byte, size)}
	}
	if _, err := s.Append(context.Background(), entries); err != nil {
		t.Fatal(err)
	}
	want := before + int64(n)*int64(count)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if got, _ := s.MaxOffset(topic, q); got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s/%d never reached offset %d", topic, q, want)
		}
		time.Sleep(time.Millisecond)
	}
}

func minOffset(t *testing.T, s *storage.Store, topic string, q int32) int64 {
	t.Helper()
	m, err := s.MinOffset(topic, q)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestRetention: retention.ms moves the start past entries stored longer
// ago, retention.bytes past the oldest entries while at least the limit
// remains, -1 keeps everything, and Sizes follows every move.
func TestRetention(t *testing.T) {
	ctx := context.Background()
	var nowMs atomic.Int64
	nowMs.Store(1_000_000)
	now := func() time.Time { return time.UnixMilli(nowMs.Load()) }
	s, err := storage.Open(ctx, storage.Config{Dir: t.TempDir(), SegmentSize: 1 << 20, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	reg, err := Open(ctx, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	for _, c := range []Config{
		{Name: "by-time", Queues: 2, RetentionMs: 60_000, RetentionBytes: -1},
		{Name: "by-size", Queues: 1, RetentionMs: -1, RetentionBytes: 1000},
		{Name: "forever", Queues: 1, RetentionMs: -1, RetentionBytes: -1},
	} {
		if _, err := reg.Create(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	sizes := NewSizes(s, reg)
	defer sizes.Close()
	ret := NewRetention(s, reg, sizes, RetentionConfig{Now: now})

	appendN(t, s, "by-time", 0, 5, 100, 3) // offsets 0-14 at t0
	appendN(t, s, "by-size", 0, 20, 100, 2)
	appendN(t, s, "forever", 0, 20, 100, 1)
	nowMs.Add(50_000)
	appendN(t, s, "by-time", 0, 5, 100, 3) // offsets 15-29 at t0+50s
	if got, err := sizes.Bytes("by-size", 0); err != nil || got != 2000 {
		t.Fatalf("by-size holds %d bytes (%v), want 2000", got, err)
	}

	nowMs.Add(40_000) // t0 entries are 90 s old, the others 40 s
	if err := ret.Enforce(ctx); err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		topic    string
		q        int32
		min      int64
		bytes    int64
		describe string
	}{
		{"by-time", 0, 15, 500, "entries older than retention.ms gone"},
		{"by-time", 1, 0, 0, "empty queue untouched"},
		{"by-size", 0, 20, 1000, "oldest entries gone down to retention.bytes"},
		{"forever", 0, 0, 2000, "-1 keeps everything"},
	}
	for _, c := range checks {
		if got, _ := s.MinOffset(c.topic, c.q); got != c.min {
			t.Errorf("%s/%d start %d, want %d: %s", c.topic, c.q, got, c.min, c.describe)
		}
		if got, err := sizes.Bytes(c.topic, c.q); err != nil || got != c.bytes {
			t.Errorf("%s/%d holds %d bytes (%v), want %d", c.topic, c.q, got, err, c.bytes)
		}
	}

	// One more entry over the limit drops one; a second pass with nothing
	// new changes nothing.
	appendN(t, s, "by-size", 0, 1, 150, 2)
	for range 2 {
		if err := ret.Enforce(ctx); err != nil {
			t.Fatal(err)
		}
		if got := minOffset(t, s, "by-size", 0); got != 22 {
			t.Fatalf("by-size start %d after an append, want 22", got)
		}
	}
	if got, _ := sizes.Bytes("by-size", 0); got != 1050 {
		t.Fatalf("by-size holds %d bytes, want 1050 (at least retention.bytes)", got)
	}

	// Everything expired: the start reaches the end, as a Kafka log whose
	// segments are all deleted.
	nowMs.Add(61_000)
	if err := ret.Enforce(ctx); err != nil {
		t.Fatal(err)
	}
	if got := minOffset(t, s, "by-time", 0); got != 30 {
		t.Fatalf("by-time start %d, want the end 30", got)
	}
	if got, _ := sizes.Bytes("by-time", 0); got != 0 {
		t.Fatalf("by-time holds %d bytes, want 0", got)
	}
}

// TestSizesStartInsideEntry: a start moved into a multi-offset entry
// (Kafka DeleteRecords into a batch) counts that entry whole.
func TestSizesStartInsideEntry(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	defer s.Close()
	reg, err := Open(ctx, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	if _, err := reg.Create(ctx, Config{Name: "t", Queues: 1}); err != nil {
		t.Fatal(err)
	}
	sizes := NewSizes(s, reg)
	defer sizes.Close()
	appendN(t, s, "t", 0, 4, 100, 5)
	if err := s.SetMinOffset("t", 0, 7); err != nil {
		t.Fatal(err)
	}
	if got, err := sizes.Bytes("t", 0); err != nil || got != 300 {
		t.Fatalf("%d bytes (%v), want 300", got, err)
	}
	if err := reg.Delete(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	if got, err := sizes.Bytes("t", 0); err != nil || got != 0 {
		t.Fatalf("deleted topic: %d bytes (%v)", got, err)
	}
}
