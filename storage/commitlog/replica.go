package commitlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
)

// Replication (RocketMQ classic HA): a replica's log receives the
// primary's bytes and writes them at the same physical offsets. See the
// package doc, Replication.

// Errors of replication. ReplicaOffsetError wraps ErrReplicaOffset.
var (
	ErrReplica       = errors.New("commitlog: the log is a replica; local appends are refused")
	ErrNotReplica    = errors.New("commitlog: the log is a primary; replicated appends are refused")
	ErrReplicaOffset = errors.New("commitlog: replicated bytes at the wrong offset")
)

// ReplicaOffsetError is an AppendReplica at Got where the log ends at
// Want: the caller lost its place (or the log is not the prefix it
// thinks), and must ask the primary again from Want.
type ReplicaOffsetError struct{ Want, Got int64 }

func (e *ReplicaOffsetError) Error() string {
	return fmt.Sprintf("commitlog: replicated bytes at offset %d, but the log ends at %d", e.Got, e.Want)
}

// Unwrap lets errors.Is(err, ErrReplicaOffset) match.
func (e *ReplicaOffsetError) Unwrap() error { return ErrReplicaOffset }

// SetReplica switches the log's role. Under the append lock, so once it
// returns no local append is under way in a replica, and no replicated
// one in a primary.
func (l *Log) SetReplica(on bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.replica.Store(on)
}

// IsReplica reports the log's role.
func (l *Log) IsReplica() bool { return l.replica.Load() }

// VerifyReplica reports how many bytes of data, replicated at phys,
// AppendReplica would take into an empty log that knows no queue (the
// log restarted at phys, RestartAt), and why it would stop, without
// writing or changing anything.
func (l *Log) VerifyReplica(phys int64, data []byte) (int, error) {
	return verifyReplica(phys, data, l.opt.SegmentSize, l.opt.MaxEntrySize, map[queueKey]int64{}, nil)
}

// AppendReplica writes bytes of a primary's log at phys, which must be
// WrittenOffset (else *ReplicaOffsetError). It takes the longest prefix
// of data made of whole items (entries, and end-of-segment markers with
// the rest of their segment), verifying each completely before any of it
// is written (verifyReplica), and reports its length: 0 when data holds
// no whole item. An invalid item is an error wrapping ErrCorrupt; the
// items before it are written and counted. Each entry advances its
// queue's next offset and the store time as Append would, so a log
// promoted to primary continues every queue. The bytes are written, not
// durable: see Flush.
//
// As in Append, queue offsets advance before the write, and every
// failure after that fails the log for good (ErrFailed); the count then
// is what was written before the failure.
func (l *Log) AppendReplica(phys int64, data []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return 0, ErrClosed
	}
	if err := l.Err(); err != nil {
		return 0, err
	}
	if !l.replica.Load() {
		return 0, ErrNotReplica
	}
	if w := l.written.Load(); phys != w {
		return 0, &ReplicaOffsetError{Want: w, Got: phys}
	}
	if l.active == nil && phys%l.opt.SegmentSize != 0 {
		// Only a log recovered with no segment at all from a checkpoint
		// inside one gets here; appending would leave a hole.
		return 0, fmt.Errorf("commitlog: no segment holds the end %d: %w", phys, ErrCorrupt)
	}
	bufStart := phys
	l.buf = l.buf[:0]
	n, verr := verifyReplica(phys, data, l.opt.SegmentSize, l.opt.MaxEntrySize, l.queueNext,
		func(pos int64, item []byte, h *Header) error {
			if l.active == nil {
				if err := l.openActiveLocked(pos); err != nil {
					return err
				}
			}
			if h == nil { // an end-of-segment marker: rollLocked writes the same one
				var err error
				bufStart, err = l.rollLocked(bufStart)
				return err
			}
			l.buf = append(l.buf, item...)
			l.storeTime = max(l.storeTime, h.StoreTime)
			return nil
		})
	if err := l.Err(); err != nil {
		return int(l.written.Load() - phys), err
	}
	if err := l.writeLocked(bufStart); err != nil {
		return int(l.written.Load() - phys), err
	}
	return n, verr
}

// verifyReplica walks data, bytes of a primary's log from phys, one whole
// item at a time, and calls fn (when set) for each verified one: an entry
// with its parsed header, or an end-of-segment marker (h nil) with the
// rest of its segment. It returns the bytes of the items passed to fn,
// stopping at the first incomplete item (no error: the caller waits for
// more) or the first invalid one (an error wrapping ErrCorrupt), or when
// fn fails. It verifies, before fn sees an item:
//
//   - the magic, the version and the kind;
//   - a marker: its length reaches exactly the end of its segment, and
//     the bytes after it are zeros (the primary wrote none there);
//   - an entry: a length within [MinHeaderSize, maxEntry], room left in
//     its segment for it and a marker after it (Append rolls otherwise),
//     the CRC, a decodable header (ParseHeader), a queue id >= 0 but for
//     a topic-deletion record, and queue continuity: its queueOffset is
//     next's for its queue, or any offset >= 0 for a queue next does not
//     hold.
//
// next advances as entries verify, as Append's queueNext does (a
// deletion record forgets its topic's queues).
func verifyReplica(phys int64, data []byte, segSize int64, maxEntry int, next map[queueKey]int64,
	fn func(pos int64, item []byte, h *Header) error) (int, error) {
	n := 0
	var topic string
	for len(data)-n >= BlankSize {
		pos, b := phys+int64(n), data[n:]
		length, err := checkItemStart(pos, b, segSize, maxEntry)
		if err != nil {
			return n, fmt.Errorf("commitlog: replicated item at %d: %w", pos, err)
		}
		if int64(len(b)) < length {
			return n, nil // incomplete: wait for more
		}
		item := b[:length]
		var hp *Header
		if Kind(b[offKind]) == kindBlank {
			if !allZero(item[BlankSize:]) {
				return n, fmt.Errorf("commitlog: replicated end-of-segment marker at %d: %w: non-zero bytes after it", pos, ErrCorrupt)
			}
		} else {
			h, err := parseHeader(item, true, &topic)
			if err == nil {
				err = checkQueue(next, &h)
			}
			if err != nil {
				return n, fmt.Errorf("commitlog: replicated entry at %d: %w", pos, err)
			}
			hp = &h
		}
		if fn != nil {
			if err := fn(pos, item, hp); err != nil {
				return n, err
			}
		}
		n += int(length)
	}
	return n, nil
}

// checkItemStart checks the first BlankSize bytes of an item at pos and
// returns its length: all an incomplete item can be judged by, so a
// length of garbage is refused at once rather than waited for.
func checkItemStart(pos int64, b []byte, segSize int64, maxEntry int) (int64, error) {
	length := int64(binary.BigEndian.Uint32(b[offLength:]))
	if m := binary.BigEndian.Uint16(b[offMagic:]); m != Magic {
		return 0, fmt.Errorf("%w: bad magic %#04x", ErrCorrupt, m)
	}
	switch v := b[offVersion]; {
	case v == 0:
		return 0, fmt.Errorf("%w: entry version 0", ErrCorrupt)
	case v != FormatVersion:
		return 0, fmt.Errorf("%w: %w: entry version %d, this build reads %d", ErrCorrupt, ErrFormatVersion, v, FormatVersion)
	}
	segEnd := pos - pos%segSize + segSize
	switch k := Kind(b[offKind]); {
	case k == kindBlank:
		if length != segEnd-pos {
			return 0, fmt.Errorf("%w: end-of-segment marker of %d bytes, %d left in the segment", ErrCorrupt, length, segEnd-pos)
		}
	case !k.valid():
		return 0, fmt.Errorf("%w: unknown kind %d", ErrCorrupt, k)
	case length < MinHeaderSize || length > int64(maxEntry):
		return 0, fmt.Errorf("%w: length %d outside [%d, %d]", ErrCorrupt, length, MinHeaderSize, maxEntry)
	case pos+length+BlankSize > segEnd:
		return 0, fmt.Errorf("%w: entry of %d bytes leaves no room for an end-of-segment marker (%d left)", ErrCorrupt, length, segEnd-pos)
	}
	return length, nil
}

// checkQueue checks an entry's queue continuity against next and
// advances next, as Append and DeleteTopic advance queueNext.
func checkQueue(next map[queueKey]int64, h *Header) error {
	if h.QueueID < 0 {
		if !h.IsDeletion() {
			return fmt.Errorf("%w: queue id %d", ErrCorrupt, h.QueueID)
		}
		for k := range next {
			if k.topic == h.Topic {
				delete(next, k)
			}
		}
		return nil
	}
	if h.QueueOffset < 0 || h.QueueOffset > math.MaxInt64-int64(h.Count) {
		return fmt.Errorf("%w: queue offset %d", ErrCorrupt, h.QueueOffset)
	}
	k := queueKey{h.Topic, h.QueueID}
	if want, ok := next[k]; ok && h.QueueOffset != want {
		return fmt.Errorf("%w: %s/%d: queue offset %d, the queue's next is %d", ErrCorrupt, h.Topic, h.QueueID, h.QueueOffset, want)
	}
	next[k] = h.QueueOffset + int64(h.Count)
	return nil
}

// RestartAt empties a replica's log that holds no entry (MinOffset ==
// WrittenOffset) and makes it start at phys, a segment start past its
// end: the primary's oldest segment, once its retention removed those
// before. Every segment file goes (durably), the one at phys is created,
// and every queue's next offset is forgotten: the log holds none of
// their entries, and the primary's log from phys is the truth. A failure
// fails the log.
func (l *Log) RestartAt(phys int64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	if err := l.Err(); err != nil {
		return err
	}
	if !l.replica.Load() {
		return ErrNotReplica
	}
	w := l.written.Load()
	if min := l.MinOffset(); min != w {
		return fmt.Errorf("commitlog: restart at %d: the log holds [%d, %d)", phys, min, w)
	}
	if phys <= w || phys%l.opt.SegmentSize != 0 {
		return &ReplicaOffsetError{Want: w, Got: phys}
	}
	l.waitZeroLocked()
	segs := *l.segs.Load()
	l.segs.Store(&[]*segment{})
	l.active = nil
	for _, s := range segs {
		err := l.opt.FS.Remove(s.name)
		s.release()
		if err != nil {
			return l.fail(fmt.Errorf("restart: remove %s: %w", s.name, err))
		}
	}
	if err := l.opt.FS.SyncDir(l.opt.Dir); err != nil {
		return l.fail(fmt.Errorf("restart: sync dir %s: %w", l.opt.Dir, err))
	}
	clear(l.queueNext)
	l.written.Store(phys)
	l.flushed.Store(phys)
	if err := l.openActiveLocked(phys); err != nil {
		return err
	}
	l.opt.Logger.Info("commitlog: replica restarted at the primary's segment", "from", w, "to", phys)
	return nil
}

// openActiveLocked creates the segment starting at start and makes it
// the active one. A failure fails the log.
func (l *Log) openActiveLocked(start int64) error {
	s, err := openSegment(l.opt.FS, l.opt.Dir, start, l.opt.SegmentSize, true)
	if err != nil {
		if isNoSpace(err) {
			// Nothing was written to it; the next roll creates it again.
			return fmt.Errorf("commitlog: %w: %w", ErrNoSpace, err)
		}
		return l.fail(err)
	}
	segs := slices.Clone(*l.segs.Load())
	segs = append(segs, s)
	l.segs.Store(&segs)
	l.waitZeroLocked() // before zeroed moves to the new file
	l.active = s
	l.zeroed = start
	return nil
}

// ReadRaw copies the log's bytes from phys into dst: at most len(dst),
// never past WrittenOffset nor across a segment's end (the next call
// continues in the next segment), 0 at WrittenOffset. The rest of a
// sealed segment after its end-of-segment marker reads as zeros, whether
// its file holds them (ZeroAhead) or ends before them; a file cut short
// by damage reads as zeros too, which a replica refuses (no entry starts
// with zeros). phys outside [MinOffset, WrittenOffset] is an error
// wrapping ErrOffsetNotFound. It takes no lock.
func (l *Log) ReadRaw(phys int64, dst []byte) (int, error) {
	w := l.written.Load()
	if min := l.MinOffset(); phys < min || phys > w {
		return 0, fmt.Errorf("commitlog: offset %d outside the log [%d, %d]: %w", phys, min, w, ErrOffsetNotFound)
	}
	if phys == w || len(dst) == 0 {
		return 0, nil
	}
	s, err := l.findSegment(phys)
	if err != nil {
		return 0, err
	}
	defer s.release()
	rel := phys - s.start
	end := min(w-s.start, l.opt.SegmentSize)
	inFile := min(end, s.end)
	if end == l.opt.SegmentSize {
		// Sealed: below WrittenOffset but past its marker, the file may
		// end (reading the view there faults on the OS).
		size, err := s.file.Size()
		if err != nil {
			return 0, fmt.Errorf("commitlog: stat %s: %w", s.name, err)
		}
		inFile = min(inFile, size)
	}
	n := int(min(int64(len(dst)), end-rel))
	c := 0
	if rel < inFile {
		c = copy(dst[:n], s.view[rel:inFile])
	}
	clear(dst[c:n])
	return n, nil
}

// QueueNext is a queue's next logical offset, for Truncate.
type QueueNext struct {
	Topic string
	Queue int32
	Next  int64
}

// Truncate cuts a replica's log back to phys, an entry boundary in
// [MinOffset, WrittenOffset] the caller has checked, and sets every
// queue's next offset to next (the queues not in next are forgotten).
//
// Crash-safe by its order: the cut is one 8-byte write of zeros over the
// header at phys, fsynced, after which recovery ends the log at phys
// (zeros are the end of the data) whatever else survives; before it the
// log is intact. Only then are the bytes after phys in its segment
// zeroed (fsynced) and the later segments removed (directory synced).
// The file is zeroed, not shortened: a reader may still have the
// segment mapped, and a mapped page past a file's end faults. The
// segment is reopened as the active one.
//
// It holds flushMu and then mu, the one place both are held: a Flush
// under way must not publish a flushed offset past the cut.
// Appends wait for it; none is local on a replica. A failure fails the
// log.
func (l *Log) Truncate(phys int64, next []QueueNext) error {
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	if err := l.Err(); err != nil {
		return err
	}
	if !l.replica.Load() {
		return ErrNotReplica
	}
	w := l.written.Load()
	if min := l.MinOffset(); phys < min || phys > w {
		return fmt.Errorf("commitlog: truncate at %d: outside the log [%d, %d]: %w", phys, min, w, ErrOffsetNotFound)
	}
	if phys < w {
		l.waitZeroLocked()
		if err := l.cutLocked(phys); err != nil {
			return l.fail(err)
		}
		l.written.Store(phys)
		l.flushed.Store(min(l.flushed.Load(), phys))
		l.opt.Logger.Warn("commitlog: replica truncated", "from", w, "to", phys)
	}
	clear(l.queueNext)
	for _, q := range next {
		l.queueNext[queueKey{q.Topic, q.Queue}] = q.Next
	}
	return nil
}

// cutLocked zeroes the log from phys (< WrittenOffset) and removes the
// segments after phys's; see Truncate.
func (l *Log) cutLocked(phys int64) error {
	segs := *l.segs.Load()
	k := segIndex(segs, phys, l.opt.SegmentSize)
	s := segs[k]
	rel := phys - s.start
	size, err := s.file.Size()
	if err != nil {
		return fmt.Errorf("truncate: stat %s: %w", s.name, err)
	}
	size = min(size, l.opt.SegmentSize)
	zeros := make([]byte, min(zeroPiece, max(size-rel, BlankSize)))
	if _, err := s.file.WriteAt(zeros[:BlankSize], rel); err != nil {
		return fmt.Errorf("truncate: %s@%d: %w", s.name, rel, err)
	}
	if err := s.file.Sync(); err != nil {
		return fmt.Errorf("truncate: fsync %s: %w", s.name, err)
	}
	for off := rel + BlankSize; off < size; {
		n := min(size-off, int64(len(zeros)))
		if _, err := s.file.WriteAt(zeros[:n], off); err != nil {
			return fmt.Errorf("truncate: %s@%d: %w", s.name, off, err)
		}
		off += n
	}
	if err := s.file.Sync(); err != nil {
		return fmt.Errorf("truncate: fsync %s: %w", s.name, err)
	}
	for _, t := range segs[k+1:] {
		err := l.opt.FS.Remove(t.name)
		t.release()
		if err != nil {
			return fmt.Errorf("truncate: remove %s: %w", t.name, err)
		}
	}
	if len(segs) > k+1 {
		if err := l.opt.FS.SyncDir(l.opt.Dir); err != nil {
			return fmt.Errorf("truncate: sync dir %s: %w", l.opt.Dir, err)
		}
	}
	ns, err := openSegment(l.opt.FS, l.opt.Dir, s.start, l.opt.SegmentSize, false)
	if err != nil {
		return err
	}
	ns.end = l.opt.SegmentSize // appends grow the file under WrittenOffset
	kept := append(slices.Clone(segs[:k]), ns)
	l.segs.Store(&kept)
	s.release()
	l.active = ns
	l.zeroed = s.start + max(size, rel+BlankSize) // zeros up to the file's end
	return nil
}
