package broker

import (
	"context"
	"log/slog"
	"testing"

	"github.com/twinmq/twinmq/storage"
)

// TestIdentityStableAcrossRestarts: the node and cluster ids drawn at the
// first start come back after a restart; a pinned node id replaces them.
func TestIdentityStableAcrossRestarts(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	logger := slog.New(slog.DiscardHandler)
	load := func(want int32) Identity {
		t.Helper()
		s, err := storage.Open(ctx, storage.Config{Dir: dir, SegmentSize: 1 << 20, Logger: logger})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		id, stop, err := LoadIdentity(ctx, s, want, logger)
		if err != nil {
			t.Fatal(err)
		}
		stop()
		return id
	}
	first := load(-1)
	if first.NodeID < 1 || first.NodeID > 9999 || len(first.ClusterID) != 22 {
		t.Fatalf("drawn identity %+v", first)
	}
	if again := load(-1); again != first {
		t.Fatalf("identity after restart %+v, want %+v", again, first)
	}
	pinned := load(42)
	if pinned.NodeID != 42 || pinned.ClusterID != first.ClusterID {
		t.Fatalf("pinned identity %+v", pinned)
	}
	if again := load(-1); again.NodeID != 42 {
		t.Fatalf("pinned node id not kept: %+v", again)
	}
}
