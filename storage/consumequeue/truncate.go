package consumequeue

import (
	"fmt"
)

// TruncateAfterCommitLogOffset drops the trailing units whose
// CommitLogOffset is >= clOffset (recovery after the CommitLog's torn tail
// was cut): it binary-searches the first such unit in [MinOffset,
// MaxOffset), truncates its file there, fsyncs that file, and removes later
// files durably. MaxOffset moves back to that unit; MinOffset stays, so the
// queue may become empty. Writer only.
func (q *Queue) TruncateAfterCommitLogOffset(clOffset int64) error {
	if err := q.writable("truncate", clOffset); err != nil {
		return err
	}
	if err := q.flushPending(); err != nil {
		return err
	}
	st := q.st.Load()
	lo, hi := q.min.Load(), q.max.Load()
	n := q.searchCommitLog(st, lo, hi, clOffset)
	if n == hi {
		return nil
	}
	keep, drop := q.split(st, func(s *segment) bool { return s.start < n })
	q.mu.Lock()
	q.max.Store(n)
	q.st.Store(&files{segs: keep})
	var terr error
	var tail *segment
	if len(keep) > 0 {
		// Shrink rather than zero: a size change cannot tear into a mix of
		// old and new bytes. Readers are excluded, and none reads past the
		// MaxOffset they load after Unlock.
		tail = keep[len(keep)-1]
		if err := tail.f.Truncate((n - tail.start) * UnitSize); err != nil {
			terr = q.fail(fmt.Errorf("consumequeue: truncate %s@%d: %w", tail.path, (n-tail.start)*UnitSize, err))
		}
	}
	q.mu.Unlock()
	if terr != nil {
		return terr
	}
	if tail != nil {
		if err := tail.f.Sync(); err != nil {
			return q.fail(fmt.Errorf("consumequeue: sync %s: %w", tail.path, err))
		}
	}
	if len(drop) == 0 {
		return nil
	}
	q.dropDirty(drop)
	if err := q.removeSegments(drop); err != nil {
		return q.fail(err)
	}
	return nil
}

// split partitions the snapshot's segments into those for which keep
// returns true (a prefix or a suffix) and the rest.
func (q *Queue) split(st *files, keep func(*segment) bool) (kept, dropped []*segment) {
	for _, s := range st.segs {
		if keep(s) {
			kept = append(kept, s)
		} else {
			dropped = append(dropped, s)
		}
	}
	return kept, dropped
}

// SetMinOffset moves MinOffset forward to offset (Kafka DeleteRecords,
// retention). Files entirely below offset are removed durably; in the file
// holding offset the units below it are overwritten with blank units and
// the file is fsynced, so that the new minimum survives a reopen. When
// offset is MaxOffset and a multiple of the units per file, no file holds
// it: the file that starts there is created, empty, before the others go. (A power
// loss during that fsync may tear a unit into a mix of blank and old
// bytes, which Open may take for a valid unit and so reopen the queue
// with a minimum below the new one; the store's recovery re-applies only
// the minimum of its last checkpoint, with SetMinOffset, and the store
// writes that checkpoint after this fsync.) An
// offset at or below MinOffset does nothing; above MaxOffset it is
// ErrOffsetOutOfRange. Writer only.
func (q *Queue) SetMinOffset(offset int64) error {
	if err := q.writable("set min", offset); err != nil {
		return err
	}
	if err := q.flushPending(); err != nil {
		return err
	}
	lo, hi := q.min.Load(), q.max.Load()
	if offset <= lo {
		return nil
	}
	if offset > hi {
		return q.rangeErr("set min", offset, lo, hi+1)
	}
	keep, drop := q.split(q.st.Load(), func(s *segment) bool { return s.start+q.upf > offset })
	if len(keep) == 0 {
		// offset is MaxOffset and starts a file: every file lies below
		// it. The queue keeps its position on disk in the (empty) file
		// that starts there, as RocketMQ never deletes a ConsumeQueue's
		// last file; without any file Open would find an empty queue at
		// 0 and the queue's offsets would be handed out again.
		s, err := q.createSegment(offset)
		if err != nil {
			return q.fail(err)
		}
		keep = []*segment{s}
	}
	q.mu.Lock()
	q.min.Store(offset)
	q.st.Store(&files{segs: keep})
	var berr error
	if len(keep) > 0 && keep[0].start < offset {
		berr = q.blankBelow(keep[0], max(lo, keep[0].start)-keep[0].start, offset-keep[0].start)
	}
	q.mu.Unlock()
	if berr != nil {
		return berr
	}
	if len(keep) > 0 && keep[0].start < offset {
		if err := keep[0].f.Sync(); err != nil {
			return q.fail(fmt.Errorf("consumequeue: sync %s: %w", keep[0].path, err))
		}
	}
	if len(drop) == 0 {
		return nil
	}
	q.dropDirty(drop)
	if err := q.removeSegments(drop); err != nil {
		return q.fail(err)
	}
	return nil
}

// blankBelow overwrites units [from, to) of s with blank units. The caller
// holds q.mu for writing.
func (q *Queue) blankBelow(s *segment, from, to int64) error {
	const chunk = 4096 // units per WriteAt
	buf := q.buf[:0]
	for range min(to-from, chunk) {
		buf = AppendUnit(buf, blank())
	}
	q.buf = buf
	for from < to {
		n := min(to-from, chunk)
		if err := q.writeAt(s, buf[:n*UnitSize], from); err != nil {
			return err
		}
		from += n
	}
	return nil
}

// DeleteBeforeCommitLogOffset moves MinOffset to the first unit whose
// CommitLogOffset is >= clMin (retention after the CommitLog deleted
// segments below clMin), as SetMinOffset. Writer only.
func (q *Queue) DeleteBeforeCommitLogOffset(clMin int64) error {
	if err := q.writable("delete before", clMin); err != nil {
		return err
	}
	if err := q.flushPending(); err != nil {
		return err
	}
	target := q.searchCommitLog(q.st.Load(), q.min.Load(), q.max.Load(), clMin)
	return q.SetMinOffset(target)
}
