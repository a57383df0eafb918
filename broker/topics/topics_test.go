package topics

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/twinmq/twinmq/storage"
)

func openStore(t *testing.T, dir string) *storage.Store {
	t.Helper()
	s, err := storage.Open(context.Background(), storage.Config{Dir: dir, SegmentSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRegistryRoundTripAndReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openStore(t, dir)
	r, err := Open(ctx, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen []string
	r.Watch(func(c Config, deleted bool) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, fmt.Sprintf("%s/%d/%v", c.Name, c.Queues, deleted))
	})
	a, err := r.Create(ctx, Config{Name: "a", Queues: 3})
	if err != nil {
		t.Fatal(err)
	}
	if a.ID == ([16]byte{}) || a.Perm != DefaultPerm || a.RetentionMs != r.DefaultRetentionMs() || a.RetentionMsSet || a.CreatedMs == 0 {
		t.Fatalf("defaults not filled: %+v", a)
	}
	if _, err := r.Create(ctx, Config{Name: "a", Queues: 1}); !errors.Is(err, ErrTopicExists) {
		t.Fatalf("second create: %v", err)
	}
	for _, bad := range []Config{{Name: "", Queues: 1}, {Name: "x/y", Queues: 1}, {Name: "__twinmq_x", Queues: 1}, {Name: "q", Queues: 0}} {
		if _, err := r.Create(ctx, bad); err == nil {
			t.Fatalf("created %+v", bad)
		}
	}
	if _, err := r.Create(ctx, Config{Name: "b", Queues: 1, Extra: map[string]string{"k": "v"}}); err != nil {
		t.Fatal(err)
	}
	up, err := r.Update(ctx, "a", func(c *Config) error { c.Queues = 5; c.TimestampType = "LogAppendTime"; return nil })
	if err != nil || up.Queues != 5 || up.ID != a.ID {
		t.Fatalf("update: %+v %v", up, err)
	}
	if _, err := r.Update(ctx, "a", func(c *Config) error { c.TimestampType = "bogus"; return nil }); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("bad update: %v", err)
	}
	if err := r.Delete(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if err := r.Delete(ctx, "b"); !errors.Is(err, ErrTopicNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	want := []string{"a/3/false", "b/1/false", "a/5/false", "b/1/true"}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Fatalf("watch saw %v, want %v", seen, want)
	}
	r.Close()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openStore(t, dir)
	defer s.Close()
	r, err = Open(ctx, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	l := r.List()
	if len(l) != 1 || l[0].Name != "a" || l[0].Queues != 5 || l[0].ID != a.ID || l[0].TimestampType != "LogAppendTime" {
		t.Fatalf("after reopen: %+v", l)
	}
	if c, ok := r.GetByID(a.ID); !ok || c.Name != "a" {
		t.Fatalf("by id: %+v %v", c, ok)
	}
}

func TestRegistryCompactionKeepsState(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openStore(t, dir)
	r, err := Open(ctx, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 40 {
		name := fmt.Sprintf("t%d", i%4)
		if _, ok := r.Get(name); ok {
			if err := r.Delete(ctx, name); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if _, err := r.Create(ctx, Config{Name: name, Queues: int32(i + 1)}); err != nil {
			t.Fatal(err)
		}
	}
	before := r.List()
	r.Close()
	s.Close()
	// Reopen compacts (many records, few live keys), reopen again reads
	// the compacted table.
	for range 2 {
		s = openStore(t, dir)
		r, err = Open(ctx, s, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.List(); fmt.Sprint(got) != fmt.Sprint(before) {
			t.Fatalf("got %v, want %v", got, before)
		}
		min, _ := s.MinOffset(InternalTopic, 0)
		t.Logf("internal min offset %d", min)
		r.Close()
		s.Close()
	}
}

func TestRegistryConcurrentCreate(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	defer s.Close()
	r, err := Open(ctx, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for range 8 {
		wg.Go(func() {
			if _, err := r.Create(ctx, Config{Name: "same", Queues: 2}); err == nil {
				mu.Lock()
				ok++
				mu.Unlock()
			}
			_ = r.List()
		})
	}
	wg.Wait()
	if ok != 1 {
		t.Fatalf("%d creates succeeded", ok)
	}
}

// TestRetentionFollowsStore: a topic without its own retention.ms reports
// the store's retention (the broker's log.retention.ms), and follows it
// when the broker restarts with another retentionHours; a topic's own
// retention.ms stays. The store keeps segments as long as the longest
// retention needs them, never less than its own.
func TestRetentionFollowsStore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	open := func(hours int) (*storage.Store, *Registry) {
		s, err := storage.Open(ctx, storage.Config{Dir: dir, SegmentSize: 1 << 20, RetentionHours: hours})
		if err != nil {
			t.Fatal(err)
		}
		r, err := Open(ctx, s, nil)
		if err != nil {
			t.Fatal(err)
		}
		return s, r
	}
	const hour = 3600 * 1000
	s, r := open(5)
	def, err := r.Create(ctx, Config{Name: "def", Queues: 1})
	if err != nil {
		t.Fatal(err)
	}
	if def.RetentionMs != 5*hour || def.RetentionMsSet || r.DefaultRetentionMs() != 5*hour {
		t.Fatalf("default topic: retention.ms %d (set %v), want 5 h", def.RetentionMs, def.RetentionMsSet)
	}
	if s.SegmentRetentionMs() != 5*hour {
		t.Fatalf("store keeps segments %d ms, want 5 h", s.SegmentRetentionMs())
	}
	if _, err := r.Create(ctx, Config{Name: "short", Queues: 1, RetentionMs: hour}); err != nil {
		t.Fatal(err)
	}
	if s.SegmentRetentionMs() != 5*hour {
		t.Fatalf("a shorter topic made the store keep %d ms, want its own 5 h", s.SegmentRetentionMs())
	}
	long, err := r.Create(ctx, Config{Name: "long", Queues: 1, RetentionMs: 30 * 24 * hour})
	if err != nil {
		t.Fatal(err)
	}
	if !long.RetentionMsSet || s.SegmentRetentionMs() != 30*24*hour {
		t.Fatalf("30-day topic: set %v, store keeps %d ms", long.RetentionMsSet, s.SegmentRetentionMs())
	}
	if _, err := r.Update(ctx, "long", func(c *Config) error { c.RetentionMs, c.RetentionMsSet = -1, true; return nil }); err != nil {
		t.Fatal(err)
	}
	if s.SegmentRetentionMs() != -1 {
		t.Fatalf("a topic kept forever: store keeps %d ms, want -1", s.SegmentRetentionMs())
	}
	if err := r.Delete(ctx, "long"); err != nil {
		t.Fatal(err)
	}
	if s.SegmentRetentionMs() != 5*hour {
		t.Fatalf("after the delete the store keeps %d ms, want 5 h", s.SegmentRetentionMs())
	}
	// An Update that leaves retention alone keeps following the store.
	if _, err := r.Update(ctx, "def", func(c *Config) error { c.MaxMessageBytes = 1000; return nil }); err != nil {
		t.Fatal(err)
	}
	r.Close()
	s.Close()

	s, r = open(10)
	defer s.Close()
	defer r.Close()
	if c, _ := r.Get("def"); c.RetentionMs != 10*hour || c.RetentionMsSet {
		t.Fatalf("after a restart with 10 h: default topic at %d ms (set %v)", c.RetentionMs, c.RetentionMsSet)
	}
	if c, _ := r.Get("short"); c.RetentionMs != hour || !c.RetentionMsSet {
		t.Fatalf("after a restart: own retention %d ms (set %v), want 1 h", c.RetentionMs, c.RetentionMsSet)
	}
}
