package kafkaapi

import (
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twinmq/twinmq/storage"
	"github.com/twinmq/twinmq/wire/kafka"
)

// maxBatchCache is how many batches per producer and partition are kept
// for duplicate detection: a client keeps at most 5 requests in flight
// (max.in.flight.requests.per.connection with idempotence).
const maxBatchCache = 5

// producers is the idempotent-producer state (KIP-98): per partition, per
// producer id, the epoch and the last five batches' sequence ranges.
//
// It is not written separately: a partition's state is rebuilt lazily, on
// its first idempotent batch after a start, from the batch headers of the
// tail of its log (the stored batches carry producer id, epoch and base
// sequence), so it survives restarts and crashes exactly as the data does.
type producers struct {
	store   *storage.Store
	scan    int64
	nextPID atomic.Int64

	mu    sync.Mutex // guards parts
	parts map[partKey]*partState
}

type partKey struct {
	topicID [16]byte // a recreated topic gets a new id, hence fresh state
	part    int32
}

// partState is one partition's producers. mu is held across the check,
// the append and the record of an idempotent batch.
type partState struct {
	mu     sync.Mutex
	loaded bool
	pids   map[int64]*pidState
}

type pidState struct {
	epoch   int16
	batches []batchMeta // oldest first, at most maxBatchCache
}

type batchMeta struct {
	firstSeq, lastSeq int32
	baseOffset        int64
	appendTime        int64
}

func newProducers(store *storage.Store, now func() time.Time, scan int64) *producers {
	p := &producers{store: store, scan: scan, parts: map[partKey]*partState{}}
	// Producer ids must not repeat across restarts. Instead of persisting a
	// counter, start from the clock in microseconds: a restart is later
	// than every id handed out before unless more than a million ids per
	// second were allocated (InitProducerId is once per producer).
	p.nextPID.Store(now().UnixMicro())
	return p
}

// allocate returns a fresh producer id.
func (p *producers) allocate() int64 { return p.nextPID.Add(1) }

// partition returns a partition's state, not yet loaded.
func (p *producers) partition(id [16]byte, part int32) *partState {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := partKey{id, part}
	ps := p.parts[k]
	if ps == nil {
		ps = &partState{pids: map[int64]*pidState{}}
		p.parts[k] = ps
	}
	return ps
}

// loadLocked rebuilds ps from the tail of the partition's log; ps.mu held.
func (p *producers) loadLocked(ps *partState, topic string, part int32) error {
	if ps.loaded {
		return nil
	}
	lo, err := p.store.MinOffset(topic, part)
	if errors.Is(err, storage.ErrQueueNotFound) {
		ps.loaded = true
		return nil
	}
	if err != nil {
		return err
	}
	hi, err := p.store.MaxOffset(topic, part)
	if err != nil {
		return err
	}
	for off := max(lo, hi-p.scan); off < hi; {
		res, err := p.store.Read(topic, part, off, storage.ReadOptions{MaxBytes: 8 << 20})
		if err != nil {
			return err
		}
		for _, e := range res.Entries {
			if e.Kind != storage.KindKafka {
				continue
			}
			if h, err := kafka.ParseBatchHeader(e.Payload); err == nil && h.ProducerID >= 0 && !h.IsControl() {
				ps.recordLocked(&h, e.QueueOffset, e.StoreTime)
			}
		}
		n := len(res.Entries)
		off = res.NextOffset
		res.Release()
		if n == 0 {
			break
		}
	}
	ps.loaded = true
	return nil
}

// lastSeq is the sequence of a batch's last record; sequences wrap from
// MaxInt32 to 0 (KIP-98).
func lastSeq(first, n int32) int32 {
	return int32((int64(first) + int64(n) - 1) % (math.MaxInt32 + 1))
}

func nextSeq(s int32) int32 {
	if s == math.MaxInt32 {
		return 0
	}
	return s + 1
}

// checkLocked decides an idempotent batch as Kafka's ProducerStateManager
// does: a batch already among the last five is a duplicate (answered with
// its original offsets, not appended again); an older epoch is fenced; a
// new epoch must start at sequence 0 (KIP-360 client-side bumps); within
// an epoch the sequence must follow the last one. An unknown producer is
// accepted whatever its sequence (its state may have aged out).
func (ps *partState) checkLocked(h *kafka.BatchHeader) (dup *batchMeta, code int16) {
	st := ps.pids[h.ProducerID]
	if st == nil {
		return nil, errNone
	}
	switch {
	case h.ProducerEpoch < st.epoch:
		return nil, errInvalidProducerEpoch
	case h.ProducerEpoch > st.epoch:
		if h.BaseSequence != 0 {
			return nil, errOutOfOrderSequence
		}
		return nil, errNone
	}
	last := lastSeq(h.BaseSequence, h.NumRecords)
	for i := range st.batches {
		b := &st.batches[i]
		if b.firstSeq == h.BaseSequence && b.lastSeq == last {
			return b, errNone
		}
	}
	if n := len(st.batches); n > 0 && h.BaseSequence != nextSeq(st.batches[n-1].lastSeq) {
		return nil, errOutOfOrderSequence
	}
	return nil, errNone
}

// recordLocked remembers an appended idempotent batch.
func (ps *partState) recordLocked(h *kafka.BatchHeader, baseOffset, appendTime int64) {
	st := ps.pids[h.ProducerID]
	if st == nil || h.ProducerEpoch > st.epoch {
		st = &pidState{epoch: h.ProducerEpoch}
		ps.pids[h.ProducerID] = st
	}
	if h.ProducerEpoch < st.epoch {
		return
	}
	if len(st.batches) == maxBatchCache {
		st.batches = append(st.batches[:0], st.batches[1:]...)
	}
	st.batches = append(st.batches, batchMeta{
		firstSeq: h.BaseSequence, lastSeq: lastSeq(h.BaseSequence, h.NumRecords),
		baseOffset: baseOffset, appendTime: appendTime,
	})
}

// forget drops the state of a deleted topic's partitions.
func (p *producers) forget(id [16]byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k := range p.parts {
		if k.topicID == id {
			delete(p.parts, k)
		}
	}
}
