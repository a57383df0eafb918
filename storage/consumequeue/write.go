package consumequeue

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"syscall"
)

// Append writes units at offset, which must equal MaxOffset; on an empty
// queue (MinOffset == MaxOffset) it may be any offset >= 0, and the units
// of the first file before offset are written as blank units (RocketMQ's
// fillPreBlank). The units go to the tail page (see pending), which reaches
// the file when it fills or at Flush; the new MaxOffset is published after
// them, so the units are visible to readers when Append returns. They are
// durable after Flush. Writer only.
func (q *Queue) Append(offset int64, units []Unit) error {
	if err := q.writable("append", offset); err != nil {
		return err
	}
	for i, u := range units {
		if !u.valid() || u.IsBlank() {
			return fmt.Errorf("consumequeue: append %s@%d: unit %d %+v: %w", q.dir, offset, i, u, ErrInvalidUnit)
		}
	}
	if offset < 0 || int64(len(units)) > q.maxStart()-offset {
		return q.rangeErr("append", offset, 0, q.maxStart())
	}
	if hi := q.max.Load(); offset != hi {
		if q.min.Load() != hi {
			return fmt.Errorf("consumequeue: append %s@%d: max offset is %d: %w", q.dir, offset, hi, ErrNotContiguous)
		}
		if err := q.reset(offset); err != nil {
			return q.fail(err)
		}
	}
	end := offset + int64(len(units))
	for offset < end {
		s, fresh, err := q.segmentFor(offset)
		if err != nil {
			if isNoSpace(err) {
				return err // nothing was published; a retry creates it again
			}
			return q.fail(err)
		}
		if fresh {
			if err := q.fillPreBlank(s, offset%q.upf); err != nil {
				return q.fail(err) // a retry would not write the blanks again
			}
		}
		p, err := q.pendingFor(offset)
		if err != nil {
			return err
		}
		// The page's units end at offset, not at pendN: an Append that
		// failed (a full disk writing out the previous page) may have
		// filled some past MaxOffset, and its retry writes them again.
		at := int(offset - p.start)
		n := min(end-offset, int64(len(p.data)/UnitSize-at))
		b := p.data[at*UnitSize : at*UnitSize]
		for _, u := range units[:n] {
			b = AppendUnit(b, u)
		}
		q.pendN = at + int(n)
		offset, units = offset+n, units[n:]
	}
	q.max.Store(end)
	return nil
}

// fillPreBlank writes blank units over the first k units of the new file
// s, which the queue starts inside of (RocketMQ's fillPreBlank).
func (q *Queue) fillPreBlank(s *segment, k int64) error {
	if k == 0 {
		return nil
	}
	buf := q.buf[:0]
	for range k {
		buf = AppendUnit(buf, blank())
	}
	q.buf = buf
	return q.writeAt(s, buf, 0)
}

// Reset empties the queue and moves MinOffset and MaxOffset to offset,
// which the queue keeps across Open once flushed: every file goes, and the
// file holding offset is created, blank before it (as Append starts an
// empty queue). The store uses it for a queue it rebuilds from a CommitLog
// that no longer holds any of the queue's units, so that the queue's next
// offsets are not handed out again. Writer only.
func (q *Queue) Reset(offset int64) error {
	if err := q.writable("reset", offset); err != nil {
		return err
	}
	if offset < 0 || offset > q.maxStart() {
		return q.rangeErr("reset", offset, 0, q.maxStart())
	}
	if err := q.reset(offset); err != nil {
		return q.fail(err)
	}
	s, _, err := q.segmentFor(offset)
	if err != nil {
		return q.fail(err)
	}
	return q.fillPreBlank(s, offset%q.upf)
}

// Prepare creates the file that the next Append will write into, if it
// does not exist, so that the Append does not (Store.PrepareQueues). Its
// name is durable after the next Flush. Writer only.
func (q *Queue) Prepare() error {
	if err := q.writable("prepare", q.max.Load()); err != nil {
		return err
	}
	offset := q.max.Load()
	if st := q.st.Load(); len(st.segs) > 0 && offset < st.segs[len(st.segs)-1].start+q.upf {
		return nil
	}
	s, fresh, err := q.segmentFor(offset)
	if err != nil {
		if isNoSpace(err) {
			return err
		}
		return q.fail(err)
	}
	if fresh {
		if err := q.fillPreBlank(s, offset%q.upf); err != nil {
			return q.fail(err)
		}
	}
	return nil
}

// pendingUnits is the size of the tail page. Appends land in it and reach
// the file in one write when it fills or on Flush, so a queue of single
// messages costs one pwrite per page instead of one per message.
const pendingUnits = 256

// pending is a tail page of units [start, start+len(data)/UnitSize) of one
// file. Readers see units below MaxOffset in it without locks: the writer
// only ever fills bytes past MaxOffset before publishing the new
// MaxOffset, and a page written out is replaced, never reused, so bytes a
// reader can see never change.
type pending struct {
	start int64
	data  []byte
}

// pendingFor returns a tail page with room for the unit at offset
// (== MaxOffset), writing out the current one when it is full.
func (q *Queue) pendingFor(offset int64) (*pending, error) {
	p := q.pend.Load()
	if p != nil && offset < p.start+int64(len(p.data)/UnitSize) {
		return p, nil
	}
	if err := q.flushPending(); err != nil {
		return nil, err
	}
	n := min(pendingUnits, q.upf-offset%q.upf)
	p = &pending{start: offset, data: make([]byte, n*UnitSize)}
	q.pend.Store(p)
	return p, nil
}

// flushPending writes the tail page's units to their file and retires the
// page. Writer only.
func (q *Queue) flushPending() error {
	p := q.pend.Load()
	if p == nil {
		return nil
	}
	if q.pendN > 0 {
		s, k := q.locate(q.st.Load(), p.start)
		if s == nil {
			return q.fail(fmt.Errorf("consumequeue: %s: no file for pending units at %d", q.dir, p.start))
		}
		if err := q.writeAt(s, p.data[:q.pendN*UnitSize], k); err != nil {
			return err
		}
	}
	q.pend.Store(nil)
	q.pendN = 0
	return nil
}

// dropPending forgets the tail page without writing it (the queue is
// being destroyed).
func (q *Queue) dropPending() {
	q.pend.Store(nil)
	q.pendN = 0
}

// unitBytes returns the encoded unit at offset from the tail page or the
// file view; the caller checked offset < MaxOffset (loaded before this).
func (q *Queue) unitBytes(st *files, offset int64) []byte {
	if p := q.pend.Load(); p != nil && offset >= p.start {
		i := (offset - p.start) * UnitSize
		if i+UnitSize <= int64(len(p.data)) {
			return p.data[i : i+UnitSize]
		}
	}
	s, k := q.locate(st, offset)
	if s == nil {
		return nil
	}
	return s.view[k*UnitSize : (k+1)*UnitSize]
}

// writable returns the error that stops a writer operation, if any.
func (q *Queue) writable(op string, offset int64) error {
	if q.werr != nil {
		return q.werr
	}
	if e := q.serr.Load(); e != nil {
		return *e
	}
	if q.st.Load() == nil {
		return fmt.Errorf("consumequeue: %s %s@%d: %w", op, q.dir, offset, ErrClosed)
	}
	return nil
}

// fail records err as the sticky write error and returns it: after a
// failed write or fsync the queue's file state is unknown, so it refuses
// further writes (the store rebuilds it) instead of pretending.
func (q *Queue) fail(err error) error {
	if q.werr == nil {
		q.werr = err
	}
	return err
}

// writeAt writes b at unit index k of s and marks s for the next Flush.
func (q *Queue) writeAt(s *segment, b []byte, k int64) error {
	if _, err := s.f.WriteAt(b, k*UnitSize); err != nil {
		err = fmt.Errorf("consumequeue: write %s@%d: %w", s.path, k*UnitSize, err)
		if isNoSpace(err) {
			// A full disk: nothing was claimed durable, and the same
			// bytes are written again at the next flush (the tail page
			// stays until written), so the queue goes on once there is
			// space. Any other error leaves the file in an unknown state.
			return err
		}
		return q.fail(err)
	}
	if !s.dirty {
		s.dirty = true
		q.dirty = append(q.dirty, s)
	}
	return nil
}

// segmentFor returns the file that holds offset (== MaxOffset), creating
// it when offset is the first unit past the last file; fresh reports a
// new file, whose units before offset the caller pre-fills with blanks.
func (q *Queue) segmentFor(offset int64) (*segment, bool, error) {
	st := q.st.Load()
	if n := len(st.segs); n > 0 {
		if last := st.segs[n-1]; offset < last.start+q.upf {
			return last, false, nil
		}
	}
	s, err := q.createSegment(q.fileStart(offset))
	if err != nil {
		return nil, false, err
	}
	// Publish before writing: a reader reaches s only below the MaxOffset
	// stored after the write.
	q.st.Store(&files{segs: append(slices.Clip(st.segs), s)})
	return s, true, nil
}

// createSegment creates and maps the file starting at start; its name is
// durable after the next Flush (syncDirs).
func (q *Queue) createSegment(start int64) (*segment, error) {
	p := path.Join(q.dir, fileName(start))
	f, err := q.fs.Create(p)
	if err != nil {
		return nil, fmt.Errorf("consumequeue: create %s: %w", p, err)
	}
	view, err := f.Map(q.fileBytes)
	if err == nil && !slices.Contains(q.syncDirs, q.dir) {
		q.syncDirs = append(q.syncDirs, q.dir)
	}
	if err != nil {
		if view != nil {
			_ = f.Unmap(view)
		}
		_ = f.Close()
		return nil, fmt.Errorf("consumequeue: create %s: %w", p, err)
	}
	return &segment{start: start, path: p, f: f, view: view}, nil
}

// reset empties the queue and moves it to offset: every file goes, since
// the next Append starts a fresh file with a blank pre-fill.
func (q *Queue) reset(offset int64) error {
	q.dropPending()
	q.mu.Lock()
	old := q.st.Swap(&files{})
	q.min.Store(offset)
	q.max.Store(offset)
	q.mu.Unlock()
	if len(old.segs) == 0 {
		return nil
	}
	q.dropDirty(old.segs)
	return q.removeSegments(old.segs)
}

// dropDirty forgets segs, about to be removed, from the Flush list.
func (q *Queue) dropDirty(segs []*segment) {
	q.dirty = slices.DeleteFunc(q.dirty, func(s *segment) bool { return slices.Contains(segs, s) })
}

// Flush fsyncs the files written since the last Flush, then the
// directories of the files and directories created since (files first: a
// name made durable before its data would survive a crash empty, which
// recovery handles, but there is no reason to). An fsync error is sticky:
// every later write and Flush fails with it. Writer only.
func (q *Queue) Flush() error {
	if err := q.writable("flush", q.max.Load()); err != nil {
		return err
	}
	if err := q.flushPending(); err != nil {
		return err
	}
	for len(q.dirty) > 0 {
		s := q.dirty[0]
		if err := s.f.Sync(); err != nil {
			return q.fail(fmt.Errorf("consumequeue: sync %s: %w", s.path, err))
		}
		s.dirty = false
		q.dirty = q.dirty[1:]
	}
	q.dirty = q.dirty[:0]
	for len(q.syncDirs) > 0 {
		if err := q.fs.SyncDir(q.syncDirs[0]); err != nil {
			return q.fail(fmt.Errorf("consumequeue: sync dir %s: %w", q.syncDirs[0], err))
		}
		q.syncDirs = q.syncDirs[1:]
	}
	q.syncDirs = nil
	return nil
}

// isNoSpace reports whether err says the file system is full.
func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}
