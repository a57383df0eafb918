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

// TestReadIdentityFollows: a slave's identity writes nothing, takes the
// cluster id from the master's replicated record and the node id from
// configuration, and becomes the record's writer when promoted.
func TestReadIdentityFollows(t *testing.T) {
	ctx := context.Background()
	logger := slog.New(slog.DiscardHandler)
	s, err := storage.Open(ctx, storage.Config{Dir: t.TempDir(), SegmentSize: 1 << 20, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	f, err := ReadIdentity(ctx, s, 7, logger)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := s.MaxOffset(IdentityTopic, 0); err == nil {
		t.Fatal("ReadIdentity wrote an identity record")
	}
	provisional := f.Identity()
	if provisional.NodeID != 7 || len(provisional.ClusterID) != 22 {
		t.Fatalf("provisional identity %+v", provisional)
	}

	master, stop, err := LoadIdentity(ctx, s, 3, logger)
	if err != nil {
		t.Fatal(err)
	}
	stop()
	if err := f.kv.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got := f.Identity(); got.NodeID != 7 || got.ClusterID != master.ClusterID {
		t.Fatalf("follower identity %+v, want node 7 of cluster %s", got, master.ClusterID)
	}
	end, _ := s.MaxOffset(IdentityTopic, 0)

	promoted, err := f.Promote(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if promoted.NodeID != 7 || promoted.ClusterID != master.ClusterID {
		t.Fatalf("promoted identity %+v", promoted)
	}
	if now, _ := s.MaxOffset(IdentityTopic, 0); now == end {
		t.Fatal("Promote did not write the identity record")
	}
	f.Close()
	again, stop, err := LoadIdentity(ctx, s, -1, logger)
	if err != nil {
		t.Fatal(err)
	}
	stop()
	if again != promoted {
		t.Fatalf("identity after promotion and restart %+v, want %+v", again, promoted)
	}
}
