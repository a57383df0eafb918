package offsets

import (
	"context"
	"testing"
	"time"
)

func TestCommitAsync(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openStore(t, dir)
	tab, err := Open(ctx, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	tab.CommitAsync("g", "t", 0, 5)
	tab.CommitAsync("g", "t", 0, 6) // coalesced with the first
	if off, ok := tab.Fetch("g", "t", 0); !ok || off != 6 {
		t.Fatalf("pending offset not visible: %d %v", off, ok)
	}
	if l := tab.List("g", ""); len(l) != 1 || l[0].Offset != 6 {
		t.Fatalf("List with a pending offset: %+v", l)
	}
	// The periodic flush writes it without Close.
	deadline := time.Now().Add(10 * time.Second)
	for {
		tab.mu.RLock()
		n := len(tab.pending)
		tab.mu.RUnlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("pending offset never written")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// A synchronous commit supersedes a pending one; Close writes what is left.
	tab.CommitAsync("g", "t", 1, 10)
	if err := tab.Commit(ctx, "g", "t", 1, 3); err != nil {
		t.Fatal(err)
	}
	tab.CommitAsync("g", "t", 2, 20)
	tab.Close()
	s.Close()

	s = openStore(t, dir)
	defer s.Close()
	tab, err = Open(ctx, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tab.Close()
	for _, c := range []struct {
		q    int32
		want int64
	}{{0, 6}, {1, 3}, {2, 20}} {
		if off, ok := tab.Fetch("g", "t", c.q); !ok || off != c.want {
			t.Fatalf("queue %d after reopen: %d %v, want %d", c.q, off, ok, c.want)
		}
	}
	tab.CommitAsync("g", "t", 3, 1)
	if n, err := tab.Delete(ctx, "g", ""); err != nil || n != 4 {
		t.Fatalf("Delete with a pending offset: %d %v", n, err)
	}
	if _, ok := tab.Fetch("g", "t", 3); ok {
		t.Fatal("pending offset survived Delete")
	}
}
