package log

import (
	"cmp"
	"errors"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twinmq/twinmq/storage"
)

// Idempotent producers (KIP-98): each batch of an idempotent producer
// carries its producer id, epoch and base sequence; the log appends it
// once, whatever the producer's retries, and refuses batches out of order
// or from a fenced epoch. The decision is a pure step (ProducerState);
// Producers adds the per-partition lock that makes check, append and
// record one step, and rebuilds a partition's state from its log.

// MaxBatchCache is how many batches per producer and partition are kept
// for duplicate detection: a client keeps at most 5 requests in flight
// (max.in.flight.requests.per.connection with idempotence).
const MaxBatchCache = 5

// ProducerBatch is what the idempotence check reads of a batch.
type ProducerBatch struct {
	ProducerID   int64
	Epoch        int16
	BaseSequence int32
	Count        int32 // records in the batch
}

// Verdict is the idempotence check's decision on a batch.
type Verdict uint8

const (
	// Accept: append the batch.
	Accept Verdict = iota
	// Duplicate: one of the producer's last MaxBatchCache batches; answer
	// with its original offset, append nothing.
	Duplicate
	// StaleEpoch: an epoch older than the producer's (fenced; Kafka's
	// INVALID_PRODUCER_EPOCH).
	StaleEpoch
	// OutOfOrder: the sequence does not follow the producer's last
	// batch, or a new epoch does not start at 0 (OUT_OF_ORDER_SEQUENCE_NUMBER).
	OutOfOrder
)

// Appended is where an accepted batch went.
type Appended struct {
	BaseOffset int64
	AppendTime int64 // ms
}

// ProducerState is one partition's idempotent producers: per producer id,
// its epoch and its last MaxBatchCache batches. It is a pure core: no
// lock, no I/O, no clock. The zero value is empty and ready.
type ProducerState struct {
	pids map[int64]*pidState
}

type pidState struct {
	epoch   int16
	batches []batchMeta // oldest first, at most MaxBatchCache
}

type batchMeta struct {
	firstSeq, lastSeq int32
	at                Appended
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

// Check decides a batch as Kafka's ProducerStateManager does: a batch
// already among the producer's last MaxBatchCache is a Duplicate
// (answered with its original offsets); an older epoch is StaleEpoch; a
// new epoch must start at sequence 0 (KIP-360's client-side bumps);
// within an epoch the sequence must follow the last one. An unknown
// producer is accepted whatever its sequence (its state may have aged
// out of the log's tail).
func (s *ProducerState) Check(b ProducerBatch) (Verdict, Appended) {
	st := s.pids[b.ProducerID]
	if st == nil {
		return Accept, Appended{}
	}
	switch {
	case b.Epoch < st.epoch:
		return StaleEpoch, Appended{}
	case b.Epoch > st.epoch:
		if b.BaseSequence != 0 {
			return OutOfOrder, Appended{}
		}
		return Accept, Appended{}
	}
	last := lastSeq(b.BaseSequence, b.Count)
	for _, m := range st.batches {
		if m.firstSeq == b.BaseSequence && m.lastSeq == last {
			return Duplicate, m.at
		}
	}
	if n := len(st.batches); n > 0 && b.BaseSequence != nextSeq(st.batches[n-1].lastSeq) {
		return OutOfOrder, Appended{}
	}
	return Accept, Appended{}
}

// Record remembers an appended batch (one Check accepted, or one read
// back from the log while rebuilding). A newer epoch replaces the
// producer's state; an older one is ignored.
func (s *ProducerState) Record(b ProducerBatch, at Appended) {
	if s.pids == nil {
		s.pids = map[int64]*pidState{}
	}
	st := s.pids[b.ProducerID]
	if st == nil || b.Epoch > st.epoch {
		st = &pidState{epoch: b.Epoch}
		s.pids[b.ProducerID] = st
	}
	if b.Epoch < st.epoch {
		return
	}
	if len(st.batches) == MaxBatchCache {
		st.batches = append(st.batches[:0], st.batches[1:]...)
	}
	st.batches = append(st.batches, batchMeta{firstSeq: b.BaseSequence, lastSeq: lastSeq(b.BaseSequence, b.Count), at: at})
}

// ProducerLoader reads the producer batch a stored entry holds, if any
// (a protocol adapter knows its own entries' layout).
type ProducerLoader func(e *Entry) (ProducerBatch, bool)

// PartKey names a partition's producer state: a topic re-created under
// the same name gets a new id, hence a fresh state.
type PartKey struct {
	TopicID [16]byte
	Queue   int32
}

// Producers holds every partition's ProducerState. It is not written
// separately: a partition's state is rebuilt on its first idempotent batch
// after a start from the tail of its log (the stored batches carry
// producer id, epoch and base sequence), so it survives restarts and
// crashes exactly as the data does.
type Producers struct {
	store   *storage.Store
	scan    int64
	load    ProducerLoader
	nextPID atomic.Int64

	mu    sync.Mutex // guards parts
	parts map[PartKey]*partition
}

// partition is one partition's state; mu is held across the check, the
// append and the record of a batch.
type partition struct {
	mu     sync.Mutex
	loaded bool
	state  ProducerState
}

// NewProducers returns the producer state over store: scan bounds how
// many offsets of a partition's tail a rebuild reads, load reads a
// stored entry's producer batch.
func NewProducers(store *storage.Store, now func() time.Time, scan int64, load ProducerLoader) *Producers {
	p := &Producers{store: store, scan: scan, load: load, parts: map[PartKey]*partition{}}
	// Producer ids must not repeat across restarts. Instead of persisting a
	// counter, start from the clock in microseconds: a restart is later
	// than every id handed out before unless more than a million ids per
	// second were allocated (InitProducerId is once per producer).
	p.nextPID.Store(now().UnixMicro())
	return p
}

// Allocate returns a fresh producer id.
func (p *Producers) Allocate() int64 { return p.nextPID.Add(1) }

// Forget drops the state of a deleted topic's partitions.
func (p *Producers) Forget(topicID [16]byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k := range p.parts {
		if k.TopicID == topicID {
			delete(p.parts, k)
		}
	}
}

func (p *Producers) partition(k PartKey) *partition {
	p.mu.Lock()
	defer p.mu.Unlock()
	ps := p.parts[k]
	if ps == nil {
		ps = &partition{}
		p.parts[k] = ps
	}
	return ps
}

// Append is the idempotent check-and-append of one batch to topic's
// queue k.Queue: under the partition's lock (its state rebuilt from the
// log first, if needed) it checks b; a batch the check does not accept
// gets its verdict (a Duplicate its original Appended) and appendFn does
// not run; otherwise appendFn appends it and, if it succeeds, the batch is
// recorded.
func (p *Producers) Append(k PartKey, topic string, b ProducerBatch, appendFn func() (Appended, error)) (Verdict, Appended, error) {
	ps := p.partition(k)
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if err := p.loadLocked(ps, topic, k.Queue); err != nil {
		return Accept, Appended{}, err
	}
	return ps.appendLocked(b, appendFn)
}

// TryAppend is Append for a caller that must not wait (an event loop):
// ok is false, and nothing was done, when another batch of the partition
// is being decided or its state is not rebuilt yet.
func (p *Producers) TryAppend(k PartKey, b ProducerBatch, appendFn func() (Appended, error)) (ok bool, v Verdict, at Appended, err error) {
	ps := p.partition(k)
	if !ps.mu.TryLock() {
		return false, Accept, Appended{}, nil
	}
	defer ps.mu.Unlock()
	if !ps.loaded {
		return false, Accept, Appended{}, nil
	}
	v, at, err = ps.appendLocked(b, appendFn)
	return true, v, at, err
}

func (ps *partition) appendLocked(b ProducerBatch, appendFn func() (Appended, error)) (Verdict, Appended, error) {
	if v, at := ps.state.Check(b); v != Accept {
		return v, at, nil
	}
	at, err := appendFn()
	if err != nil {
		return Accept, Appended{}, err
	}
	ps.state.Record(b, at)
	return Accept, at, nil
}

// loadLocked rebuilds ps from the tail of the queue's log; ps.mu held.
func (p *Producers) loadLocked(ps *partition, topic string, queue int32) error {
	if ps.loaded {
		return nil
	}
	lo, err := p.store.MinOffset(topic, queue)
	if errors.Is(err, storage.ErrQueueNotFound) {
		ps.loaded = true
		return nil
	}
	if err != nil {
		return err
	}
	hi, err := p.store.MaxOffset(topic, queue)
	if err != nil {
		return err
	}
	for off := max(lo, hi-p.scan); off < hi; {
		res, err := p.store.Read(topic, queue, off, storage.ReadOptions{MaxBytes: 8 << 20})
		if err != nil {
			return err
		}
		for i := range res.Entries {
			e := entryOf(&res.Entries[i])
			if b, ok := p.load(&e); ok {
				ps.state.Record(b, Appended{BaseOffset: e.QueueOffset, AppendTime: e.StoreTime})
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

// Marker appends a transaction marker of producer pid at epoch to k under
// the partition's lock: an epoch older than the producer's is refused
// (StaleEpoch, nothing appended); a newer one becomes the producer's, so
// that a fenced producer's late batches are refused (Kafka writes the
// markers of a fencing abort with the bumped epoch for this).
func (p *Producers) Marker(k PartKey, topic string, pid int64, epoch int16, appendFn func() (Appended, error)) (Verdict, Appended, error) {
	ps := p.partition(k)
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if err := p.loadLocked(ps, topic, k.Queue); err != nil {
		return Accept, Appended{}, err
	}
	if st := ps.state.pids[pid]; st != nil && epoch < st.epoch {
		return StaleEpoch, Appended{}, nil
	}
	at, err := appendFn()
	if err != nil {
		return Accept, Appended{}, err
	}
	ps.state.Fence(pid, epoch)
	return Accept, at, nil
}

// Fence raises producer pid's epoch to epoch (a transaction marker): its
// batches of older epochs are refused from now on, and a newer epoch
// starts its sequences afresh.
func (s *ProducerState) Fence(pid int64, epoch int16) {
	if s.pids == nil {
		s.pids = map[int64]*pidState{}
	}
	if st := s.pids[pid]; st == nil || epoch > st.epoch {
		s.pids[pid] = &pidState{epoch: epoch}
	}
}

// ProducerInfo describes one producer of a partition (Kafka's
// DescribeProducers).
type ProducerInfo struct {
	ProducerID    int64
	Epoch         int16
	LastSequence  int32 // -1: none since the epoch began
	LastTimestamp int64 // ms of its last batch; -1: none
}

// Describe returns the producers of topic's queue k.Queue known from the
// log's tail, by producer id.
func (p *Producers) Describe(k PartKey, topic string) ([]ProducerInfo, error) {
	ps := p.partition(k)
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if err := p.loadLocked(ps, topic, k.Queue); err != nil {
		return nil, err
	}
	out := make([]ProducerInfo, 0, len(ps.state.pids))
	for pid, st := range ps.state.pids {
		info := ProducerInfo{ProducerID: pid, Epoch: st.epoch, LastSequence: -1, LastTimestamp: -1}
		if n := len(st.batches); n > 0 {
			info.LastSequence, info.LastTimestamp = st.batches[n-1].lastSeq, st.batches[n-1].at.AppendTime
		}
		out = append(out, info)
	}
	slices.SortFunc(out, func(a, b ProducerInfo) int { return cmp.Compare(a.ProducerID, b.ProducerID) })
	return out, nil
}
