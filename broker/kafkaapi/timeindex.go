package kafkaapi

import (
	"sort"
	"sync"
)

// timeIndexInterval is how many bytes of batches lie between two entries
// of a time index (Kafka's index.interval.bytes is 4 KiB per segment
// file; ours is in memory, so sparser): a lookup reads at most about
// this much past its entry.
const timeIndexInterval = 32 << 10

// timeIndex is an in-memory sparse time index of one partition, Kafka's
// time index rebuilt from the stored entries' headers: ListOffsets by
// timestamp wants the first record whose timestamp is >= the target, and
// CreateTime timestamps are the producers' (not monotonic along the log),
// so it searches the envelope "largest timestamp so far", which is.
//
// Entry i says: every batch stored from the index's base up to offset
// entries[i].offset has a MaxTimestamp below entries[i].maxBefore or
// equal to it, i.e. maxBefore is the running maximum before that batch.
// For a target T, the last entry with maxBefore < T is where the search
// starts: no batch before it holds a timestamp >= T. The next entry has
// maxBefore >= T, so the answer lies before it: a lookup reads at most
// timeIndexInterval bytes of batches, plus one batch.
//
// The index covers [base, end) and is extended on each lookup by reading
// the batch headers stored since (mapped bytes, no copy). When the log
// start moves forward (retention, DeleteRecords) the entries below it
// stay: they only make a search start earlier, and reads are clamped to
// the start. Lookups for the largest timestamp (-3) rebuild from the start
// instead, since the maximum may have been in the dropped part. RocketMQ
// messages in a shared topic are indexed by their born timestamp, the
// record timestamp a Kafka consumer of them reads (scanTimes), so a seek
// by time lands on them as on Kafka batches.
//
// mu guards every field; it is held while the index is extended.
type timeIndex struct {
	mu      sync.Mutex
	base    int64 // log start when the index was (re)built
	end     int64 // batches below end are indexed
	maxTs   int64 // largest MaxTimestamp in [base, end); -1 for none
	since   int   // batch bytes indexed since the last entry
	entries []timeEntry
}

type timeEntry struct {
	offset    int64 // a batch's base offset
	maxBefore int64 // largest MaxTimestamp of the batches before it
}

// timeIndexes holds the partitions' indexes, keyed by topic id (a deleted
// and re-created topic gets a fresh id, so a fresh index). mu guards m.
type timeIndexes struct {
	mu sync.Mutex
	m  map[timeIndexKey]*timeIndex
}

type timeIndexKey struct {
	id   [16]byte
	part int32
}

func newTimeIndexes() *timeIndexes {
	return &timeIndexes{m: map[timeIndexKey]*timeIndex{}}
}

func (t *timeIndexes) get(id [16]byte, part int32) *timeIndex {
	t.mu.Lock()
	defer t.mu.Unlock()
	k := timeIndexKey{id, part}
	x := t.m[k]
	if x == nil {
		x = &timeIndex{base: -1}
		t.m[k] = x
	}
	return x
}

// forget drops a deleted topic's indexes.
func (t *timeIndexes) forget(id [16]byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k := range t.m {
		if k.id == id {
			delete(t.m, k)
		}
	}
}

// resetLocked empties the index to start at min.
func (x *timeIndex) resetLocked(min int64) {
	x.base, x.end, x.maxTs, x.since, x.entries = min, min, -1, 0, x.entries[:0]
}

// extendLocked indexes the batches of [x.end, hwm).
func (x *timeIndex) extendLocked(h *Handler, topic string, part int32, min, hwm int64) error {
	if x.base < 0 || x.end < min || x.end > hwm {
		x.resetLocked(min) // new, or the start passed the end, or truncated
	}
	if x.end >= hwm {
		return nil
	}
	err := h.scanTimes(topic, part, x.end, hwm, func(e *timedEntry) bool {
		if e.base >= hwm {
			return false
		}
		if len(x.entries) == 0 || x.since >= timeIndexInterval {
			x.entries = append(x.entries, timeEntry{e.base, x.maxTs})
			x.since = 0
		}
		x.maxTs = max(x.maxTs, e.maxTs)
		x.since += e.size
		return true
	})
	if err != nil {
		x.resetLocked(min)
		return err
	}
	x.end = hwm
	return nil
}

// searchFrom returns where a search for the first timestamp >= ts starts,
// and whether any indexed batch reaches ts at all.
func (x *timeIndex) searchFromLocked(ts, min int64) (int64, bool) {
	if x.maxTs < ts {
		return 0, false
	}
	i := sort.Search(len(x.entries), func(i int) bool { return x.entries[i].maxBefore >= ts }) - 1
	if i < 0 {
		return min, true
	}
	return max(x.entries[i].offset, min), true
}

// offsetForTime finds the first record at or after min whose timestamp is
// >= ts: its offset and timestamp, or -1, -1.
func (h *Handler) offsetForTime(id [16]byte, topic string, part int32, ts, min, hwm int64) (int64, int64, error) {
	x := h.times.get(id, part)
	x.mu.Lock()
	err := x.extendLocked(h, topic, part, min, hwm)
	from, ok := x.searchFromLocked(ts, min)
	x.mu.Unlock()
	if err != nil || !ok {
		return -1, -1, err
	}
	found, foundTs := int64(-1), int64(-1)
	err = h.scanTimes(topic, part, from, hwm, func(e *timedEntry) bool {
		switch {
		case e.maxTs < ts:
		case e.hdr != nil:
			found, foundTs = recordAtOrAfter(e.batch, e.hdr, func(off, t int64) bool { return off >= min && t >= ts })
		case e.base >= min: // a RocketMQ message, one offset
			found, foundTs = e.base, e.maxTs
		}
		return found < 0
	})
	return found, foundTs, err
}

// maxTimestampOffset finds the first record with the largest timestamp
// (ListOffsets -3, KIP-734).
func (h *Handler) maxTimestampOffset(id [16]byte, topic string, part int32, min, hwm int64) (int64, int64, error) {
	x := h.times.get(id, part)
	x.mu.Lock()
	if x.base != min {
		x.resetLocked(min) // the maximum may have been below the new start
	}
	err := x.extendLocked(h, topic, part, min, hwm)
	maxTs := x.maxTs
	x.mu.Unlock()
	if err != nil || maxTs < 0 {
		return -1, -1, err
	}
	return h.offsetForTime(id, topic, part, maxTs, min, hwm)
}
