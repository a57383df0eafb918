package commitlog

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twinmq/twinmq/storage/vfs"
)

// Options configures a Log.
type Options struct {
	FS           vfs.FS
	Dir          string
	SegmentSize  int64
	MaxEntrySize int
	// ZeroAhead keeps the active segment's file zero-filled this many
	// bytes past the write position, so an append overwrites allocated
	// blocks and fdatasync flushes only data, not the file size and block
	// map (about 1.5x faster fsyncs measured on ext4 here). 0 disables.
	ZeroAhead int64
	// MappedWrites stores appended bytes through the segment's mapping
	// into the zero-filled space (ZeroAhead > 0) instead of writing them
	// with pwrite: an ASYNC_FLUSH append then makes no system call. Not
	// for SYNC_FLUSH: each group's fdatasync write-protects the pages
	// just stored into and the next stores fault on them again; 64
	// SYNC_FLUSH appenders ran 1.8x slower that way (3.4x in 2 MiB
	// folios).
	MappedWrites bool
	// MappedMinUnflushed overrides mappedMinUnflushed, the unflushed
	// bytes past which MappedWrites stores (0: the default; negative:
	// from the first byte, for tests).
	MappedMinUnflushed int64
	// ResidentSegments bounds the sealed segments whose pages stay in the
	// process's resident set: after each Flush the pages of older sealed,
	// flushed segments that were read since are evicted (vfs.Evicter),
	// so that resident memory does not grow with everything written
	// since start (issue 19). 0 keeps every segment resident.
	ResidentSegments int
	Logger           *slog.Logger
	// Now is the wall clock store times come from; Append never lets them
	// go back (see the package doc).
	Now func() time.Time
}

// Position is where an appended entry landed.
type Position struct {
	Phys        int64 // physical offset of the entry
	Size        int32 // whole entry size
	QueueOffset int64 // first logical offset
	StoreTime   int64 // ms since the epoch
}

// Log is the CommitLog: one append-only log for all topics.
//
// Lock order: mu and flushMu are never held together (but by a
// replica's Truncate, flushMu then mu). Append holds mu and never
// flushes; Flush holds flushMu and never takes mu, so an append never
// waits for an fsync. segs is copy-on-write (replaced under mu, or
// by Recover before the log is shared): readers load it without a lock.
// See the package doc.
type Log struct {
	opt Options

	// mu serializes appends and guards active, queueNext, buf, closed,
	// zeroed, zeros and storeTime.
	mu        sync.Mutex
	active    *segment
	queueNext map[queueKey]int64
	buf       []byte
	closed    bool
	zeroed    int64  // the active file is zero-filled up to here
	zeros     []byte // zeroPiece zero bytes, allocated on first use
	storeTime int64  // the last store time stamped: the next is never below
	// The zero-filler goroutine (zerofill.go): zeroFill is its claimed
	// fill, if any; zeroKick wakes it, zeroDone is closed when it ends.
	zeroFill    *zeroFill
	zeroKick    chan struct{}
	zeroDone    chan struct{}
	inlineFills int64 // zero-fills made by appends (zeroAheadLocked), for tests
	noFiller    bool  // tests of the inline zero-fill turn the filler off

	// Readers and the dispatcher load segs and written all the time; keep
	// them off the cache line the appender writes under mu.
	_       [64]byte
	segs    atomic.Pointer[[]*segment]
	written atomic.Int64 // every byte below is written (WriteAt or a store)
	flushed atomic.Int64 // every byte below is durable
	// recentFlushed is how many bytes the last two Flushes made durable:
	// the append rate over at least one flush interval (writeLocked).
	// Two, because the store's checkpoint (every second) flushes too,
	// between two periodic flushes: the last flush alone may cover a few
	// milliseconds of appends.
	recentFlushed atomic.Int64
	failed        atomic.Pointer[error]
	// replica refuses local appends and allows AppendReplica; set under
	// mu (SetReplica), so a role switch waits for the append under way.
	replica atomic.Bool

	flushMu   sync.Mutex // one fsync pass at a time
	lastFlush int64      // bytes the last Flush made durable (flushMu)
}

type queueKey struct {
	topic string
	queue int32
}

// Open opens the segments in opt.Dir. It does not validate their contents:
// call Recover before appending. Reads before Recover (the store's
// rebuild of a ConsumeQueue below the checkpoint) are safe: no read
// touches a segment past the size its file had at Open, so a file damaged
// short reads as ErrCorrupt, never as a fault.
func Open(opt Options) (*Log, error) {
	if err := vfs.MkdirAllDurable(opt.FS, opt.Dir); err != nil {
		return nil, fmt.Errorf("commitlog: mkdir %s: %w", opt.Dir, err)
	}
	names, err := opt.FS.List(opt.Dir)
	if err != nil {
		return nil, fmt.Errorf("commitlog: list %s: %w", opt.Dir, err)
	}
	l := &Log{opt: opt, queueNext: make(map[queueKey]int64)}
	var segs []*segment
	for _, n := range names {
		start, ok := parseSegmentName(n)
		if !ok {
			closeAll(segs)
			return nil, fmt.Errorf("commitlog: %s/%s: not a segment name: %w", opt.Dir, n, ErrCorrupt)
		}
		if start%opt.SegmentSize != 0 {
			closeAll(segs)
			return nil, fmt.Errorf("commitlog: %s/%s: start not a multiple of the segment size %d (another segmentSize?): %w",
				opt.Dir, n, opt.SegmentSize, ErrCorrupt)
		}
		s, err := openSegment(opt.FS, opt.Dir, start, opt.SegmentSize, false)
		if err != nil {
			closeAll(segs)
			return nil, err
		}
		if len(segs) > 0 && segs[len(segs)-1].start+opt.SegmentSize != start {
			closeAll(append(segs, s))
			return nil, fmt.Errorf("commitlog: %s: segment missing before it: %w", s.name, ErrCorrupt)
		}
		segs = append(segs, s)
	}
	l.segs.Store(&segs)
	return l, nil
}

func closeAll(segs []*segment) {
	for _, s := range segs {
		s.release()
	}
}

// MinOffset is the first physical offset still stored.
func (l *Log) MinOffset() int64 {
	segs := *l.segs.Load()
	if len(segs) == 0 {
		return 0
	}
	return segs[0].start
}

// WrittenOffset is the end of the bytes handed to the file system.
func (l *Log) WrittenOffset() int64 { return l.written.Load() }

// FlushedOffset is the end of the durable bytes.
func (l *Log) FlushedOffset() int64 { return l.flushed.Load() }

// Err reports the failure that made the log refuse writes, if any.
func (l *Log) Err() error {
	if p := l.failed.Load(); p != nil {
		return *p
	}
	return nil
}

func (l *Log) fail(err error) error {
	err = fmt.Errorf("%w: %w", ErrFailed, err)
	l.failed.CompareAndSwap(nil, &err)
	return err
}

// SetQueueOffset sets the next logical offset of a queue (after recovery,
// from the ConsumeQueue).
func (l *Log) SetQueueOffset(topic string, queue int32, next int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.queueNext[queueKey{topic, queue}] = next
}

// SetStoreTime raises the store time Append never goes below to ms: after
// recovery, the newest entry's, so store times do not go back across a
// restart either.
func (l *Log) SetStoreTime(ms int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.storeTime = max(l.storeTime, ms)
}

// QueueOffset reports the next logical offset the log will assign.
func (l *Log) QueueOffset(topic string, queue int32) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.queueNext[queueKey{topic, queue}]
}

// DeleteTopic appends a topic-deletion record for topic (see
// DeletionQueueID) and forgets the next offsets of the topic's queues,
// both under the append lock: the topic's entries before the record are
// the deleted topic's, those after it a new topic's of the same name,
// whose offsets start at 0 again. Whoever rebuilds queues from the log
// (the store's dispatch and recovery) drops the topic's queues at the
// record, so a topic deleted and created again never serves the old
// records, however its queues are rebuilt. The record is written, not
// durable: see Flush.
func (l *Log) DeleteTopic(topic string) (Position, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return Position{}, ErrClosed
	}
	if err := l.Err(); err != nil {
		return Position{}, err
	}
	if l.replica.Load() {
		return Position{}, ErrReplica
	}
	rec := []Entry{{Kind: KindInternal, Topic: topic, QueueID: DeletionQueueID, Count: 1}}
	if _, _, err := rec[0].encodedSize(); err != nil {
		return Position{}, err
	}
	for k := range l.queueNext {
		if k.topic == topic {
			delete(l.queueNext, k)
		}
	}
	pos, err := l.appendLocked(rec, nil)
	delete(l.queueNext, queueKey{topic, DeletionQueueID})
	if err != nil {
		return Position{}, err
	}
	return pos[0], nil
}

// Append writes entries, in order, with consecutive logical offsets per
// queue, and returns where each landed. The bytes are written but not yet
// durable: see Flush.
//
// Queue offsets advance before the write: every entry is validated first,
// then each takes its offsets from queueNext while it is encoded, and the
// buffer is written last. That is safe only because every failure after
// validation (the write, a roll, the zero-fill) fails the log for good
// (l.fail): no later entry is written past the offsets the failed call
// consumed, and the next Open sets queueNext from the ConsumeQueues that
// recovery rebuilt from what the log holds. A new error path here must
// fail the log too. After an error, entries before a failed roll may have
// been written and the positions returned are not to be trusted.
func (l *Log) Append(entries []Entry, pos []Position) ([]Position, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return pos, ErrClosed
	}
	if err := l.Err(); err != nil {
		return pos, err
	}
	if l.replica.Load() {
		return pos, ErrReplica
	}
	// Validate everything first: a bad entry must fail the call before
	// any entry consumes queue offsets.
	if err := l.Validate(entries); err != nil {
		return pos, err
	}
	return l.appendLocked(entries, pos)
}

// appendLocked appends validated entries; see Append. l.mu is held.
func (l *Log) appendLocked(entries []Entry, pos []Position) ([]Position, error) {
	// A wall clock may step back; store times must not (package doc).
	now := max(l.opt.Now().UnixMilli(), l.storeTime)
	l.storeTime = now
	bufStart := l.written.Load()
	l.buf = l.buf[:0]
	rolled := 0 // entries[:rolled] are in the log: a roll wrote them
	for i := range entries {
		e := &entries[i]
		hdr, total, err := e.encodedSize()
		if err != nil {
			return pos, err
		}
		phys := bufStart + int64(len(l.buf))
		if l.active == nil || phys+int64(total)+BlankSize > l.active.start+l.opt.SegmentSize {
			prev := bufStart
			if bufStart, err = l.rollLocked(bufStart); err != nil {
				if l.written.Load() > prev && i > rolled {
					rolled = i // the roll sealed the segment behind them: they are in
				}
				return l.refusedLocked(entries[:i], rolled, pos, err)
			}
			phys = bufStart
			rolled = i
		}
		k := queueKey{e.Topic, e.QueueID}
		qo := l.queueNext[k]
		l.queueNext[k] = qo + int64(e.Count)
		at := len(l.buf)
		l.buf = appendEntry(l.buf, e, hdr, total)
		stamp(l.buf[at:], e, phys, qo, now)
		pos = append(pos, Position{Phys: phys, Size: int32(total), QueueOffset: qo, StoreTime: now})
	}
	if err := l.writeLocked(bufStart); err != nil {
		return l.refusedLocked(entries, rolled, pos, err)
	}
	return pos, nil
}

// refusedLocked ends an append that failed with err after entries took
// their queue offsets (entries[:rolled] written by a roll). A full disk
// (ErrNoSpace) with nothing of the call in the log gives the offsets
// back and refuses the call alone; the log stays usable. Any other error
// has failed the log already (see Append). l.mu is held.
func (l *Log) refusedLocked(entries []Entry, rolled int, pos []Position, err error) ([]Position, error) {
	if !errors.Is(err, ErrNoSpace) {
		return pos, err
	}
	if rolled > 0 {
		// Entries before the roll are in the log and will be read:
		// refusing the call would have them written again. Rare (a roll
		// inside a multi-entry append on a full disk), so the log fails
		// as for any other write error.
		return pos, l.fail(err)
	}
	for i := len(entries) - 1; i >= 0; i-- {
		e := &entries[i]
		l.queueNext[queueKey{e.Topic, e.QueueID}] -= int64(e.Count)
	}
	l.buf = l.buf[:0]
	return pos[:len(pos)-len(entries)], err
}

// Validate reports whether Append would accept entries, without
// appending them.
func (l *Log) Validate(entries []Entry) error {
	for i := range entries {
		if q := entries[i].QueueID; q < 0 {
			return fmt.Errorf("commitlog: queue id %d: negative ids are reserved (DeletionQueueID)", q)
		}
		_, total, err := entries[i].encodedSize()
		if err != nil {
			return err
		}
		if total > l.opt.MaxEntrySize {
			return fmt.Errorf("commitlog: entry of %d bytes, limit %d: %w", total, l.opt.MaxEntrySize, ErrEntryTooLarge)
		}
	}
	return nil
}

// writeLocked writes l.buf at bufStart in the active segment. With
// MappedWrites and ZeroAhead, once more than mappedMinUnflushed bytes
// wait for the next flush, or the last two flushes made more than that
// durable (appends come at least that fast), the bytes are stored through
// the segment's mapping into space already zero-filled (allocated, inside
// the file): no system call, where a pwrite of 1 KiB costs more than
// everything else an append does. A full disk fails the zero-fill's
// WriteAt, never a store. Otherwise the bytes go by WriteAt. Every error
// fails the log (see Append).
func (l *Log) writeLocked(bufStart int64) error {
	if len(l.buf) == 0 {
		return nil
	}
	end := bufStart + int64(len(l.buf))
	if za, _ := l.zeroAhead(); end+za/2 >= l.zeroed {
		l.waitZeroLocked() // the filler may be writing there, or about to give the zeros needed
	}
	if err := l.zeroAheadLocked(end); err != nil {
		return err
	}
	off := bufStart - l.active.start
	unflushed := end - l.flushed.Load()
	if l.opt.MappedWrites && end <= l.zeroed && max(unflushed, l.recentFlushed.Load()) > l.mappedMin() {
		copy(l.active.view[off:], l.buf)
		if err := l.active.file.Wrote(l.active.view, off, len(l.buf)); err != nil {
			return l.fail(fmt.Errorf("store %s@%d: %w", l.active.name, off, err))
		}
	} else if n, err := l.active.file.WriteAt(l.buf, off); err != nil {
		err = fmt.Errorf("write %s@%d: %w", l.active.name, off, err)
		if isNoSpace(err) {
			return l.undoTornLocked(off, n, err)
		}
		return l.fail(err)
	}
	l.written.Store(end)
	l.buf = l.buf[:0]
	if za, _ := l.zeroAhead(); za > 0 {
		l.kickZeroLocked(end, za)
	}
	return nil
}

// zeroAheadLocked extends the active file with zeros, before a write that
// ends at end, once end comes within half of ZeroAhead of the zero-filled
// end: the file then holds at least ZeroAhead/2 zeros past the write.
// Zeros read as the end of the log, so recovery stops there as at a file
// end. With MappedWrites the zeros go in aligned pieces of
// mappedZeroPiece, at least two of them ahead.
func (l *Log) zeroAheadLocked(end int64) error {
	za, piece := l.zeroAhead()
	if za <= 0 || l.active == nil || end+za/2 < l.zeroed {
		return nil
	}
	segEnd := l.active.start + l.opt.SegmentSize
	from := l.zeroed
	to := min(max(end, from)+za, segEnd)
	if l.opt.MappedWrites {
		to = min(alignUp(to-l.active.start, piece)+l.active.start, segEnd)
	}
	if int64(len(l.zeros)) < min(za, piece) {
		l.zeros = make([]byte, min(za, piece))
	}
	if from < to {
		l.inlineFills++
	}
	for from < to {
		// Up to the next multiple of the piece size in the file.
		rel := from - l.active.start
		n := min(to-from, alignUp(rel+1, piece)-rel, int64(len(l.zeros)))
		if _, err := l.active.file.WriteAt(l.zeros[:n], rel); err != nil {
			err = fmt.Errorf("zero-fill %s@%d: %w", l.active.name, rel, err)
			if isNoSpace(err) {
				// Zeros read as the end of the log, so whatever part of
				// them reached the file is harmless: nothing to undo.
				return fmt.Errorf("commitlog: %w: %w", ErrNoSpace, err)
			}
			return l.fail(err)
		}
		from += n
		l.zeroed = from
	}
	return nil
}

func alignUp(n, to int64) int64 { return (n + to - 1) / to * to }

// isNoSpace reports whether err says the file system is full.
func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// undoTornLocked removes the n bytes that a write at off (relative to the
// active segment) failing with cause, a full disk, left in the file
// (WriteAt reports how many it wrote before the error), so that no entry
// of the refused call can be found there by a later recovery (an entry
// of it written whole, behind a shorter entry written at the same place
// later, would read as valid). Inside the
// zero-filled space the bytes are zeroed again (overwriting allocated
// blocks needs no space); past it the file is cut at off. If that fails
// too, the log fails.
func (l *Log) undoTornLocked(off int64, n int, cause error) error {
	s := l.active
	switch {
	case n <= 0:
	case s.start+off+int64(n) <= l.zeroed:
		if int64(len(l.zeros)) < int64(min(n, zeroPiece)) {
			l.zeros = make([]byte, min(n, zeroPiece))
		}
		for done := 0; done < n; {
			k := min(n-done, len(l.zeros))
			if _, err := s.file.WriteAt(l.zeros[:k], off+int64(done)); err != nil {
				return l.fail(fmt.Errorf("%w; zeroing it again: %w", cause, err))
			}
			done += k
		}
	default:
		l.waitZeroLocked()
		if err := s.file.Truncate(off); err != nil {
			return l.fail(fmt.Errorf("%w; cutting it off: %w", cause, err))
		}
		l.zeroed = min(l.zeroed, s.start+off)
	}
	return fmt.Errorf("commitlog: %w: %w", ErrNoSpace, cause)
}

func (l *Log) mappedMin() int64 {
	if m := l.opt.MappedMinUnflushed; m != 0 {
		return m
	}
	return mappedMinUnflushed
}

// zeroPiece bounds one zero-fill write. The page cache backs a large
// write with large folios, and every later small write into a folio walks
// all of its blocks: on ext4 (Linux 6.18 here), 1 KiB appends into space
// zero-filled 1 MiB at a time ran at half the speed of appends into space
// filled 256 KiB at a time (and at 0.6x of extending a file, against
// 1.4x). fdatasync of 56 KiB groups was the same either way.
const zeroPiece = 256 << 10

// mappedZeroPiece is the zero-fill write for MappedWrites: stores into
// the mapping fault once per folio, not per 4 KiB page, when the page
// cache holds the space as 2 MiB folios, which an aligned 2 MiB write
// gives. 1 KiB stores then ran 3-10x faster than into space zero-filled
// 256 KiB at a time (0.18-0.7 against 1.5-2.3 us per KiB, fault included).
const mappedZeroPiece = 2 << 20

// mappedMinUnflushed is how many bytes must wait for the next flush
// before appends store through the mapping. A store dirties its whole
// folio, and the flush writes the folio whole: a trickle of appends
// stored that way made every ASYNC_FLUSH flush (500 ms) rewrite 2 MiB, 43
// MB written to the disk for 100 KB of messages in 10 s against 0.55 MB
// with pwrite, which dirties only the blocks it writes. Past one folio of
// unflushed bytes a flush rewrites at most one folio more than was
// appended, and the appends are the fast ones. The last flush's bytes
// count too: appends that filled a folio in the last interval will most
// likely fill one in this one, so they are stored from its start (a
// steady 5 MB/s spent most of each 500 ms interval below the mark, on
// pwrite). The last two flushes count, not the last alone: the
// checkpoint's flush, once a second at any moment between two periodic
// ones, sent half of a steady 7 MB/s back to pwrite. When the rate falls,
// two intervals store what a trickle appends, and the flushes after them
// write at most two folios each for it.
const mappedMinUnflushed = mappedZeroPiece

// rollLocked writes what is buffered, seals the active segment with an
// end-of-segment marker and opens the next one. It returns the new write
// position.
func (l *Log) rollLocked(bufStart int64) (int64, error) {
	next := int64(0)
	if l.active != nil {
		end := bufStart + int64(len(l.buf))
		remaining := l.active.start + l.opt.SegmentSize - end
		l.buf = appendBlank(l.buf, remaining)
		if err := l.writeLocked(bufStart); err != nil {
			return 0, err
		}
		next = l.active.start + l.opt.SegmentSize
		l.written.Store(next)
	} else if segs := *l.segs.Load(); len(segs) > 0 {
		next = segs[len(segs)-1].start + l.opt.SegmentSize
	}
	if err := l.openActiveLocked(next); err != nil {
		if errors.Is(err, ErrNoSpace) {
			// The old segment is sealed, the new one missing: the next
			// append rolls again, from the last segment's end.
			l.active = nil
		}
		return 0, err
	}
	return next, nil
}

// Flush makes every written byte durable: fdatasync of each segment that
// holds unflushed bytes, oldest first. A failed fsync fails the log for
// good: the dirty pages may have been dropped, so the data is not safe and
// a retry must not pretend it is.
func (l *Log) Flush() (int64, error) {
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	if err := l.Err(); err != nil {
		return l.flushed.Load(), err
	}
	w, f := l.written.Load(), l.flushed.Load()
	if w <= f {
		l.flushedNow(0)
		return f, nil
	}
	for _, s := range *l.segs.Load() {
		if s.start+l.opt.SegmentSize <= f || s.start >= w {
			continue
		}
		if !s.acquire() {
			continue
		}
		err := s.file.Sync()
		s.release()
		if err != nil {
			return f, l.fail(fmt.Errorf("fsync %s: %w", s.name, err))
		}
	}
	l.flushed.Store(w)
	l.flushedNow(w - f)
	l.evictOld(w)
	return w, nil
}

// evictOld evicts the pages of the sealed segments, all flushed below
// flushed, older than the newest ResidentSegments sealed ones, if they
// were touched since they were last evicted. flushMu is held.
func (l *Log) evictOld(flushed int64) {
	keep := l.opt.ResidentSegments
	if keep <= 0 {
		return
	}
	segs := *l.segs.Load()
	sealed := len(segs) - 1 // the newest is the active one
	for _, s := range segs[:max(sealed-keep, 0)] {
		if s.start+l.opt.SegmentSize > flushed || !s.touched.Load() {
			continue
		}
		e, ok := s.file.(vfs.Evicter)
		if !ok || !s.acquire() {
			continue
		}
		s.touched.Store(false)
		if err := e.Evict(s.view); err != nil {
			l.opt.Logger.Warn("commitlog: evicting a segment's pages", "segment", s.name, "err", err)
		}
		s.release()
	}
}

// flushedNow records that a Flush made n bytes durable. flushMu is held.
func (l *Log) flushedNow(n int64) {
	l.recentFlushed.Store(l.lastFlush + n)
	l.lastFlush = n
}

// Close flushes nothing: the store decides. It releases the segments.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	l.stopZeroLocked()
	segs := *l.segs.Load()
	l.segs.Store(&[]*segment{})
	closeAll(segs)
	return nil
}

// Ref is a verified entry in a segment view. Data stays valid until
// Release; Release exactly once.
type Ref struct {
	Header Header
	// Entry is the whole entry; Payload the part after the header.
	Entry   []byte
	Payload []byte
	seg     *segment
}

// Release gives back the segment reference.
func (r *Ref) Release() {
	if r.seg != nil {
		r.seg.release()
		r.seg = nil
	}
}

// findSegment returns the segment holding phys, acquired.
func (l *Log) findSegment(phys int64) (*segment, error) {
	segs := *l.segs.Load()
	i, found := slices.BinarySearchFunc(segs, phys, func(s *segment, p int64) int {
		switch {
		case s.start+l.opt.SegmentSize <= p:
			return -1
		case s.start > p:
			return 1
		}
		return 0
	})
	if !found || !segs[i].acquire() {
		return nil, fmt.Errorf("commitlog: offset %d (log starts at %d): %w", phys, l.MinOffset(), ErrOffsetNotFound)
	}
	if !segs[i].touched.Load() {
		segs[i].touched.Store(true)
	}
	return segs[i], nil
}

// Read returns the entry at phys, verified against its CRC, without
// copying it. size is the expected entry size (0: take it from the entry).
// The caller must only ask for entries below WrittenOffset.
func (l *Log) Read(phys int64, size int32, verify bool) (Ref, error) {
	if w := l.written.Load(); phys >= w {
		return Ref{}, fmt.Errorf("commitlog: offset %d at or past the end %d: %w", phys, w, ErrOffsetNotFound)
	}
	s, err := l.findSegment(phys)
	if err != nil {
		return Ref{}, err
	}
	rel := phys - s.start
	limit := min(l.written.Load()-s.start, l.opt.SegmentSize, s.end)
	if rel >= limit {
		s.release()
		return Ref{}, s.pastEnd(rel)
	}
	h, err := ParseHeader(s.view[rel:limit], verify)
	if err == nil && size > 0 && h.Length != size {
		err = fmt.Errorf("%w: entry length %d, expected %d", ErrCorrupt, h.Length, size)
	}
	if err != nil {
		s.release()
		if errors.Is(err, errEnd) || errors.Is(err, errBlank) {
			err = fmt.Errorf("%w: no entry at this offset", ErrCorrupt)
		}
		return Ref{}, fmt.Errorf("commitlog: %s@%d: %w", s.name, rel, err)
	}
	e := s.view[rel : rel+int64(h.Length)]
	return Ref{Header: h, Entry: e, Payload: e[h.HeaderLen:], seg: s}, nil
}

// SegmentInfo describes a segment for retention decisions.
type SegmentInfo struct {
	Start   int64
	ModTime time.Time
	Active  bool
}

// Segments lists the segments, oldest first.
func (l *Log) Segments() []SegmentInfo {
	segs := *l.segs.Load()
	out := make([]SegmentInfo, 0, len(segs))
	for i, s := range segs {
		var mt time.Time
		if fi, err := l.opt.FS.Stat(s.name); err == nil {
			mt = fi.ModTime()
		}
		out = append(out, SegmentInfo{Start: s.start, ModTime: mt, Active: i == len(segs)-1})
	}
	return out
}

// DeleteOldest removes the oldest segment unless it is the last one. Its
// bytes stay readable by readers that hold it until they release it.
func (l *Log) DeleteOldest() (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	segs := *l.segs.Load()
	if len(segs) < 2 {
		return l.MinOffset(), nil
	}
	s := segs[0]
	rest := slices.Clone(segs[1:])
	l.segs.Store(&rest)
	err := l.opt.FS.Remove(s.name)
	if err == nil || errors.Is(err, fs.ErrNotExist) {
		err = l.opt.FS.SyncDir(l.opt.Dir)
	}
	s.release()
	if err != nil {
		return rest[0].start, fmt.Errorf("commitlog: delete %s: %w", s.name, err)
	}
	return rest[0].start, nil
}
