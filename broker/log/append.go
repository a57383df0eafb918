package log

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/twinmq/twinmq/storage"
)

// Replication errors: an adapter answers them with its protocol's codes
// (Kafka NOT_ENOUGH_REPLICAS and REQUEST_TIMED_OUT; RocketMQ
// SLAVE_NOT_AVAILABLE and FLUSH_SLAVE_TIMEOUT, with the positions).
var (
	// ErrNotEnoughReplicas: fewer replicas are in sync than
	// minInSyncReplicas; nothing was appended.
	ErrNotEnoughReplicas = errors.New("log: not enough in-sync replicas")
	// ErrNotEnoughReplicasAfterAppend: the entries are written on the
	// master, but the in-sync replicas fell below minInSyncReplicas before
	// they had them. They become visible once replicated.
	ErrNotEnoughReplicasAfterAppend = errors.New("log: not enough in-sync replicas after the append")
	// ErrFenced: this broker's mastership has lapsed (controller mode: no
	// word from the controller for longer than it waits before electing
	// another master); nothing was appended. Kafka NOT_LEADER_OR_FOLLOWER,
	// RocketMQ SERVICE_NOT_AVAILABLE, as from a slave.
	ErrFenced = errors.New("log: not the master any more (no word from the controller)")
	// ErrReplicationTimeout: the entries are written on the master, but an
	// in-sync replica did not confirm them within the slave timeout.
	ErrReplicationTimeout = errors.New("log: replication timed out")
)

// Replicator is the acknowledgement condition a SYNC_MASTER adds
// (package broker/ha): Check refuses an append before it is written when
// too few replicas are in sync, and WaitReplicated returns once the
// in-sync replicas hold every byte below end.
type Replicator interface {
	Check() error
	WaitReplicated(ctx context.Context, end int64) error
}

// Log is the append side of the log service: every produce and send
// appends through it, and through it waits for its acknowledgement
// condition and for its entries to become readable. Today the condition
// is the store's flush mode (written for ASYNC_FLUSH, fsynced for
// SYNC_FLUSH); replication adds "replicated to the sync-state set" here,
// and only here. Its methods are safe for concurrent use.
type Log struct {
	store *storage.Store
	repl  atomic.Pointer[replicator] // nil unless a SYNC_MASTER's
}

// replicator boxes a Replicator for the atomic pointer.
type replicator struct{ Replicator }

// New returns the log service over store.
func New(store *storage.Store) *Log { return &Log{store: store} }

// NewReplicated returns the log service of a SYNC_MASTER: an append is
// acknowledged once repl says the in-sync replicas have it.
func NewReplicated(store *storage.Store, repl Replicator) *Log {
	l := &Log{store: store}
	l.SetReplicator(repl)
	return l
}

// SetReplicator changes the acknowledgement condition at runtime (a slave
// promoted to master starts waiting for its own slaves); nil: none.
// Appends already waiting keep the condition they started with.
func (l *Log) SetReplicator(repl Replicator) {
	if repl == nil {
		l.repl.Store(nil)
		return
	}
	l.repl.Store(&replicator{repl})
}

// Append appends msgs in one write and returns their positions once
// they meet the acknowledgement condition (RocketMQ answers SEND_OK
// then). Readers may not see them yet: see WaitVisible. With a
// Replicator, the condition includes replication: an error wrapping
// ErrReplicationTimeout or ErrNotEnoughReplicasAfterAppend comes with
// the positions (the entries are written, not yet acknowledged), and
// ErrNotEnoughReplicas with none (nothing was written). The store's
// errors (storage.ErrEntryTooLarge, ErrClosed, ...) come back wrapped,
// for errors.Is.
func (l *Log) Append(ctx context.Context, msgs []Message) ([]Position, error) {
	for i := range msgs {
		if k := msgs[i].Kind; k != KindRocketMQ && k != KindKafka {
			return nil, fmt.Errorf("log: append to %s/%d: a message of kind %d", msgs[i].Topic, msgs[i].QueueID, k)
		}
	}
	entries, pos := appendBuffers(len(msgs))
	for i := range msgs {
		entries[i] = msgs[i].storeEntry()
	}
	spos, err := l.append(ctx, entries)
	pos = pos[:len(spos)]
	for i := range spos {
		pos[i] = Position(spos[i])
	}
	return pos, err
}

// AppendEntries is Append for entries already in the store's form (a
// RocketMQ transaction's resolution: the committed message and its op
// record in one write), under the same acknowledgement condition.
func (l *Log) AppendEntries(ctx context.Context, entries []storage.Entry) ([]storage.Position, error) {
	return l.append(ctx, entries)
}

// append is Append in the store's types.
func (l *Log) append(ctx context.Context, entries []storage.Entry) ([]storage.Position, error) {
	repl := l.repl.Load()
	if repl == nil {
		return l.store.Append(ctx, entries)
	}
	if err := repl.Check(); err != nil {
		return nil, err
	}
	pos, err := l.store.Append(ctx, entries)
	if err != nil || len(pos) == 0 {
		return pos, err
	}
	last := pos[len(pos)-1]
	return pos, repl.WaitReplicated(ctx, last.Phys+int64(last.Size))
}

// WaitVisible waits until (topic, queue) holds offset, i.e. readers see
// it (a Kafka acks=1/all produce answers then: its records are under the
// high watermark). It first makes what is written readable on the
// caller's goroutine when nobody else is at it, which spares a
// one-producer stream a hand-off to the store's dispatcher and back per
// request; otherwise it parks until the dispatcher gets there.
func (l *Log) WaitVisible(ctx context.Context, topic string, queue int32, offset int64) error {
	l.store.DispatchNow()
	return WaitVisible(ctx, l.store, topic, queue, offset)
}

// AcksWhenWritten reports whether an append is acknowledged once it is
// written, with nothing to wait for (ASYNC_FLUSH and no Replicator): an
// adapter may then append on an event loop (a RocketMQ single send
// answered inline, docs/deviations.md #11).
func (l *Log) AcksWhenWritten() bool {
	return l.repl.Load() == nil && l.store.FlushDiskType() == storage.AsyncFlush
}

// AppendInline runs fn, which appends without waiting for anything (no
// context to wait on, no fsync), so that everything it appends is
// readable when AppendInline returns, with no other goroutine involved:
// the path of a produce answered on an event loop (docs/deviations.md
// #11). It reports false, without running fn, when that cannot be done
// without waiting: in SYNC_FLUSH (an acknowledgement waits for an fsync),
// or while the store's dispatcher is at work.
func (l *Log) AppendInline(fn func()) bool {
	if l.repl.Load() != nil || !l.store.HoldDispatch() {
		return false
	}
	defer l.store.ReleaseDispatch() // makes fn's appends readable
	fn()
	return true
}

// WaitVisible blocks until (topic, queue) holds offset (its max offset is
// past it), or ctx ends. It parks on storage.Notify, not a polling loop.
func WaitVisible(ctx context.Context, store *storage.Store, topic string, queue int32, offset int64) error {
	ch := make(chan struct{})
	cancel := store.Notify(topic, queue, offset, func() { close(ch) })
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		if !cancel() {
			return nil // fired meanwhile
		}
		return fmt.Errorf("waiting for %s/%d offset %d: %w", topic, queue, offset, ctx.Err())
	}
}
