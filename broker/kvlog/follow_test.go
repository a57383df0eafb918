package kvlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

const followTopic = "__twinmq_test"

// mirror is a table built only from OnChange calls, with a condition a
// test waits on.
type mirror struct {
	mu      sync.Mutex
	m       map[string][]byte
	deletes int
	want    map[string][]byte // nil: no condition
	met     chan struct{}
}

func newMirror() *mirror { return &mirror{m: map[string][]byte{}} }

func (r *mirror) onChange(key string, value []byte, deleted bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if deleted {
		delete(r.m, key)
		r.deletes++
	} else {
		r.m[key] = append([]byte(nil), value...)
	}
	r.checkLocked()
}

func (r *mirror) checkLocked() {
	if r.want != nil && maps.EqualFunc(r.m, r.want, bytes.Equal) {
		close(r.met)
		r.want = nil
	}
}

// waitFor blocks until the mirror equals want.
func (r *mirror) waitFor(t *testing.T, want map[string][]byte) {
	t.Helper()
	r.mu.Lock()
	r.want, r.met = want, make(chan struct{})
	met := r.met
	r.checkLocked()
	r.mu.Unlock()
	select {
	case <-met:
	case <-time.After(10 * time.Second):
		r.mu.Lock()
		defer r.mu.Unlock()
		t.Fatalf("follower did not converge: has %d keys, want %d", len(r.m), len(want))
	}
}

func (r *mirror) snapshot() map[string][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.m)
}

func sameTable(t *testing.T, what string, got, want map[string][]byte) {
	t.Helper()
	if !maps.EqualFunc(got, want, bytes.Equal) {
		t.Fatalf("%s: %d keys %v, want %d keys %v", what, len(got), got, len(want), want)
	}
}

// TestFollowerConverges: a follower on the writer's store and topic
// reaches the writer's table, whatever random puts, deletes and
// compactions (each moving the min offset past records the follower may
// not have read) the writer made; then Promote makes it the writer.
func TestFollowerConverges(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	ctx := context.Background()
	dir := t.TempDir()
	s := openStore(t, dir)
	defer s.Close()
	w, err := Open(ctx, s, Options{Topic: followTopic})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 { // a table before the follower opens
		if err := w.Put(ctx, fmt.Sprint("k", i), []byte("first")); err != nil {
			t.Fatal(err)
		}
	}
	mir := newMirror()
	f, err := Open(ctx, s, Options{Topic: followTopic, Follow: true, OnChange: mir.onChange})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sameTable(t, "after Open", mir.snapshot(), w.Snapshot())

	for round := range 3 {
		for i := range 300 {
			k := fmt.Sprint("k", rng.IntN(40))
			switch r := rng.IntN(100); {
			case r < 25:
				err = w.Delete(ctx, k)
			case r < 28:
				err = w.Compact(ctx)
			default:
				err = w.Put(ctx, k, fmt.Appendf(nil, "v%d.%d.%x", round, i, rng.Uint32()))
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		want := w.Snapshot()
		mir.waitFor(t, want)
		if err := f.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		sameTable(t, fmt.Sprint("round ", round, " follower table"), f.Snapshot(), want)
	}

	// Promote: the writer stops, the follower writes on over its table.
	want := w.Snapshot()
	w.Close()
	if err := f.Promote(ctx); err != nil {
		t.Fatal(err)
	}
	if f.Following() {
		t.Fatal("still following after Promote")
	}
	sameTable(t, "promoted", f.Snapshot(), want)
	if err := f.Put(ctx, "after", []byte("promotion")); err != nil {
		t.Fatal(err)
	}
	want["after"] = []byte("promotion")
	if err := f.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	f.Close()
	again, err := Open(ctx, s, Options{Topic: followTopic})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	sameTable(t, "reopened after promotion", again.Snapshot(), want)
}

// TestFollowerWritesNothing: a follower's Open neither compacts nor
// writes, and its writes are refused with ErrFollower.
func TestFollowerWritesNothing(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	defer s.Close()
	w, err := Open(ctx, s, Options{Topic: followTopic})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 { // 100 records of one key: Open would compact
		if err := w.Put(ctx, "k", fmt.Append(nil, i)); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	f, err := Open(ctx, s, Options{Topic: followTopic, Follow: true, CompactInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for name, err := range map[string]error{
		"Put":     f.Put(ctx, "k", nil),
		"Delete":  f.Delete(ctx, "k"),
		"Compact": f.Compact(ctx),
	} {
		if !errors.Is(err, ErrFollower) {
			t.Errorf("%s on a follower: %v, want ErrFollower", name, err)
		}
	}
	if err := f.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	min, _ := s.MinOffset(followTopic, 0)
	max, _ := s.MaxOffset(followTopic, 0)
	if min != 0 || max != 100 {
		t.Fatalf("queue [%d, %d) after a follower opened, want [0, 100)", min, max)
	}
	if v, _ := f.Get("k"); string(v) != "99" {
		t.Fatalf("k = %q, want 99", v)
	}
	// Promote compacts as Open would have.
	if err := f.Promote(ctx); err != nil {
		t.Fatal(err)
	}
	if min, _ := s.MinOffset(followTopic, 0); min != 100 {
		t.Fatalf("min offset %d after Promote, want 100 (compacted)", min)
	}
}

// TestFollowerReloadsFromMovedMin: a follower held up in OnChange while
// the writer deletes, compacts and writes on finds its next offset below
// the queue's min; it replays from the min and reports the difference,
// deletes included.
func TestFollowerReloadsFromMovedMin(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	defer s.Close()
	w, err := Open(ctx, s, Options{Topic: followTopic})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	put := func(k, v string) {
		t.Helper()
		if err := w.Put(ctx, k, []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	put("a", "1")
	put("b", "2")
	mir := newMirror()
	held, release := make(chan struct{}), make(chan struct{})
	f, err := Open(ctx, s, Options{Topic: followTopic, Follow: true, OnChange: func(k string, v []byte, del bool) {
		if k == "c" && !del {
			close(held)
			<-release
		}
		mir.onChange(k, v, del)
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	put("c", "3")
	<-held // the tail is in OnChange("c"), its next offset is 3
	if err := w.Delete(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	put("b", "4")
	if err := w.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	put("d", "5")
	if min, _ := s.MinOffset(followTopic, 0); min <= 3 {
		t.Fatalf("min offset %d, want past 3", min)
	}
	close(release)
	mir.waitFor(t, w.Snapshot())
	mir.mu.Lock()
	deletes := mir.deletes
	mir.mu.Unlock()
	if deletes != 1 {
		t.Fatalf("%d deletes reported, want 1 (a)", deletes)
	}
}

// TestFollowerCloseAndSync: Close ends the tail before it returns, and a
// Sync waiting on a closed follower ends with ErrClosed; a follower of a
// topic that does not exist yet picks up its first records.
func TestFollowerCloseAndSync(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	defer s.Close()
	mir := newMirror()
	f, err := Open(ctx, s, Options{Topic: followTopic, Follow: true, OnChange: mir.onChange})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(ctx); err != nil {
		t.Fatalf("Sync on a missing queue: %v", err)
	}
	w, err := Open(ctx, s, Options{Topic: followTopic})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.Put(ctx, "first", []byte("x")); err != nil {
		t.Fatal(err)
	}
	mir.waitFor(t, map[string][]byte{"first": []byte("x")})
	f.Close()
	select {
	case <-f.done:
	default:
		t.Fatal("tail still running after Close")
	}
	if err := f.Sync(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("Sync after Close: %v, want ErrClosed", err)
	}
	if err := f.Promote(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("Promote after Close: %v, want ErrClosed", err)
	}
}
