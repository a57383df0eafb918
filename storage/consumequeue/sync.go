package consumequeue

import (
	"errors"
	"fmt"
	"io/fs"
)

// A checkpoint used to Flush every queue while it owned the store's
// derived data, so with 1,000 partitions every produce waiting for its
// records to become visible also waited for a thousand fdatasyncs each
// second (issue 19). Flush is now split in two: TakeDirty, by the writer,
// writes the tail page out and takes the list of files and directories
// to sync; Dirty.Sync makes them durable and may run while the writer
// goes on appending. The writer never closes a file while a Sync holds
// the queue's syncMu; a file it closed before (retention, a reset, topic
// deletion) is skipped, as is a directory that is gone: the checkpoint
// that wanted them is discarded by the store in that case (a checkpoint
// written since), and otherwise recovery rebuilds what is missing.

// Dirty is what one TakeDirty took from a queue for Sync.
type Dirty struct {
	q    *Queue
	segs []*segment
	dirs []string
}

// TakeDirty writes the tail page out and takes the files written and the
// directories given new entries since the last Flush or TakeDirty, for
// Dirty.Sync. Until that Sync returns, they are not durable. Writer only.
func (q *Queue) TakeDirty() (Dirty, error) {
	if err := q.writable("flush", q.max.Load()); err != nil {
		return Dirty{}, err
	}
	if err := q.flushPending(); err != nil {
		return Dirty{}, err
	}
	d := Dirty{q: q, segs: q.dirty, dirs: q.syncDirs}
	for _, s := range d.segs {
		s.dirty = false
	}
	q.dirty, q.syncDirs = nil, nil
	return d, nil
}

// Sync makes what TakeDirty took durable. It may run concurrently with
// the writer (and with readers). A failure is sticky: the queue's later
// writes and Flushes fail with it.
func (d Dirty) Sync() error {
	if d.q == nil || len(d.segs)+len(d.dirs) == 0 {
		return nil
	}
	q := d.q
	q.syncMu.Lock()
	defer q.syncMu.Unlock()
	for _, s := range d.segs {
		if s.closed {
			continue
		}
		if err := s.f.Sync(); err != nil {
			return q.failSync(fmt.Errorf("consumequeue: sync %s: %w", s.path, err))
		}
	}
	if q.gone {
		return nil // destroyed: its directories with it
	}
	for _, dir := range d.dirs {
		if err := q.fs.SyncDir(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return q.failSync(fmt.Errorf("consumequeue: sync dir %s: %w", dir, err))
		}
	}
	return nil
}

// failSync records a Sync's error for the writer (writable). The caller
// holds syncMu.
func (q *Queue) failSync(err error) error {
	q.serr.CompareAndSwap(nil, &err)
	return err
}
