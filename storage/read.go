package storage

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/twinmq/twinmq/storage/commitlog"
	"github.com/twinmq/twinmq/storage/consumequeue"
)

// ReadEntry is one stored entry handed to a reader without a copy: Payload
// is a slice of the mapped segment, valid until the ReadResult is
// released.
type ReadEntry struct {
	Kind        Kind
	Phys        int64 // CommitLog offset of the entry
	QueueOffset int64 // first logical offset the entry covers
	Count       int32 // logical offsets covered
	StoreTime   int64
	Payload     []byte
	Header      *commitlog.Header
}

// ReadResult holds entries and the segment references that keep their
// bytes alive. Release it exactly once, after the bytes are sent.
type ReadResult struct {
	Entries []ReadEntry
	// NextOffset is the logical offset after the last unit examined
	// (including units a filter skipped).
	NextOffset int64
	MinOffset  int64
	MaxOffset  int64
	// pins holds one reference per segment the entries lie in, not one
	// per entry; headers backs the entries' Header pointers.
	pins    commitlog.Pins
	headers []commitlog.Header
	// smallEntries and smallHeaders back reads of a few entries without
	// more allocations.
	smallEntries [4]ReadEntry
	smallHeaders [4]commitlog.Header
}

// Release gives the segment references back.
func (r *ReadResult) Release() {
	r.pins.Release()
	r.Entries = r.Entries[:0]
}

// Bytes is the sum of the payload sizes.
func (r *ReadResult) Bytes() int {
	n := 0
	for i := range r.Entries {
		n += len(r.Entries[i].Payload)
	}
	return n
}

// presize makes room for n entries, at most maxPresize: a larger read
// grows the slices as it goes.
func (r *ReadResult) presize(n int) {
	n = min(n, maxPresize)
	if n <= len(r.smallEntries) {
		r.Entries, r.headers = r.smallEntries[:0], r.smallHeaders[:0]
		return
	}
	r.Entries, r.headers = make([]ReadEntry, 0, n), make([]commitlog.Header, 0, n)
}

// maxPresize bounds the entries a Read makes room for before it knows how
// many it returns: 4096 entries take 608 KiB.
const maxPresize = 4096

// read reads the entry at phys (size 0: of any size) into the next slot
// of r, verified: the header is parsed in place, the payload is a slice
// of the pinned segment.
func (r *ReadResult) read(l *commitlog.Log, phys int64, size int32) error {
	if len(r.headers) == cap(r.headers) {
		// A new array rather than append's copy: the entries already
		// added point into the old one, which stays alive through them.
		r.headers = make([]commitlog.Header, 0, max(2*cap(r.headers), len(r.smallHeaders)))
	}
	n := len(r.headers)
	h := &r.headers[:n+1][n]
	entry, err := l.ReadPinned(&r.pins, phys, size, h)
	if err != nil {
		return err
	}
	r.headers = r.headers[:n+1]
	r.Entries = append(r.Entries, ReadEntry{
		Kind: h.Kind, Phys: phys, QueueOffset: h.QueueOffset, Count: h.Count,
		StoreTime: h.StoreTime, Payload: entry[h.HeaderLen:], Header: h,
	})
	return nil
}

// ReadOptions bounds a read.
type ReadOptions struct {
	// MaxBytes bounds the payload bytes returned; the first entry is
	// returned whatever its size, as Kafka does, unless StrictMaxBytes.
	MaxBytes       int
	StrictMaxBytes bool
	// MaxEntries bounds the entries (0: no bound).
	MaxEntries int
	// MaxUnits, if positive, stops the read before a new entry once the
	// entries read cover that many logical offsets (units the Filter
	// kept, and every offset of a stored batch from the read's start):
	// a RocketMQ pull of maxMsgNums messages from a queue of Kafka
	// batches reads one or two batches, not maxMsgNums of them.
	MaxUnits int
	// Filter, when set, skips units whose tags code it rejects without
	// reading the CommitLog (RocketMQ tag filtering).
	Filter func(tagsCode int64) bool
}

// estimate is how many entries a read may return, judged from the first
// units it examines and the units left: an upper bound when the entries
// are the size of the first ones.
func (o *ReadOptions) estimate(units []consumequeue.Unit, left int64) int {
	n := int(min(left, 1<<30))
	if o.MaxEntries > 0 {
		n = min(n, o.MaxEntries)
	}
	if o.MaxBytes > 0 && len(units) > 0 {
		sum := int64(0)
		for _, u := range units {
			sum += int64(max(u.Size, 1))
		}
		n = min(n, int(int64(o.MaxBytes)*int64(len(units))/sum)+1)
	}
	return n
}

// OffsetError is ErrOffsetOutOfRange with the queue's valid range.
type OffsetError struct {
	Topic    string
	Queue    int32
	Offset   int64
	Min, Max int64
}

func (e *OffsetError) Error() string {
	return fmt.Sprintf("storage: %s/%d: offset %d outside [%d, %d]", e.Topic, e.Queue, e.Offset, e.Min, e.Max)
}

// Unwrap lets errors.Is(err, ErrOffsetOutOfRange) match.
func (e *OffsetError) Unwrap() error { return ErrOffsetOutOfRange }

// Read returns entries of (topic, queue) from a logical offset. Reading at
// the end offset returns no entries and no error. Every entry's CRC is
// checked: a damaged one is an error wrapping ErrCorrupt, never data.
func (s *Store) Read(topic string, queue int32, offset int64, opt ReadOptions) (*ReadResult, error) {
	q := s.queue(topic, queue)
	if q == nil {
		return nil, fmt.Errorf("storage: %s/%d: %w", topic, queue, ErrQueueNotFound)
	}
	res := &ReadResult{MinOffset: q.MinOffset(), MaxOffset: q.MaxOffset(), NextOffset: offset}
	if offset < res.MinOffset || offset > res.MaxOffset {
		return res, &OffsetError{topic, queue, offset, res.MinOffset, res.MaxOffset}
	}
	res.pins.Topic = topic // the entries' headers share this string
	var buf [maxReadUnit]consumequeue.Unit
	bytes, lastPhys, covered := 0, int64(-1), 0
	for res.NextOffset < res.MaxOffset {
		units, err := q.Read(res.NextOffset, buf[:0])
		if err != nil {
			res.Release()
			return res, fmt.Errorf("storage: %w", err)
		}
		if len(units) == 0 {
			break
		}
		if res.Entries == nil {
			res.presize(opt.estimate(units, res.MaxOffset-res.NextOffset))
		}
		for _, u := range units {
			if u.CommitLogOffset == lastPhys {
				res.NextOffset++ // more records of the batch just read
				covered++
				continue
			}
			if opt.Filter != nil && !opt.Filter(u.TagsCode) {
				res.NextOffset++
				continue
			}
			if opt.MaxEntries > 0 && len(res.Entries) >= opt.MaxEntries {
				return res, nil
			}
			if opt.MaxUnits > 0 && covered >= opt.MaxUnits {
				return res, nil
			}
			if opt.MaxBytes > 0 && bytes+int(u.Size) > opt.MaxBytes && (len(res.Entries) > 0 || opt.StrictMaxBytes) {
				return res, nil
			}
			if err := res.read(s.log, u.CommitLogOffset, u.Size); err != nil {
				if len(res.Entries) > 0 {
					return res, nil // serve what is good; the next read reports it
				}
				res.Release()
				return res, fmt.Errorf("storage: %s/%d offset %d: %w", topic, queue, res.NextOffset, err)
			}
			bytes += int(u.Size)
			lastPhys = u.CommitLogOffset
			res.NextOffset++
			covered++
		}
	}
	return res, nil
}

// MinOffset and MaxOffset report a queue's logical range [min, max).
func (s *Store) MinOffset(topic string, queue int32) (int64, error) {
	q := s.queue(topic, queue)
	if q == nil {
		return 0, fmt.Errorf("storage: %s/%d: %w", topic, queue, ErrQueueNotFound)
	}
	return q.MinOffset(), nil
}

// Bounds is MinOffset and MaxOffset in one look-up, with ok false (and no
// error built) when the queue does not exist: a fetch over 1,000 mostly
// empty partitions asked for both of each, and the wrapped "not found"
// errors were 7% of the broker's CPU (issue 19).
func (s *Store) Bounds(topic string, queue int32) (min, max int64, ok bool) {
	q := s.queue(topic, queue)
	if q == nil {
		return 0, 0, false
	}
	return q.MinOffset(), q.MaxOffset(), true
}

// MaxOffset is the offset the next entry will get once dispatched.
func (s *Store) MaxOffset(topic string, queue int32) (int64, error) {
	q := s.queue(topic, queue)
	if q == nil {
		return 0, fmt.Errorf("storage: %s/%d: %w", topic, queue, ErrQueueNotFound)
	}
	return q.MaxOffset(), nil
}

// OffsetForTime returns the first offset whose store time is >= ts (ms),
// or the max offset when none is.
func (s *Store) OffsetForTime(topic string, queue int32, ts int64) (int64, error) {
	q := s.queue(topic, queue)
	if q == nil {
		return 0, fmt.Errorf("storage: %s/%d: %w", topic, queue, ErrQueueNotFound)
	}
	return q.SearchOffset(ts, func(u consumequeue.Unit) (int64, error) {
		ref, err := s.log.Read(u.CommitLogOffset, u.Size, false)
		if err != nil {
			return 0, err
		}
		defer ref.Release()
		return ref.Header.StoreTime, nil
	})
}

// StoreTime returns the store time of the entry holding a logical offset.
func (s *Store) StoreTime(topic string, queue int32, offset int64) (int64, error) {
	q := s.queue(topic, queue)
	if q == nil {
		return 0, fmt.Errorf("storage: %s/%d: %w", topic, queue, ErrQueueNotFound)
	}
	u, err := q.Get(offset)
	if err != nil {
		return 0, fmt.Errorf("storage: %w", err)
	}
	ref, err := s.log.Read(u.CommitLogOffset, u.Size, false)
	if err != nil {
		return 0, err
	}
	defer ref.Release()
	return ref.Header.StoreTime, nil
}

// ReadAt returns the entry at a CommitLog offset (RocketMQ
// VIEW_MESSAGE_BY_ID), verified.
func (s *Store) ReadAt(phys int64) (*ReadResult, error) {
	// Bound by what readers may see, not by the dispatcher: a client may
	// view a message by the id its send just returned.
	if phys >= s.visibleOffset() {
		return nil, fmt.Errorf("storage: offset %d not stored: %w", phys, ErrOffsetOutOfRange)
	}
	res := &ReadResult{}
	res.presize(1)
	if err := res.read(s.log, phys, 0); err != nil {
		res.Release()
		return nil, err
	}
	return res, nil
}

// QueryByKey finds entries of topic indexed under key (a message key or a
// unique id) stored in [beginMs, endMs], newest first, at most max. Only
// entries their queue still holds count: not those of a deleted topic,
// nor those below a queue's start.
func (s *Store) QueryByKey(topic, key string, max int, beginMs, endMs int64) (*ReadResult, error) {
	phys, err := s.index.Query(topic+keySep+key, max*2+8, beginMs, endMs)
	if err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	res := &ReadResult{}
	res.pins.Topic = topic
	for _, p := range phys {
		if len(res.Entries) >= max {
			break
		}
		if p >= s.dispatched.Load() || p < s.log.MinOffset() {
			continue
		}
		err := res.read(s.log, p, 0)
		if errors.Is(err, commitlog.ErrOffsetNotFound) {
			continue
		}
		if err != nil {
			res.Release()
			return nil, err
		}
		e := &res.Entries[len(res.Entries)-1]
		match := false
		e.Header.Keys(func(k string) { match = match || k == key })
		if e.Header.Topic != topic || !match || !s.queued(p, e.Header) {
			// A hash collision, or an entry its queue no longer holds:
			// drop it (its segment stays pinned until Release).
			res.Entries, res.headers = res.Entries[:len(res.Entries)-1], res.headers[:len(res.headers)-1]
		}
	}
	return res, nil
}

// queued reports whether the entry at phys is still in its queue: not of
// a deleted topic (nor of one created again under its name, whose queue
// holds other entries at that offset), nor below the queue's start
// (DeleteRecords, retention). The index keeps keys until its files go.
func (s *Store) queued(phys int64, h *commitlog.Header) bool {
	q := s.queue(h.Topic, h.QueueID)
	if q == nil {
		return false
	}
	u, err := q.Get(h.QueueOffset)
	return err == nil && u.CommitLogOffset == phys
}

// QueueInfo names a queue and its range.
type QueueInfo struct {
	Topic    string
	Queue    int32
	Min, Max int64
}

// Queues lists the stored queues, sorted, optionally only of one topic
// (topic "" lists all). Internal topics are listed too.
func (s *Store) Queues(topic string) []QueueInfo {
	s.queuesMu.RLock()
	out := make([]QueueInfo, 0, len(s.queues))
	for k, q := range s.queues {
		if topic == "" || k.topic == topic {
			out = append(out, QueueInfo{k.topic, k.queue, q.MinOffset(), q.MaxOffset()})
		}
	}
	s.queuesMu.RUnlock()
	slices.SortFunc(out, func(a, b QueueInfo) int {
		if c := strings.Compare(a.Topic, b.Topic); c != 0 {
			return c
		}
		return int(a.Queue - b.Queue)
	})
	return out
}

// Replay calls fn for every entry of (topic, queue) from offset to the
// current end, in order, and returns the offset after the last one. It is
// how broker services rebuild their in-memory tables from the records of
// an internal topic at start. An unknown queue replays nothing.
func (s *Store) Replay(topic string, queue int32, offset int64, fn func(e ReadEntry) error) (int64, error) {
	if s.queue(topic, queue) == nil {
		return offset, nil
	}
	for {
		res, err := s.Read(topic, queue, offset, ReadOptions{MaxBytes: 1 << 20})
		if err != nil {
			var oe *OffsetError
			if errors.As(err, &oe) && offset < oe.Min {
				offset = oe.Min // retention moved the start
				continue
			}
			return offset, err
		}
		for _, e := range res.Entries {
			if err := fn(e); err != nil {
				res.Release()
				return offset, err
			}
		}
		res.Release()
		if res.NextOffset == offset {
			return offset, nil
		}
		offset = res.NextOffset
	}
}

// EntryAt returns the CommitLog offset of the entry holding a logical
// offset and the queue's range [min, max), without reading the entry:
// enough to tell whether a copy of the entry a reader keeps is still what
// the queue holds there (an offset retention removed, or a topic deleted
// and created again, gives an error or another offset).
func (s *Store) EntryAt(topic string, queue int32, offset int64) (phys, min, max int64, err error) {
	q := s.queue(topic, queue)
	if q == nil {
		return 0, 0, 0, fmt.Errorf("storage: %s/%d: %w", topic, queue, ErrQueueNotFound)
	}
	min, max = q.MinOffset(), q.MaxOffset()
	if offset < min || offset >= max {
		return 0, min, max, &OffsetError{topic, queue, offset, min, max}
	}
	u, err := q.Get(offset)
	if err != nil {
		return 0, min, max, fmt.Errorf("storage: %w", err)
	}
	return u.CommitLogOffset, min, max, nil
}

// Hold keeps the CommitLog segments of a read mapped after the read is
// released: payload bytes of its entries stay valid until the Hold is
// released. It lets a cache keep slices of stored entries instead of
// copies. A Hold pins whole segments, which retention cannot then unmap
// (a deleted segment's disk space is freed when the last reference goes),
// so keep one briefly.
type Hold struct {
	pins commitlog.Pins
}

// Hold returns a Hold on the segments r's entries lie in; release r and
// the Hold independently.
func (r *ReadResult) Hold() *Hold {
	return &Hold{pins: r.pins.Clone()}
}

// Clone returns another Hold on the same segments.
func (h *Hold) Clone() *Hold {
	return &Hold{pins: h.pins.Clone()}
}

// Release gives the segment references back; release a Hold once.
func (h *Hold) Release() {
	h.pins.Release()
}
