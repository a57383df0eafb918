package storage

import (
	"context"
	"fmt"
	"time"
)

// Append writes entries to the CommitLog, in order, and returns where each
// landed (physical offset, logical offset, store time). In SYNC_FLUSH mode
// it returns only once an fsync covers them (group commit), or ctx ends;
// an append whose wait was cut short by ctx may still become durable.
func (s *Store) Append(ctx context.Context, entries []Entry) ([]Position, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	pos, err := s.log.Append(entries, make([]Position, 0, len(entries)))
	if err != nil {
		return pos, fmt.Errorf("storage: append: %w", err)
	}
	if len(pos) == 0 {
		return pos, nil
	}
	last := pos[len(pos)-1]
	end := last.Phys + int64(last.Size)
	if s.cfg.FlushDiskType == SyncFlush {
		if err := s.waitFlushed(ctx, end); err != nil {
			return pos, err
		}
	}
	s.wakeDispatcher()
	return pos, nil
}

// wakeDispatcher wakes the dispatcher when someone needs the new entry
// now: a parked long poll, a dispatcher with no catch-up tick armed, or a
// backlog past lazyDispatchBytes. Otherwise the armed tick (every
// lazyDispatchInterval while entries keep coming) dispatches the batch. A
// wakeup costs the appender a futex call, about a third of an append.
func (s *Store) wakeDispatcher() {
	if s.nwaiters.Load() == 0 && s.lazyArmed.Load() &&
		s.log.WrittenOffset()-s.dispatched.Load() < lazyDispatchBytes {
		return
	}
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Lazy dispatch bounds how stale a ConsumeQueue may be for readers that
// poll without waiting (Notify waiters are woken at once).
const (
	lazyDispatchInterval = time.Millisecond
	lazyDispatchBytes    = 256 << 10
)

// waitFlushed blocks until the CommitLog is durable up to end.
func (s *Store) waitFlushed(ctx context.Context, end int64) error {
	for {
		s.flushMu.Lock()
		ch := s.flushDone
		s.flushMu.Unlock()
		if s.log.FlushedOffset() >= end {
			return nil
		}
		if err := s.log.Err(); err != nil {
			return fmt.Errorf("storage: flush: %w", err)
		}
		select {
		case s.flushKick <- struct{}{}:
		default:
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("storage: waiting for flush to %d: %w", end, ctx.Err())
		case <-s.done:
			return ErrClosed
		}
	}
}

// flushLoop is the flush service. In SYNC_FLUSH it is the group commit:
// each pass fsyncs everything written so far, then releases every
// appender that waited for it. In ASYNC_FLUSH it flushes every
// FlushInterval, which bounds what a power loss can take.
func (s *Store) flushLoop() {
	defer s.wg.Done()
	tick := time.NewTicker(s.cfg.FlushInterval)
	defer tick.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-s.flushKick:
		case <-tick.C:
		}
		_, err := s.log.Flush()
		s.flushes.Add(1)
		s.flushMu.Lock()
		close(s.flushDone)
		s.flushDone = make(chan struct{})
		s.flushMu.Unlock()
		if err != nil {
			s.cfg.Logger.Error("storage: fsync failed; refusing further writes", "err", err)
		}
		if s.cfg.FlushDiskType == SyncFlush {
			s.wakeDispatcher()
		}
	}
}
