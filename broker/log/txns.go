package log

import (
	"cmp"
	"errors"
	"maps"
	"slices"
	"sync"

	"github.com/twinmq/twinmq/storage"
)

// Transactions on the read side (KIP-98): a partition's last stable
// offset (LSO) is the first offset of its oldest open transaction, or the
// visible end when none is open; a read_committed reader never reads past
// it. An aborted transaction's records stay in the log, and readers skip
// them using the partition's aborted-transaction list: per aborted
// transaction, its producer id, its first offset in the partition and the
// offset of its ABORT marker.
//
// Txns is that index. It is not written separately: the adapter tells it
// when a transactional batch is appended (Begin) and when a marker is
// (End), both from the append itself, before the entry can be visible; after a start a partition's index is rebuilt from the
// tail of its log on first use, as Producers rebuilds idempotence state.

// TxnBatch is what the index reads of a stored entry.
type TxnBatch struct {
	ProducerID int64
	// Marker: a COMMIT or ABORT control batch; Abort tells which.
	Marker, Abort bool
}

// TxnLoader reads a stored entry's transactional batch, if it is one.
type TxnLoader func(e *Entry) (TxnBatch, bool)

// AbortedTxn is one aborted transaction of a partition.
type AbortedTxn struct {
	ProducerID  int64
	FirstOffset int64
	LastOffset  int64 // the ABORT marker's offset
}

// Txns is every partition's transaction index.
type Txns struct {
	store *storage.Store
	scan  int64
	load  TxnLoader

	mu    sync.Mutex // guards parts and every txnPart's fields but loadMu
	parts map[PartKey]*txnPart
}

// txnPart is one partition's index. Its rebuild reads the log without
// Txns.mu (other partitions' readers and appends go on meanwhile); the
// Begin and End of appends made during it wait in pending and are applied
// after what the rebuild read, in their order. Lock order: loadMu, mu.
type txnPart struct {
	loadMu  sync.Mutex // serializes the rebuild
	loaded  bool
	open    map[int64]int64 // producer id -> first offset of its open transaction
	aborted []AbortedTxn    // by LastOffset
	pending []txnEvent      // live Begin and End while !loaded
}

// txnEvent is a Begin (end false) or End that came during a rebuild.
type txnEvent struct {
	pid, offset int64
	end, abort  bool
}

func (p *txnPart) apply(ev txnEvent) {
	if ev.end {
		p.end(ev.pid, ev.offset, ev.abort)
	} else {
		p.begin(ev.pid, ev.offset)
	}
}

// NewTxns returns the index over store; scan bounds how far back a
// rebuild reads (a transaction open longer than that many records before
// a restart is not seen as open).
func NewTxns(store *storage.Store, scan int64, load TxnLoader) *Txns {
	return &Txns{store: store, scan: scan, load: load, parts: map[PartKey]*txnPart{}}
}

// part returns k's index, rebuilt from topic's log first if a start left
// it unknown; Txns.mu is not held during the rebuild.
func (t *Txns) part(k PartKey, topic string) (*txnPart, error) {
	t.mu.Lock()
	p := t.parts[k]
	if p == nil {
		p = &txnPart{open: map[int64]int64{}}
		t.parts[k] = p
	}
	loaded := p.loaded
	t.mu.Unlock()
	if loaded {
		return p, nil
	}
	p.loadMu.Lock()
	defer p.loadMu.Unlock()
	t.mu.Lock()
	loaded = p.loaded
	t.mu.Unlock()
	if loaded {
		return p, nil
	}
	read := &txnPart{open: map[int64]int64{}}
	hi, err := t.rebuild(read, topic, k.Queue)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	p.open, p.aborted = read.open, read.aborted
	for _, ev := range p.pending {
		if ev.offset >= hi { // below hi the rebuild read the entry itself
			p.apply(ev)
		}
	}
	p.pending, p.loaded = nil, true
	return p, nil
}

// rebuild reads the queue's tail into p and returns the offset it read
// up to (the live events of entries below it are not applied again).
func (t *Txns) rebuild(p *txnPart, topic string, queue int32) (int64, error) {
	lo, err := t.store.MinOffset(topic, queue)
	if errors.Is(err, storage.ErrQueueNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	hi, err := t.store.MaxOffset(topic, queue)
	if err != nil {
		return 0, err
	}
	off := max(lo, hi-t.scan)
	for off < hi {
		res, err := t.store.Read(topic, queue, off, storage.ReadOptions{MaxBytes: 8 << 20})
		if err != nil {
			return 0, err
		}
		for i := range res.Entries {
			e := entryOf(&res.Entries[i])
			if b, ok := t.load(&e); ok {
				if b.Marker {
					p.end(b.ProducerID, e.QueueOffset, b.Abort)
				} else {
					p.begin(b.ProducerID, e.QueueOffset)
				}
			}
		}
		n := len(res.Entries)
		off = res.NextOffset
		res.Release()
		if n == 0 {
			break
		}
	}
	// The last read may have gone past hi: the entries up to off are read.
	return max(off, hi), nil
}

func (p *txnPart) begin(pid, offset int64) {
	if _, ok := p.open[pid]; !ok {
		p.open[pid] = offset
	}
}

func (p *txnPart) end(pid, marker int64, abort bool) {
	first, ok := p.open[pid]
	if !ok {
		return // a marker written again after a restart closes nothing
	}
	delete(p.open, pid)
	if abort {
		p.aborted = append(p.aborted, AbortedTxn{ProducerID: pid, FirstOffset: first, LastOffset: marker})
	}
}

// Load rebuilds k's index from topic's log if a start left it unknown:
// call it before an append whose Message.Encode calls Begin.
func (t *Txns) Load(k PartKey, topic string) error {
	_, err := t.part(k, topic)
	return err
}

// record applies a live event to k's index, or keeps it for after the
// rebuild running.
func (t *Txns) record(k PartKey, ev txnEvent) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.parts[k]
	switch {
	case p == nil:
		// Dropped meanwhile (Forget): a later rebuild reads the entry.
	case !p.loaded:
		p.pending = append(p.pending, ev)
	default:
		p.apply(ev)
	}
}

// Begin records that producer pid's transaction wrote a batch at offset
// of k. Call it from the batch's Message.Encode, which runs at append
// with the batch's offset and before any reader can see the batch: the
// LSO never passes it. It never reads the log (Encode runs under the
// store's append lock): Load the partition before.
func (t *Txns) Begin(k PartKey, pid, offset int64) {
	t.record(k, txnEvent{pid: pid, offset: offset})
}

// End records producer pid's marker at offset of k. Like Begin, call it
// from the marker's Message.Encode (after Load): the LSO has moved past
// the transaction when the marker becomes visible, so a read_committed
// fetch the marker wakes sees the transaction's outcome.
func (t *Txns) End(k PartKey, pid, offset int64, abort bool) {
	t.record(k, txnEvent{pid: pid, offset: offset, end: true, abort: abort})
}

// Stable returns k's last stable offset given its visible end, and the
// aborted transactions that overlap [from, LSO), dropping those wholly
// before start (retention took their records).
func (t *Txns) Stable(k PartKey, topic string, start, from, end int64) (lso int64, aborted []AbortedTxn, err error) {
	p, err := t.part(k, topic)
	if err != nil {
		return 0, nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	lso = end
	for _, first := range p.open {
		lso = min(lso, first)
	}
	if i := firstEndingAt(p.aborted, start); i > 0 {
		p.aborted = slices.Delete(p.aborted, 0, i)
	}
	for _, a := range p.aborted[firstEndingAt(p.aborted, from):] {
		if a.FirstOffset < lso {
			aborted = append(aborted, a)
		}
	}
	return lso, aborted, nil
}

// firstEndingAt is the index of the first aborted transaction whose
// marker is at or after offset.
func firstEndingAt(aborted []AbortedTxn, offset int64) int {
	i, _ := slices.BinarySearchFunc(aborted, offset, func(a AbortedTxn, o int64) int { return cmp.Compare(a.LastOffset, o) })
	return i
}

// Open returns the first offset of each open transaction of k, by
// producer id.
func (t *Txns) Open(k PartKey, topic string) (map[int64]int64, error) {
	p, err := t.part(k, topic)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return maps.Clone(p.open), nil
}

// Forget drops a deleted topic's partitions.
func (t *Txns) Forget(topicID [16]byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k := range t.parts {
		if k.TopicID == topicID {
			delete(t.parts, k)
		}
	}
}
