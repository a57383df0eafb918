package log

import (
	"context"
	"fmt"

	"github.com/twinmq/twinmq/storage"
)

// Log is the append side of the log service: every produce and send
// appends through it, and through it waits for its acknowledgement
// condition and for its entries to become readable. Today the condition
// is the store's flush mode (written for ASYNC_FLUSH, fsynced for
// SYNC_FLUSH); replication adds "replicated to the sync-state set" here,
// and only here. Its methods are safe for concurrent use.
type Log struct {
	store *storage.Store
}

// New returns the log service over store.
func New(store *storage.Store) *Log { return &Log{store: store} }

// Append appends entries in one write and returns their positions once
// they meet the acknowledgement condition (RocketMQ answers SEND_OK
// then). Readers may not see them yet: see WaitVisible.
func (l *Log) Append(ctx context.Context, entries []storage.Entry) ([]storage.Position, error) {
	return l.store.Append(ctx, entries)
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

// AppendInline runs fn, which appends without waiting for anything (no
// context to wait on, no fsync), so that everything it appends is
// readable when AppendInline returns, with no other goroutine involved:
// the path of a produce answered on an event loop (docs/deviations.md
// #11). It reports false, without running fn, when that cannot be done
// without waiting: in SYNC_FLUSH (an acknowledgement waits for an fsync),
// or while the store's dispatcher is at work.
func (l *Log) AppendInline(fn func()) bool {
	if !l.store.HoldDispatch() {
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
