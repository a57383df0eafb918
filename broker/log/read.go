package log

import (
	"errors"
	"fmt"

	"github.com/twinmq/twinmq/storage"
)

// The read side of the log service: every Kafka Fetch and ListOffsets and
// every RocketMQ PULL_MESSAGE reads through it, so what a reader may see
// is decided here, once, for both protocols. A queue's readable range is
// [Start, End): Start is the logStartOffset (retention and DeleteRecords
// move it), End is the visible end, Kafka's highWatermark. Today End is
// what the store has dispatched into the ConsumeQueue; with replication
// it becomes what the sync-state set acknowledged, which the store
// enforces with a visibility gate, and readers see the change through
// these methods without a line of their own changing.

var (
	// ErrQueueNotFound: the queue has never been written (nothing to read,
	// Start and End both 0).
	ErrQueueNotFound = storage.ErrQueueNotFound
	// ErrOffsetOutOfRange: an offset outside [Start, End]; the error is an
	// *OffsetError that gives the range.
	ErrOffsetOutOfRange = storage.ErrOffsetOutOfRange
)

// OffsetError is ErrOffsetOutOfRange with the queue's readable range.
type OffsetError struct {
	Topic      string
	Queue      int32
	Offset     int64
	Start, End int64
}

func (e *OffsetError) Error() string {
	return fmt.Sprintf("log: %s/%d: offset %d outside [%d, %d]", e.Topic, e.Queue, e.Offset, e.Start, e.End)
}

// Unwrap lets errors.Is(err, ErrOffsetOutOfRange) match.
func (e *OffsetError) Unwrap() error { return ErrOffsetOutOfRange }

// offsetError turns the store's range error into the log's.
func offsetError(err error) error {
	var oe *storage.OffsetError
	if errors.As(err, &oe) {
		return &OffsetError{Topic: oe.Topic, Queue: oe.Queue, Offset: oe.Offset, Start: oe.Min, End: oe.Max}
	}
	return err
}

// Kind says which protocol wrote a stored entry.
type Kind uint8

const (
	// KindOther: an entry neither protocol's reader serves (broker state).
	KindOther Kind = iota
	// KindRocketMQ: one message in RocketMQ's stored-message encoding.
	KindRocketMQ
	// KindKafka: one v2 RecordBatch as the producer sent it.
	KindKafka
)

func kindOf(k storage.Kind) Kind {
	switch k {
	case storage.KindRocketMQ:
		return KindRocketMQ
	case storage.KindKafka:
		return KindKafka
	}
	return KindOther
}

// Entry is one stored entry handed to a reader without a copy.
type Entry struct {
	Kind        Kind
	Phys        int64 // CommitLog offset: names the entry across reads (caches check it)
	QueueOffset int64 // first logical offset the entry covers
	Count       int32 // logical offsets covered (a Kafka batch's records)
	StoreTime   int64 // ms
	// Payload is a slice of the mapped CommitLog, valid until the
	// ReadResult it came in (or a Hold of it) is released.
	Payload []byte
}

// ReadOptions bounds a read.
type ReadOptions struct {
	// MaxBytes bounds the payload bytes returned; the first entry is
	// returned whatever its size (KIP-74: a consumer always makes
	// progress), unless StrictMaxBytes.
	MaxBytes       int
	StrictMaxBytes bool
	// MaxEntries bounds the entries (0: no bound).
	MaxEntries int
	// MaxUnits, if positive, stops before a new entry once the entries
	// read cover that many offsets: a RocketMQ pull of maxMsgNums reads
	// one or two Kafka batches, not maxMsgNums of them.
	MaxUnits int
	// Filter, when set, skips offsets whose tags code it rejects without
	// reading their entries (RocketMQ tag filtering).
	Filter func(tagsCode int64) bool
	// Until, if positive, drops the entries that start at or after it: a
	// read_committed reader stops at the last stable offset (txns.go).
	// Next then points at the first entry dropped.
	Until int64
}

// ReadResult is what a read found. Release it exactly once, after its
// payloads are written.
type ReadResult struct {
	Entries []Entry
	// Next is the offset after the last one examined (offsets a filter
	// skipped included): where the reader goes on.
	Next int64
	// Start and End are the queue's readable range when it was read: End
	// is the visible end (highWatermark), never past what readers may see.
	Start, End int64

	res   *storage.ReadResult
	small [4]Entry // backs Entries for short reads
}

// Release lets go of the mapped bytes of the entries; a nil ReadResult
// (a read a cache served) has none.
func (r *ReadResult) Release() {
	if r == nil {
		return
	}
	if r.res != nil {
		r.res.Release()
		r.res = nil
	}
	r.Entries = r.Entries[:0]
}

// Hold keeps the payload bytes of a read mapped after the read is
// released, so a cache can keep slices of stored entries instead of
// copies. It pins whole CommitLog segments, which retention cannot then
// unmap: keep one briefly.
type Hold struct {
	h *storage.Hold
}

// Hold returns a Hold on r's entries; release r and the Hold
// independently.
func (r *ReadResult) Hold() *Hold { return &Hold{h: r.res.Hold()} }

// Clone returns another Hold on the same bytes.
func (h *Hold) Clone() *Hold { return &Hold{h: h.h.Clone()} }

// Release lets go of the bytes; release a Hold once.
func (h *Hold) Release() { h.h.Release() }

// Read returns entries of (topic, queue) from offset within opt, never
// past the visible end. Reading at End returns no entries and no error;
// an offset outside [Start, End] is an *OffsetError (with the range in
// the ReadResult too), a queue never written ErrQueueNotFound. Every
// entry's CRC is checked: a damaged one is an error, never data.
func (l *Log) Read(topic string, queue int32, offset int64, opt ReadOptions) (*ReadResult, error) {
	res, err := l.store.Read(topic, queue, offset, storage.ReadOptions{
		MaxBytes: opt.MaxBytes, StrictMaxBytes: opt.StrictMaxBytes,
		MaxEntries: opt.MaxEntries, MaxUnits: opt.MaxUnits, Filter: opt.Filter,
	})
	if err != nil {
		if res == nil {
			return nil, err
		}
		return &ReadResult{Next: res.NextOffset, Start: res.MinOffset, End: res.MaxOffset}, offsetError(err)
	}
	r := &ReadResult{Next: res.NextOffset, Start: res.MinOffset, End: res.MaxOffset, res: res}
	r.Entries = r.small[:0]
	if len(res.Entries) > len(r.small) {
		r.Entries = make([]Entry, 0, len(res.Entries))
	}
	for i := range res.Entries {
		if opt.Until > 0 && res.Entries[i].QueueOffset >= opt.Until {
			r.Next = res.Entries[i].QueueOffset
			break
		}
		r.Entries = append(r.Entries, entryOf(&res.Entries[i]))
	}
	return r, nil
}

// entryOf is a stored entry as a reader sees it.
func entryOf(e *storage.ReadEntry) Entry {
	return Entry{Kind: kindOf(e.Kind), Phys: e.Phys, QueueOffset: e.QueueOffset,
		Count: e.Count, StoreTime: e.StoreTime, Payload: e.Payload}
}

// Range returns the readable range [Start, End) of (topic, queue): End
// is the visible end (the highWatermark a Kafka fetch reports, the
// maxOffset a RocketMQ pull does). A queue never written is
// ErrQueueNotFound.
func (l *Log) Range(topic string, queue int32) (start, end int64, err error) {
	if start, err = l.store.MinOffset(topic, queue); err != nil {
		return 0, 0, err
	}
	end, err = l.store.MaxOffset(topic, queue)
	return start, end, err
}

// Bounds is Range for a hot path: ok is false, with no error built, when
// the queue does not exist (yet).
func (l *Log) Bounds(topic string, queue int32) (start, end int64, ok bool) {
	return l.store.Bounds(topic, queue)
}

// End returns the visible end of (topic, queue).
func (l *Log) End(topic string, queue int32) (int64, error) {
	return l.store.MaxOffset(topic, queue)
}

// Behind is how many CommitLog bytes were written after phys: how far
// behind the writer a reader of the entry at phys is (RocketMQ decides by
// it whether a consumer is slow enough to read from a slave).
func (l *Log) Behind(phys int64) int64 {
	_, written := l.store.LogRange()
	return max(written-phys, 0)
}

// EntryAt returns the CommitLog offset of the entry holding offset, and
// the readable range, without reading the entry: enough for a cache to
// tell whether what it made of an entry is still what the queue holds
// there (retention, DeleteRecords, or a topic deleted and created again
// give an error or another Phys).
func (l *Log) EntryAt(topic string, queue int32, offset int64) (phys, start, end int64, err error) {
	phys, start, end, err = l.store.EntryAt(topic, queue, offset)
	return phys, start, end, offsetError(err)
}

// OffsetForTime returns the first offset stored at or after ts (ms), or
// the visible end when none is.
func (l *Log) OffsetForTime(topic string, queue int32, ts int64) (int64, error) {
	return l.store.OffsetForTime(topic, queue, ts)
}
