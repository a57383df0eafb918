package consumequeue

import (
	"errors"
	"sync"
	"testing"

	"github.com/twinmq/twinmq/storage/vfs"
)

// TestTakeDirtySync: what TakeDirty took is durable once Sync returns,
// while the writer goes on appending meanwhile; appends after TakeDirty
// wait for the next one.
func TestTakeDirtySync(t *testing.T) {
	m := vfs.NewMem()
	q := mustOpen(t, m, "/data/cq/T/0", 4)
	mustAppend(t, q, 0, 10)
	d, err := q.TakeDirty()
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := d.Sync(); err != nil {
			t.Error(err)
		}
	})
	mustAppend(t, q, 10, 30) // the writer, concurrently
	wg.Wait()
	// What was taken survives a crash; the Sync may have covered some
	// of the concurrent appends too.
	c := mustOpen(t, m.CrashClone(vfs.CrashConfig{}), "/data/cq/T/0", 4)
	if hi := c.MaxOffset(); hi < 10 {
		t.Fatalf("after a crash: %d units, want at least the 10 taken", hi)
	}
	checkQueue(t, c, 0, c.MaxOffset())
	d, err = q.TakeDirty()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Sync(); err != nil {
		t.Fatal(err)
	}
	checkQueue(t, mustOpen(t, m.CrashClone(vfs.CrashConfig{}), "/data/cq/T/0", 4), 0, 40)
}

// TestTakeDirtyClosedMeanwhile: files the writer removed (retention) or a
// queue destroyed after TakeDirty are skipped by Sync, not an error.
func TestTakeDirtyClosedMeanwhile(t *testing.T) {
	m := vfs.NewMem()
	q := mustOpen(t, m, "/data/cq/T/0", 4)
	mustAppend(t, q, 0, 12)
	d, err := q.TakeDirty()
	if err != nil {
		t.Fatal(err)
	}
	if err := q.DeleteBeforeCommitLogOffset(unitAt(8).CommitLogOffset); err != nil {
		t.Fatal(err)
	}
	if err := d.Sync(); err != nil {
		t.Fatalf("Sync after retention removed files: %v", err)
	}
	checkQueue(t, q, 8, 12)
	mustAppend(t, q, 12, 5)
	d, err = q.TakeDirty()
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Destroy(); err != nil {
		t.Fatal(err)
	}
	if err := d.Sync(); err != nil {
		t.Fatalf("Sync after Destroy: %v", err)
	}
}

// TestTakeDirtySyncErrorSticky: a failed Sync fails the queue's later
// writes and Flushes, as a failed Flush does.
func TestTakeDirtySyncErrorSticky(t *testing.T) {
	boom := errors.New("disk on fire")
	m := vfs.NewMem()
	q := mustOpen(t, m, "/q", 4)
	mustAppend(t, q, 0, 6)
	d, err := q.TakeDirty()
	if err != nil {
		t.Fatal(err)
	}
	m.InjectError(func(op vfs.Op, _ string) error {
		if op == vfs.OpSync {
			return boom
		}
		return nil
	})
	if err := d.Sync(); !errors.Is(err, boom) {
		t.Fatalf("Sync: %v, want %v", err, boom)
	}
	m.InjectError(nil)
	if err := q.Append(6, unitsFrom(6, 1)); !errors.Is(err, boom) {
		t.Fatalf("Append after a failed Sync: %v, want the sticky %v", err, boom)
	}
	if err := q.Flush(); !errors.Is(err, boom) {
		t.Fatalf("Flush after a failed Sync: %v, want the sticky %v", err, boom)
	}
	checkQueue(t, q, 0, 6)
}
