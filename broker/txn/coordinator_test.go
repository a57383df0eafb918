package txn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/twinmq/twinmq/storage"
)

func openStore(t *testing.T, dir string) *storage.Store {
	t.Helper()
	s, err := storage.Open(context.Background(), storage.Config{Dir: dir, SegmentSize: 1 << 20,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// recorder is a MarkerWriter and OffsetWriter that records its calls and
// fails while fail is set.
type recorder struct {
	mu      sync.Mutex
	fail    bool
	markers []string
	offsets []Offset
}

var errWrite = errors.New("test: write failed")

func (r *recorder) writeMarkers(_ context.Context, pid int64, epoch int16, commit bool, parts []Partition) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail {
		return errWrite
	}
	for _, p := range parts {
		kind := "abort"
		if commit {
			kind = "commit"
		}
		r.markers = append(r.markers, kind+":"+p.Topic)
	}
	return nil
}

func (r *recorder) writeOffsets(_ context.Context, offs []Offset) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail {
		return errWrite
	}
	r.offsets = append(r.offsets, offs...)
	return nil
}

func openCoordinator(t *testing.T, s *storage.Store, rec *recorder, now func() time.Time) *Coordinator {
	t.Helper()
	next := int64(1000)
	c, err := Open(context.Background(), s, Config{Now: now,
		CheckInterval: time.Hour, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	c.Start(context.Background(), Writers{Markers: rec.writeMarkers, Offsets: rec.writeOffsets,
		Allocate: func() int64 { next++; return next }})
	return c
}

// TestRestartCompletesPreparedCommit: a broker that stops after EndTxn
// recorded PrepareCommit but before its markers were written writes them
// (and the transaction's offsets) at the next start: the transaction is
// applied whole, and its offsets were not visible before.
func TestRestartCompletesPreparedCommit(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openStore(t, dir)
	rec := &recorder{}
	c := openCoordinator(t, s, rec, time.Now)
	pid, epoch, err := c.InitProducer(ctx, "tx", InitRequest{TimeoutMs: 60000, ProducerID: -1, Epoch: -1})
	if err != nil {
		t.Fatal(err)
	}
	must(t, c.AddPartitions(ctx, "tx", pid, epoch, []Partition{{Topic: "out", Partition: 0}, {Topic: "out", Partition: 1}}, false))
	must(t, c.AddOffsets(ctx, "tx", pid, epoch, "g"))
	must(t, c.CommitOffsets(ctx, "tx", pid, epoch, "g", []Offset{{Topic: "in", Partition: 0, Offset: 10}}, false))
	if !c.Pending("g", "in", 0) {
		t.Fatal("offset of the open transaction not pending")
	}
	rec.fail = true
	for range 2 { // the client's retry finds the completion unfinished
		if _, _, err := c.EndTxn(ctx, "tx", pid, epoch, true, false); !errors.Is(err, errWrite) {
			t.Fatalf("end with failing markers: %v", err)
		}
	}
	c.Close()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if len(rec.offsets) != 0 || len(rec.markers) != 0 {
		t.Fatalf("applied before the markers: %v %v", rec.markers, rec.offsets)
	}

	s = openStore(t, dir)
	defer s.Close()
	rec.fail = false
	c = openCoordinator(t, s, rec, time.Now)
	defer c.Close()
	if got := rec.markers; len(got) != 2 || got[0] != "commit:out" || got[1] != "commit:out" {
		t.Fatalf("markers after restart: %v", got)
	}
	if len(rec.offsets) != 1 || rec.offsets[0].Offset != 10 || rec.offsets[0].Group != "g" {
		t.Fatalf("offsets after restart: %+v", rec.offsets)
	}
	m, _ := c.Describe("tx")
	if m.State != CompleteCommit || c.Pending("g", "in", 0) {
		t.Fatalf("state after restart: %+v", m)
	}
	// The client's retried EndTxn succeeds; an abort now is refused.
	must(t, endTxn(ctx, c, "tx", pid, epoch, true))
	if err := endTxn(ctx, c, "tx", pid, epoch, false); !errors.Is(err, ErrInvalidState) {
		t.Fatalf("abort after commit: %v", err)
	}
}

// TestTimeoutAbortsAndFences: an open transaction past its timeout is
// aborted by the sweep, its producer fenced.
func TestTimeoutAbortsAndFences(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	defer s.Close()
	var mu sync.Mutex
	now := time.Unix(1000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	rec := &recorder{}
	c := openCoordinator(t, s, rec, clock)
	defer c.Close()
	pid, epoch, err := c.InitProducer(ctx, "tx", InitRequest{TimeoutMs: 1000, ProducerID: -1, Epoch: -1})
	must(t, err)
	must(t, c.AddPartitions(ctx, "tx", pid, epoch, []Partition{{Topic: "out", Partition: 0}}, false))
	mu.Lock()
	now = now.Add(2 * time.Second)
	mu.Unlock()
	c.sweep(ctx)
	if len(rec.markers) != 1 || rec.markers[0] != "abort:out" {
		t.Fatalf("markers: %v", rec.markers)
	}
	if err := endTxn(ctx, c, "tx", pid, epoch, true); !errors.Is(err, ErrFenced) {
		t.Fatalf("commit after timeout: %v", err)
	}
	if err := c.Abort(ctx, "tx"); !errors.Is(err, ErrInvalidState) {
		t.Fatalf("operator abort of a completed transaction: %v", err)
	}
	if err := c.Abort(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("operator abort of an unknown id: %v", err)
	}
	// Idle for transactional.id.expiration.ms: forgotten, for good.
	mu.Lock()
	now = now.Add(8 * 24 * time.Hour)
	mu.Unlock()
	c.sweep(ctx)
	if _, ok := c.Describe("tx"); ok || len(c.kv.Snapshot()) != 0 {
		t.Fatalf("idle id kept: %v", c.kv.Snapshot())
	}
	if err := endTxn(ctx, c, "tx", pid, epoch+1, false); !errors.Is(err, ErrInvalidMapping) {
		t.Fatalf("EndTxn of a forgotten id: %v", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestBadInputLeavesNothing: requests naming transactional ids never
// initialized get their errors and leave no entry behind (no memory grows
// with garbage ids); nothing is written.
func TestBadInputLeavesNothing(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	defer s.Close()
	c := openCoordinator(t, s, &recorder{}, time.Now)
	defer c.Close()
	for i := range 100 {
		id := fmt.Sprint("garbage-", i)
		if err := endTxn(ctx, c, id, 1, 0, true); !errors.Is(err, ErrInvalidMapping) {
			t.Fatalf("EndTxn: %v", err)
		}
		if err := c.AddPartitions(ctx, id, 1, 0, []Partition{{Topic: "t", Partition: 0}}, false); !errors.Is(err, ErrInvalidMapping) {
			t.Fatalf("AddPartitions: %v", err)
		}
		if err := c.Abort(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Abort: %v", err)
		}
	}
	c.mu.Lock()
	n := len(c.ids)
	c.mu.Unlock()
	if n != 0 || len(c.List()) != 0 || len(c.kv.Snapshot()) != 0 {
		t.Fatalf("%d entries, %d listed, %d records", n, len(c.List()), len(c.kv.Snapshot()))
	}
}

// endTxn is a classic (transaction.version 1) EndTxn.
func endTxn(ctx context.Context, c *Coordinator, id string, pid int64, epoch int16, commit bool) error {
	_, _, err := c.EndTxn(ctx, id, pid, epoch, commit, false)
	return err
}
