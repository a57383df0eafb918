package kvlog

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twinmq/twinmq/storage"
)

// tailRetry is how long the tail waits after a failed read before trying
// again: a read fails on a damaged entry or a closing store, neither of
// which a tight loop would mend.
const tailRetry = time.Second

// change is one OnChange call.
type change struct {
	key     string
	value   []byte
	deleted bool
}

// startTailLocked starts the tail goroutine; mu held, or no other
// goroutine has the Log yet.
func (l *Log) startTailLocked() {
	l.stop, l.done = make(chan struct{}), make(chan struct{})
	go l.tail(l.stop, l.done)
}

// tail applies new records as they become visible, until stop closes.
func (l *Log) tail(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	wake := make(chan struct{}, 1)
	signal := func() { // on the dispatcher, which it must not block
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	for {
		if err := l.catchUp(); err != nil {
			l.opt.Logger.Error("kvlog: follower cannot read; retrying", "topic", l.opt.Topic, "offset", l.next, "err", err)
			select {
			case <-stop:
				return
			case <-time.After(tailRetry):
			}
			continue
		}
		// Fires once the queue holds a record at l.next.
		cancel := l.store.Notify(l.opt.Topic, 0, l.next, signal)
		select {
		case <-wake:
		case <-stop:
			cancel()
			return
		}
	}
}

// catchUp applies every record from l.next to the queue's end; the tail's,
// or Promote's once the tail has stopped.
func (l *Log) catchUp() error {
	var changes []change
	done := l.next // the offset after the last record applied
	next, err := l.read(l.next, func(e storage.ReadEntry) error {
		done = e.QueueOffset + int64(e.Count)
		op, key, value, err := decode(e.Payload)
		if err != nil {
			return l.corrupt(false, e.QueueOffset, err)
		}
		l.mu.Lock()
		l.records++
		applyOp(l.table, op, key, value)
		if op == opPut {
			value = l.table[key]
		}
		l.mu.Unlock()
		changes = append(changes, change{key, value, op == opDelete})
		return nil
	})
	var oe *storage.OffsetError
	if errors.As(err, &oe) {
		// The records before the min offset are gone (compaction and
		// retention) or the queue ends before l.next: what is left
		// replays to the whole table.
		return l.reload()
	}
	if err != nil {
		// Report what was applied before the failure, so OnChange stays
		// in step with the table.
		l.report(changes, done)
		return err
	}
	l.report(changes, next)
	return nil
}

// reload replaces the table with a replay from the queue's min offset and
// reports the difference.
func (l *Log) reload() error {
	table, records, next, err := l.load(false)
	if err != nil {
		return err
	}
	l.mu.Lock()
	old := l.table
	l.table, l.records = table, records
	l.mu.Unlock()
	var changes []change
	for _, k := range sortedKeys(old) {
		if _, ok := table[k]; !ok {
			changes = append(changes, change{key: k, deleted: true})
		}
	}
	for _, k := range sortedKeys(table) {
		if v, ok := old[k]; !ok || string(v) != string(table[k]) {
			changes = append(changes, change{key: k, value: table[k]})
		}
	}
	l.opt.Logger.Debug("kvlog: follower replayed from the min offset", "topic", l.opt.Topic, "records", records, "changed", len(changes))
	l.report(changes, next)
	return nil
}

// report runs OnChange for changes, then publishes next as applied.
func (l *Log) report(changes []change, next int64) {
	if l.opt.OnChange != nil {
		for _, c := range changes {
			l.opt.OnChange(c.key, c.value, c.deleted)
		}
	}
	l.next = next
	l.mu.Lock()
	l.applied = next
	l.progressedLocked()
	l.mu.Unlock()
}

// progressedLocked wakes the Sync callers.
func (l *Log) progressedLocked() {
	if l.progress != nil {
		close(l.progress)
		l.progress = make(chan struct{})
	}
}

// Following reports whether the Log is a follower (not yet promoted).
func (l *Log) Following() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.following
}

// Sync waits until a follower has applied, and reported to OnChange,
// every record the queue held when Sync was called. On a writer it
// returns at once.
func (l *Log) Sync(ctx context.Context) error {
	target, err := l.store.MaxOffset(l.opt.Topic, 0)
	if errors.Is(err, storage.ErrQueueNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("kvlog: %s: %w", l.opt.Topic, err)
	}
	for {
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			return ErrClosed
		}
		if !l.following || l.applied >= target {
			l.mu.Unlock()
			return nil
		}
		ch := l.progress
		l.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("kvlog: %s: sync to %d: %w", l.opt.Topic, target, ctx.Err())
		}
	}
}

// Promote turns a follower into a writer (failover): it stops the tail,
// applies and reports the records the store holds by then, and from then
// on the Log writes over exactly that table, compacting as Open does. It
// must run once the store accepts appends. When the last records cannot
// be read it returns the error and the Log stays a follower. Promoting a
// writer does nothing.
func (l *Log) Promote(ctx context.Context) error {
	l.promoteMu.Lock()
	defer l.promoteMu.Unlock()
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	if !l.following {
		l.mu.Unlock()
		return nil
	}
	stop, done := l.stop, l.done
	l.stop = nil
	l.mu.Unlock()
	close(stop)
	<-done
	err := l.catchUp()
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	if err != nil {
		l.startTailLocked()
		l.mu.Unlock()
		return fmt.Errorf("kvlog: promote %s: %w", l.opt.Topic, err)
	}
	l.following = false
	l.progressedLocked()
	l.timer = time.AfterFunc(l.opt.CompactInterval, l.tick)
	keys, records := len(l.table), l.records
	l.mu.Unlock()
	l.opt.Logger.Info("kvlog: promoted to writer", "topic", l.opt.Topic, "keys", keys, "records", records)
	if records > 2*keys+16 {
		// The slave's queue keeps what the master's compactions dropped
		// (SetMinOffset is the master's own, not replicated): compact
		// now. The timer retries if this fails.
		if err := l.Compact(ctx); err != nil {
			l.opt.Logger.Warn("kvlog: compaction after promotion failed", "topic", l.opt.Topic, "err", err)
		}
	}
	return nil
}
