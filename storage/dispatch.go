package storage

import (
	"context"
	"fmt"
	"path"
	"time"

	"github.com/twinmq/twinmq/storage/commitlog"
	"github.com/twinmq/twinmq/storage/consumequeue"
)

// dispatchLoop is the reput service: it turns CommitLog entries into
// ConsumeQueue units and index entries, in log order, up to the visible
// end (written bytes in ASYNC_FLUSH, durable bytes in SYNC_FLUSH, so a
// consumer never sees an entry a crash could take back), wakes long
// polls, writes checkpoints and runs retention. It serves each event
// holding dispatchMu, the ownership of all derived data, which a
// DispatchNow or HoldDispatch caller may hold instead (package doc).
func (s *Store) dispatchLoop() {
	defer s.wg.Done()
	cpTick := time.NewTicker(s.cfg.CheckpointInterval)
	defer cpTick.Stop()
	retTick := time.NewTicker(s.cfg.RetentionCheckInterval)
	defer retTick.Stop()
	lazy := time.NewTimer(lazyDispatchInterval)
	defer lazy.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-lazy.C:
			s.own(func() { s.lazyTick(lazy) })
		case <-s.kick:
			s.own(s.dispatchVisible)
			if !s.lazyArmed.Load() {
				s.lazyArmed.Store(true)
				lazy.Reset(lazyDispatchInterval)
			}
		case op := <-s.ops:
			s.own(func() {
				s.dispatchVisible()
				op()
			})
		case <-cpTick.C:
			s.checkSpace()
			if err := s.checkpointConcurrent(); err != nil {
				s.failLog.error(s.cfg.Logger, s.cfg.Now(), "storage: checkpoint failed", "err", err)
			}
		case <-retTick.C:
			s.own(func() {
				s.dispatchVisible()
				if err := s.enforceRetention(); err != nil {
					s.failLog.error(s.cfg.Logger, s.cfg.Now(), "storage: retention failed", "err", err)
				}
			})
		}
	}
}

// own runs fn holding dispatchMu, the ownership of derived data.
func (s *Store) own(fn func()) {
	s.dispatchMu.Lock()
	defer s.dispatchMu.Unlock()
	fn()
}

// DispatchNow makes the entries written so far readable, and fires the
// Notify waiters they satisfy, on the caller's goroutine, unless there is
// nothing to do or the dispatcher is at work (it then does so itself); it
// reports whether it dispatched. An appender about to wait for its own
// entry (a Kafka produce with acks) thus saves two thread hand-offs, to
// the dispatcher and back, which on a 2-core VM cost more than the
// dispatch. Waiters' callbacks may run on the caller's goroutine, so the
// caller must hold no lock a callback takes.
func (s *Store) DispatchNow() bool {
	if s.visibleOffset() <= s.dispatched.Load() || !s.tryOwn() {
		return false
	}
	defer s.dispatchMu.Unlock()
	s.dispatchVisible()
	return true
}

// tryOwn takes dispatchMu if it is free and the store is open.
func (s *Store) tryOwn() bool {
	if s.closed.Load() || !s.dispatchMu.TryLock() {
		return false
	}
	if s.closed.Load() { // Close has run: the parts are gone
		s.dispatchMu.Unlock()
		return false
	}
	return true
}

// HoldDispatch takes ownership of derived data for the caller, if the
// store is in ASYNC_FLUSH and the dispatcher is idle, and reports whether
// it did. The caller then appends (without waiting for anything a
// dispatcher serves) and calls ReleaseDispatch, which makes those entries
// readable and fires the waiters they satisfy on the caller's goroutine.
// A Kafka produce answered on the event loop uses it: when HoldDispatch
// succeeds, its records are visible before the reply is written, without
// a thread hand-off; when it fails, nothing was done and the request goes
// the usual way. While it is held the dispatcher waits, and appends do
// not wake it (held): the release dispatches them. It refuses while the
// visibility gate is on (GateVisible): the release could not make the
// caller's entries visible before a replica has them.
func (s *Store) HoldDispatch() bool {
	if s.cfg.FlushDiskType == SyncFlush || s.gated.Load() || !s.tryOwn() {
		return false
	}
	s.held.Store(true)
	return true
}

// ReleaseDispatch ends a successful HoldDispatch: it dispatches every
// entry written so far and gives ownership back. held is cleared first:
// an append that still saw it set wrote its entry before, so this
// dispatch takes it; a later one wakes the dispatcher as usual.
func (s *Store) ReleaseDispatch() {
	defer s.dispatchMu.Unlock()
	s.held.Store(false)
	s.dispatchVisible()
}

// lazyTick dispatches what appenders left for the tick and keeps the tick
// armed while entries keep coming; once a tick finds nothing it disarms,
// and the next append wakes the dispatcher again.
func (s *Store) lazyTick(lazy *time.Timer) {
	if s.visibleOffset() > s.dispatched.Load() {
		s.dispatchVisible()
		lazy.Reset(lazyDispatchInterval)
		return
	}
	s.lazyArmed.Store(false)
	// An append may have seen the tick armed just before it was disarmed.
	if s.visibleOffset() > s.dispatched.Load() {
		s.lazyArmed.Store(true)
		lazy.Reset(lazyDispatchInterval)
	}
}

// visibleOffset is how far readers may see: the durable end in
// SYNC_FLUSH, the written end in ASYNC_FLUSH, and never past the
// replicated mark while the visibility gate is on (GateVisible).
func (s *Store) visibleOffset() int64 {
	v := s.log.WrittenOffset()
	if s.cfg.FlushDiskType == SyncFlush {
		v = s.log.FlushedOffset()
	}
	if s.gated.Load() {
		v = min(v, s.replicated.Load())
	}
	return v
}

func (s *Store) dispatchVisible() {
	if err := s.dispatchTo(s.visibleOffset()); err != nil {
		s.failLog.error(s.cfg.Logger, s.cfg.Now(), "storage: dispatch failed", "err", err, "at", s.dispatched.Load())
	}
}

// dispatchTo dispatches every entry below end.
func (s *Store) dispatchTo(end int64) error {
	from := s.dispatched.Load()
	if end <= from {
		return nil
	}
	touched := s.touched
	clear(touched)
	pos, err := s.log.Scan(from, end, false, func(phys int64, r *commitlog.Ref) error {
		touched[queueKey{r.Header.Topic, r.Header.QueueID}] = r.Header.QueueOffset + int64(r.Header.Count)
		return s.dispatchEntry(phys, &r.Header, nil)
	})
	s.dispatched.Store(pos)
	s.madeVisible(pos)
	s.notify(touched)
	if err != nil {
		return fmt.Errorf("storage: dispatch at %d: %w", pos, err)
	}
	return nil
}

// dispatchEntry adds an entry's units and keys; entries already present
// (a re-dispatch after recovery) are skipped.
func (s *Store) dispatchEntry(phys int64, h *commitlog.Header, only func(*commitlog.Header) bool) error {
	if h.QueueID < 0 && h.IsDeletion() {
		return s.dropTopic(h.Topic, only)
	}
	if only != nil && !only(h) {
		return nil
	}
	k := queueKey{h.Topic, h.QueueID}
	q, err := s.openQueue(k)
	if err != nil {
		return err
	}
	end := h.QueueOffset + int64(h.Count)
	max := q.MaxOffset()
	switch {
	case end <= max:
		return nil // already there
	case h.QueueOffset < max:
		return fmt.Errorf("storage: %s/%d: entry at %d covers offsets %d..%d but the ConsumeQueue ends at %d: %w",
			h.Topic, h.QueueID, phys, h.QueueOffset, end, max, ErrCorrupt)
	case h.QueueOffset > max && max > q.MinOffset():
		s.cfg.Logger.Warn("storage: gap in ConsumeQueue", "topic", h.Topic, "queue", h.QueueID, "max", max, "next", h.QueueOffset)
	}
	units := s.units[:0]
	for i := range int(h.Count) {
		units = append(units, consumequeue.Unit{CommitLogOffset: phys, Size: h.Length, TagsCode: h.TagsCode(i)})
	}
	s.units = units
	if err := q.Append(h.QueueOffset, units); err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	s.records.Add(int64(h.Count))
	if only != nil {
		return nil // a queue rebuild: the index already holds these keys
	}
	var ierr error
	h.Keys(func(key string) {
		if ierr == nil {
			ierr = s.index.Put(h.Topic+keySep+key, phys, h.StoreTime)
		}
	})
	return ierr
}

// checkpoint flushes the CommitLog and the derived data and records the
// dispatched offset as the next recovery point. Dispatcher only.
func (s *Store) checkpoint() error {
	cp, dirty, err := s.checkpointBegin()
	if err == nil {
		err = s.checkpointSync(dirty)
	}
	if err != nil {
		return err
	}
	s.cpGen++
	return writeCheckpoint(s.cfg.FS, s.cfg.Dir, &cp)
}

// checkpointConcurrent is the periodic checkpoint: it owns the derived
// data only to take the queues' marks and dirty files and to write the
// checkpoint, and syncs in between without it, so that produces waiting
// for their records to become visible (DispatchNow) do not wait for the
// fsyncs: one per dirty queue file, a thousand per second with 1,000
// partitions (issue 19). Checkpoints are only written on the dispatcher
// goroutine or with it stopped, but a checkpoint written by an operation
// in between (retention, a truncation, a topic deletion) may describe a
// store this one's marks no longer do: then this one is dropped.
func (s *Store) checkpointConcurrent() error {
	var cp checkpoint
	var dirty []consumequeue.Dirty
	var err error
	var gen uint64
	s.own(func() {
		s.dispatchVisible()
		cp, dirty, err = s.checkpointBegin()
		gen = s.cpGen
	})
	if err == nil {
		err = s.checkpointSync(dirty)
	}
	if err != nil {
		return err
	}
	s.own(func() {
		if s.cpGen == gen {
			s.cpGen++
			err = writeCheckpoint(s.cfg.FS, s.cfg.Dir, &cp)
		}
	})
	return err
}

// checkpointBegin records the recovery point and the queues' marks, and
// writes out (but does not sync) what the queues hold in memory.
// Dispatcher only.
func (s *Store) checkpointBegin() (checkpoint, []consumequeue.Dirty, error) {
	cp := checkpoint{Recovery: s.dispatched.Load(), Queues: map[queueKey]queueMark{}}
	s.queuesMu.RLock()
	defer s.queuesMu.RUnlock()
	dirty := make([]consumequeue.Dirty, 0, len(s.queues))
	for k, q := range s.queues {
		d, err := q.TakeDirty()
		if err != nil {
			return cp, nil, fmt.Errorf("storage: %w", err)
		}
		dirty = append(dirty, d)
		cp.Queues[k] = queueMark{Min: q.MinOffset(), Max: q.MaxOffset()}
	}
	if err := s.index.Flush(); err != nil {
		return cp, nil, fmt.Errorf("storage: %w", err)
	}
	return cp, dirty, nil
}

// checkpointSync makes the CommitLog (up to the recovery point and past)
// and the queues' files taken by checkpointBegin durable. It needs no
// ownership.
func (s *Store) checkpointSync(dirty []consumequeue.Dirty) error {
	if _, err := s.log.Flush(); err != nil {
		return err
	}
	for _, d := range dirty {
		if err := d.Sync(); err != nil {
			return fmt.Errorf("storage: %w", err)
		}
	}
	return nil
}

// do runs op on the dispatcher goroutine and waits for it.
func (s *Store) do(op func() error) error {
	if s.closed.Load() {
		return ErrClosed
	}
	errc := make(chan error, 1)
	select {
	case s.ops <- func() { errc <- op() }:
	case <-s.done:
		return ErrClosed
	}
	return <-errc
}

// prepareBatch is how many queues PrepareQueues creates per turn of the
// dispatcher, so that dispatch of other topics goes on between turns.
const prepareBatch = 32

// PrepareQueues creates the ConsumeQueues 0..n-1 of topic that do not
// exist yet, with their first file, durably, ahead of their first
// message, as Kafka creates a partition's log when the partition is
// created: a queue created by the dispatch of its first message cost the
// produce that waited for it a directory, a file and their fsyncs (with
// 1,000 partitions a quarter of the broker's CPU at the start of a run,
// issue 19). Queues that exist are left as they are.
func (s *Store) PrepareQueues(ctx context.Context, topic string, n int32) error {
	for lo := int32(0); lo < n; lo += prepareBatch {
		if err := ctx.Err(); err != nil {
			return err
		}
		hi := min(n, lo+prepareBatch)
		err := s.do(func() error {
			for id := lo; id < hi; id++ {
				q, err := s.openQueue(queueKey{topic, id})
				if err == nil {
					err = q.Prepare()
				}
				if err == nil {
					err = q.Flush()
				}
				if err != nil {
					return fmt.Errorf("storage: prepare %s/%d: %w", topic, id, err)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// DeleteTopic removes a topic's queues. Its entries stay in the CommitLog
// until retention, so the deletion is a record in the CommitLog too
// (commitlog's Log.DeleteTopic), appended and made durable before the
// queues go: whatever rebuilds queues from the CommitLog later (recovery
// after a lost checkpoint, a damaged queue) drops the topic's queues at
// the record, so neither the deleted topic nor its records in place of a
// topic created again under the name come back. The topic's next
// offsets start at 0 again. A replica refuses it (ErrReplica): the
// primary's record reaches it through AppendReplica.
func (s *Store) DeleteTopic(topic string) error {
	return s.do(func() error {
		if s.log.IsReplica() {
			return fmt.Errorf("storage: delete topic %s: %w", topic, ErrReplica)
		}
		pos, err := s.log.DeleteTopic(topic)
		if err != nil {
			return fmt.Errorf("storage: delete topic %s: %w", topic, err)
		}
		s.written()
		if _, err := s.log.Flush(); err != nil {
			return fmt.Errorf("storage: delete topic %s: %w", topic, err)
		}
		if err := s.dispatchTo(s.visibleOffset()); err != nil {
			return fmt.Errorf("storage: delete topic %s: %w", topic, err)
		}
		// While the visibility gate is on, the record (and the queues'
		// removal) waits for a replica like any entry.
		if end := pos.Phys + int64(pos.Size); s.dispatched.Load() < end && !s.gated.Load() {
			return fmt.Errorf("storage: delete topic %s: dispatched to %d, before the deletion record's end %d", topic, s.dispatched.Load(), end)
		}
		return s.checkpoint()
	})
}

// dropTopic removes a topic's queues at its deletion record. When only is
// set (recovery rebuilding some queues below the checkpoint) it removes
// only the queues being rebuilt: the others were loaded as the checkpoint
// left them, after this record. Owner of derived data only.
func (s *Store) dropTopic(topic string, only func(*commitlog.Header) bool) error {
	s.queuesMu.Lock()
	var qs []*consumequeue.Queue
	for k, q := range s.queues {
		if k.topic == topic && (only == nil || only(&commitlog.Header{Topic: k.topic, QueueID: k.queue})) {
			qs = append(qs, q)
			delete(s.queues, k)
		}
	}
	s.queuesMu.Unlock()
	for _, q := range qs {
		if err := q.Destroy(); err != nil {
			return fmt.Errorf("storage: delete topic %s: %w", topic, err)
		}
	}
	if only != nil {
		return nil
	}
	if err := s.cfg.FS.RemoveAll(path.Join(s.cfg.Dir, cqDir, topicDir(topic))); err != nil {
		return fmt.Errorf("storage: delete topic %s: %w", topic, err)
	}
	if err := s.cfg.FS.SyncDir(path.Join(s.cfg.Dir, cqDir)); err != nil {
		return fmt.Errorf("storage: delete topic %s: %w", topic, err)
	}
	return nil
}

// SetMinOffset moves a queue's logical start forward (Kafka DeleteRecords,
// per-topic retention). Offsets below it read as out of range. A replica
// refuses it (ErrReplica).
func (s *Store) SetMinOffset(topic string, queue int32, offset int64) error {
	return s.do(func() error {
		if s.log.IsReplica() {
			return fmt.Errorf("storage: %s/%d: set min offset: %w", topic, queue, ErrReplica)
		}
		q := s.queue(topic, queue)
		if q == nil {
			return fmt.Errorf("storage: %s/%d: %w", topic, queue, ErrQueueNotFound)
		}
		if offset > q.MaxOffset() {
			return fmt.Errorf("storage: %s/%d: min offset %d past the end %d: %w", topic, queue, offset, q.MaxOffset(), ErrOffsetOutOfRange)
		}
		if offset <= q.MinOffset() {
			return nil
		}
		if err := q.SetMinOffset(offset); err != nil {
			return fmt.Errorf("storage: %w", err)
		}
		return s.checkpoint()
	})
}
