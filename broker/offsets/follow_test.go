package offsets

import (
	"context"
	"errors"
	"reflect"
	"testing"
)

// TestFollowerOverlay: a follower on the master's store follows the
// master's commits, keeps its own commits in a memory-only overlay that
// the master's next record for the key replaces, refuses deletions, and
// writes the overlay when promoted.
func TestFollowerOverlay(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	defer s.Close()
	m, err := Open(ctx, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Commit(ctx, "g", "t", 0, 10); err != nil {
		t.Fatal(err)
	}
	f, err := OpenWith(ctx, s, Options{Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fetch := func(tab *Table, q int32) int64 {
		t.Helper()
		off, ok := tab.Fetch("g", "t", q)
		if !ok {
			return -1
		}
		return off
	}
	if got := fetch(f, 0); got != 10 {
		t.Fatalf("follower fetch after Open: %d, want 10", got)
	}
	if err := m.Commit(ctx, "g", "t", 1, 20); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got := fetch(f, 1); got != 20 {
		t.Fatalf("follower fetch of a replicated commit: %d, want 20", got)
	}

	// Commits to the follower: readable there, written nowhere.
	end, _ := s.MaxOffset(InternalTopic, 0)
	if err := f.Commit(ctx, "g", "t", 0, 15); err != nil {
		t.Fatal(err)
	}
	f.CommitAsync("g", "t", 2, 7)
	meta := Value{Offset: 3, LeaderEpoch: 5, Metadata: "m"}
	if err := f.CommitValue(ctx, Key{"h", "t", 0}, meta); err != nil {
		t.Fatal(err)
	}
	f.flushPending(ctx) // what the flush loop does: nothing on a follower
	if now, _ := s.MaxOffset(InternalTopic, 0); now != end {
		t.Fatalf("commits to a follower wrote records: max offset %d -> %d", end, now)
	}
	if got := fetch(f, 0); got != 15 {
		t.Fatalf("follower fetch of its own commit: %d, want 15", got)
	}
	if got := fetch(m, 0); got != 10 {
		t.Fatalf("master fetch: %d, want 10 (the follower's commit is not the master's)", got)
	}
	if v, _ := f.FetchValue(Key{"h", "t", 0}); v != meta {
		t.Fatalf("follower FetchValue = %+v, want %+v", v, meta)
	}
	want := []Entry{{Key{"g", "t", 0}, 15}, {Key{"g", "t", 1}, 20}, {Key{"g", "t", 2}, 7}}
	if got := f.List("g", ""); !reflect.DeepEqual(got, want) {
		t.Fatalf("follower List = %v, want %v", got, want)
	}
	if got := f.Groups(); !reflect.DeepEqual(got, []string{"g", "h"}) {
		t.Fatalf("follower Groups = %v", got)
	}

	// The master's record for a key replaces the overlay entry.
	if err := m.Commit(ctx, "g", "t", 0, 12); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got := fetch(f, 0); got != 12 {
		t.Fatalf("follower fetch after the master's commit: %d, want 12", got)
	}

	if err := f.Remove(ctx, Key{"g", "t", 0}); !errors.Is(err, ErrFollower) {
		t.Fatalf("Remove on a follower: %v, want ErrFollower", err)
	}
	if _, err := f.Delete(ctx, "g", ""); !errors.Is(err, ErrFollower) {
		t.Fatalf("Delete on a follower: %v, want ErrFollower", err)
	}

	// Failover: the master stops, the follower is promoted and writes
	// its overlay.
	m.Close()
	if err := f.Promote(ctx); err != nil {
		t.Fatal(err)
	}
	if f.Following() {
		t.Fatal("still a follower after Promote")
	}
	if err := f.Commit(ctx, "g", "t", 1, 21); err != nil {
		t.Fatal(err)
	}
	f.Close()
	again, err := Open(ctx, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	want = []Entry{{Key{"g", "t", 0}, 12}, {Key{"g", "t", 1}, 21}, {Key{"g", "t", 2}, 7}, {Key{"h", "t", 0}, 3}}
	if got := again.List("", ""); !reflect.DeepEqual(got, want) {
		t.Fatalf("after promotion and reopen: %v, want %v", got, want)
	}
	if v, _ := again.FetchValue(Key{"h", "t", 0}); v != meta {
		t.Fatalf("after reopen FetchValue = %+v, want %+v", v, meta)
	}
}
