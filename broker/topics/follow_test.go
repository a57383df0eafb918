package topics

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
)

// TestFollowerRegistry: a follower on the master's store serves the
// master's topics as they change, tells its watchers, refuses changes,
// and after Promote creates topics itself.
func TestFollowerRegistry(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	defer s.Close()
	m, err := Open(ctx, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Create(ctx, Config{Name: "before", Queues: 4}); err != nil {
		t.Fatal(err)
	}
	before, _ := s.MaxOffset(InternalTopic, 0)
	f, err := OpenWith(ctx, s, Options{Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if after, _ := s.MaxOffset(InternalTopic, 0); after != before {
		t.Fatalf("a follower's Open wrote: max offset %d -> %d", before, after)
	}
	if c, ok := f.Get("before"); !ok || c.Queues != 4 {
		t.Fatalf("follower Get(before) = %+v, %v", c, ok)
	}
	var mu sync.Mutex
	var seen []string
	f.Watch(func(c Config, deleted bool) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, fmt.Sprintf("%s/%d/%v", c.Name, c.Queues, deleted))
	})

	a, err := m.Create(ctx, Config{Name: "a", Queues: 2})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Create(ctx, Config{Name: "b", Queues: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Update(ctx, "a", func(c *Config) error { c.Queues = 8; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := m.Delete(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	got := slices.Clone(seen)
	mu.Unlock()
	if want := []string{"a/2/false", "b/1/false", "a/8/false", "b/1/true"}; !slices.Equal(got, want) {
		t.Fatalf("follower's watcher saw %v, want %v", got, want)
	}
	if !slices.EqualFunc(f.List(), m.List(), func(x, y Config) bool { return x.Name == y.Name && x.Queues == y.Queues && x.ID == y.ID }) {
		t.Fatalf("follower lists %+v, master %+v", f.List(), m.List())
	}
	if c, ok := f.GetByID(a.ID); !ok || c.Name != "a" || c.Queues != 8 {
		t.Fatalf("follower GetByID(a) = %+v, %v", c, ok)
	}

	_, errCreate := f.Create(ctx, Config{Name: "x", Queues: 1})
	_, errUpdate := f.Update(ctx, "a", func(c *Config) error { return nil })
	errDelete := f.Delete(ctx, "a")
	for name, err := range map[string]error{"Create": errCreate, "Update": errUpdate, "Delete": errDelete} {
		if !errors.Is(err, ErrFollower) {
			t.Errorf("%s on a follower: %v, want ErrFollower", name, err)
		}
	}
	if _, ok := f.Get("a"); !ok {
		t.Fatal("a refused Delete removed the topic")
	}

	m.Close()
	if err := f.Promote(ctx); err != nil {
		t.Fatal(err)
	}
	if f.Following() {
		t.Fatal("still a follower after Promote")
	}
	if _, err := f.Create(ctx, Config{Name: "x", Queues: 1}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	again, err := Open(ctx, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	var names []string
	for _, c := range again.List() {
		names = append(names, fmt.Sprintf("%s/%d", c.Name, c.Queues))
	}
	if want := []string{"a/8", "before/4", "x/1"}; !slices.Equal(names, want) {
		t.Fatalf("after promotion and reopen: %v, want %v", names, want)
	}
}
