package log

import (
	"context"
	"testing"
	"time"
)

func physOf(first, n int64) []int64 {
	p := make([]int64, n)
	for i := range p {
		p[i] = 1000 + first + int64(i)
	}
	return p
}

// TestCacheLookupInsertEvict: keying by offset range and Phys, the start,
// overlaps, LRU by bytes, Forget.
func TestCacheLookupInsertEvict(t *testing.T) {
	c := NewCache[[]byte](CacheConfig{MaxBytes: 1 << 20})
	k := QueueKey{"t", 0}
	c.Insert(k, 10, 20, physOf(10, 10), make([]byte, 100), 100, nil)
	c.Insert(k, 30, 35, physOf(30, 5), make([]byte, 100), 100, nil)
	c.Insert(k, 50, 60, []int64{7}, make([]byte, 100), 100, nil) // one entry (a Kafka batch) for all
	tests := []struct {
		off, start  int64
		phys        int64
		first, next int64 // first -1: miss
	}{
		{off: 5, phys: 1005, first: -1, next: 10},
		{off: 10, phys: 1010, first: 10, next: 30},
		{off: 19, phys: 1019, first: 10, next: 30},
		{off: 20, phys: 1020, first: -1, next: 30},
		{off: 34, phys: 1034, first: 30, next: 50},
		{off: 55, phys: 7, first: 50, next: 1<<63 - 1},
		{off: 31, phys: 99, first: -1, next: 50}, // another incarnation: dropped
		{off: 31, phys: 1031, first: -1, next: 50},
	}
	for _, tc := range tests {
		b, hold, next := c.Lookup(k, tc.off, tc.phys, tc.start)
		first := int64(-1)
		if b != nil {
			first = b.First
		}
		if first != tc.first || next != tc.next || hold != nil {
			t.Fatalf("Lookup(%d): item at %d, next %d, hold %v; want %d, %d", tc.off, first, next, hold, tc.first, tc.next)
		}
	}
	// An item overlapping others replaces them.
	c.Insert(k, 45, 52, physOf(45, 7), make([]byte, 100), 100, nil)
	if b, _, _ := c.Lookup(k, 55, 7, 0); b != nil {
		t.Fatal("kept an overlapped item")
	}
	if b, _, _ := c.Lookup(k, 51, 1051, 0); b == nil || b.First != 45 {
		t.Fatal("the overlapping item is not served")
	}
	// A start moved into [10, 20) drops the item; so does one past all.
	if b, _, _ := c.Lookup(k, 15, 1015, 12); b != nil {
		t.Fatal("served an item starting below the start")
	}
	c.Lookup(k, 100, 0, 100)
	if s := c.Stats(); s.Bytes != 0 || s.Items != 0 {
		t.Fatalf("%+v after every item was dropped", s)
	}
	// LRU by bytes: the least recently used item goes first.
	for i := range int64(12) {
		c.Insert(k, i*10, i*10+10, physOf(i*10, 10), nil, 100_000, nil)
		if i == 5 {
			c.Lookup(k, 0, 1000, 0) // touch the first
		}
	}
	if s := c.Stats(); s.Bytes > c.MaxBytes() {
		t.Fatalf("%d bytes over max %d", s.Bytes, c.MaxBytes())
	}
	if b, _, _ := c.Lookup(k, 0, 1000, 0); b == nil {
		t.Fatal("evicted the recently used item")
	}
	if b, _, _ := c.Lookup(k, 10, 1010, 0); b != nil {
		t.Fatal("kept the least recently used item")
	}
	c.Insert(QueueKey{"u", 0}, 0, 1, physOf(0, 1), nil, 10, nil)
	c.Forget("t")
	if c.Covers(k, 0) || c.Stats().Bytes != 10+8+128 || c.Stats().Items != 1 {
		t.Fatalf("Forget: %+v", c.Stats())
	}
	c.Insert(k, 0, 1, physOf(0, 1), nil, c.MaxBytes()/4, nil) // too large
	if c.Covers(k, 0) {
		t.Fatal("cached an item of more than a quarter of the cache")
	}
}

// TestCacheHeld: an item holding CommitLog bytes hands each reader a Hold
// of its own, expires after HeldTTL (on a look-up or on the sweep, which
// stops once none is left), and a closed cache keeps nothing.
func TestCacheHeld(t *testing.T) {
	s := openStore(t)
	l := New(s)
	appendOne(t, s, "t", 0)
	if err := l.WaitVisible(context.Background(), "t", 0, 0); err != nil {
		t.Fatal(err)
	}
	rd, err := l.Read("t", 0, 0, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Release()

	c := NewCache[string](CacheConfig{HeldTTL: time.Hour})
	k := QueueKey{"t", 0}
	c.Insert(k, 0, 10, []int64{1}, "a", 100, rd.Hold())
	b, hold, _ := c.Lookup(k, 5, 1, 0)
	if b == nil || b.Value != "a" || hold == nil {
		t.Fatalf("Lookup: %v, hold %v", b, hold)
	}
	hold.Release()
	c.mu.Lock()
	b.expires = time.Now().Add(-time.Second)
	c.mu.Unlock()
	if b, _, _ := c.Lookup(k, 5, 1, 0); b != nil {
		t.Fatal("served an expired item")
	}

	c.Insert(k, 0, 10, []int64{1}, "b", 100, rd.Hold())
	c.mu.Lock()
	c.items[k][0].expires = time.Now().Add(-time.Second)
	c.mu.Unlock()
	c.expire()
	c.mu.Lock()
	if len(c.items) != 0 || c.held != 0 || c.sweep != nil {
		t.Fatalf("after the sweep: %d queues, %d held, sweep armed %v", len(c.items), c.held, c.sweep != nil)
	}
	c.mu.Unlock()

	c.Close()
	c.Insert(k, 0, 10, []int64{1}, "c", 100, rd.Hold())
	if c.Covers(k, 0) {
		t.Fatal("a closed cache took an item")
	}
}

// TestCacheFlight: one claim per range, waiters wake when it lands, a
// claim inside a cached item finds it, a done context or FlightWait ends
// a wait.
func TestCacheFlight(t *testing.T) {
	c := NewCache[[]byte](CacheConfig{FlightWait: 20 * time.Millisecond})
	k := QueueKey{"t", 0}
	fl, mine := c.Claim(k, 10, 20)
	if !mine || fl.First() != 10 || fl.End() != 20 {
		t.Fatalf("first claim: %v, %v", fl, mine)
	}
	if other, mine := c.Claim(k, 15, 30); mine || other != fl {
		t.Fatal("an overlapping claim did not find the flight")
	}
	if c.Wait(context.Background(), fl) {
		t.Fatal("a wait outlived FlightWait")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if c.WaitAt(ctx, k, 12) {
		t.Fatal("a wait outlived its context")
	}
	done := make(chan bool)
	go func() { done <- c.Wait(context.Background(), fl) }()
	c.Insert(k, 10, 20, physOf(10, 10), nil, 100, nil)
	c.Land(fl)
	if !<-done {
		t.Fatal("the waiter did not see the flight land")
	}
	if fl, _ := c.Claim(k, 12, 20); fl != nil {
		t.Fatal("claimed a cached range")
	}
	if s := c.Stats(); s.Flights != 0 || s.Converts != 1 || s.Waits != 2 {
		t.Fatalf("stats %+v", s)
	}
}

// TestCacheAdmit: with a Doorkeeper a range is admitted at its second
// sight, or at once on a queue the cache served lately; without one,
// always.
func TestCacheAdmit(t *testing.T) {
	k := QueueKey{"t", 0}
	if !NewCache[[]byte](CacheConfig{}).Admit(k, 0, 10) {
		t.Fatal("a cache without a Doorkeeper refused a range")
	}
	c := NewCache[[]byte](CacheConfig{Doorkeeper: true})
	if c.Admit(k, 0, 10) {
		t.Fatal("admitted a range at first sight")
	}
	if !c.Admit(k, 5, 15) {
		t.Fatal("refused a range seen before")
	}
	k2 := QueueKey{"t", 1}
	c.Insert(k2, 0, 10, physOf(0, 10), nil, 10, nil)
	c.Lookup(k2, 0, 1000, 0)
	if !c.Admit(k2, 100, 110) {
		t.Fatal("refused a new range of a queue served lately")
	}
	c.Forget("t")
	if c.Admit(k, 0, 10) {
		t.Fatal("Forget left what admission saw")
	}
}
