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
	if a.ID == ([16]byte{}) || a.Perm != DefaultPerm || a.RetentionMs != DefaultRetentionMs || a.CreatedMs == 0 {
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
