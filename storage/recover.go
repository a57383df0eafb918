package storage

import (
	"context"
	"errors"
	"fmt"
	"path"
	"time"

	"github.com/twinmq/twinmq/storage/commitlog"
	"github.com/twinmq/twinmq/storage/consumequeue"
)

// recover brings the derived data in line with the CommitLog:
//
//  1. read the checkpoint (recovery offset R and each queue's end at R);
//  2. open every ConsumeQueue, cut it back to units below R, and mark for
//     rebuild any queue that is unreadable or shorter than the checkpoint
//     says (a deleted file), or missing altogether; move the others'
//     starts to the checkpoint's min offsets and past the CommitLog's
//     first offset (a retention pass the crash interrupted);
//  3. rebuild marked queues by scanning the CommitLog up to R, and give
//     each the min and max offsets the checkpoint recorded;
//  4. scan from R to the end, validating each entry, dispatching it, and
//     truncating the torn tail at the first bad one;
//  5. give the log the newest entry's store time and each queue's next
//     offset, and write a fresh checkpoint.
func (s *Store) recover(ctx context.Context, clean bool) error {
	start := time.Now()
	rep := &s.recovery
	rep.CleanShutdown = clean
	cp, _, err := readCheckpoint(s.cfg.FS, s.cfg.Dir)
	if err != nil {
		// A torn checkpoint cannot happen (atomic rename); a damaged one
		// costs a full rebuild, not the data.
		rep.CheckpointError = err.Error()
		s.cfg.Logger.Warn("storage: checkpoint unreadable, rebuilding derived data from the whole CommitLog", "err", err)
		cp.Recovery = 0
	}
	if cp.Recovery < s.log.MinOffset() {
		cp.Recovery = s.log.MinOffset()
	}
	rebuild, err := s.loadQueues(&cp)
	if err != nil {
		return err
	}
	if err := s.index.Truncate(cp.Recovery); err != nil {
		return fmt.Errorf("storage: truncate index to %d: %w", cp.Recovery, err)
	}
	if err := s.index.DeleteBefore(s.log.MinOffset()); err != nil { // an interrupted retention pass
		return fmt.Errorf("storage: %w", err)
	}
	if len(rebuild) > 0 {
		if err := s.rebuildQueues(rebuild, &cp); err != nil {
			return err
		}
		rep.RebuiltQueues = len(rebuild)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	rec, err := s.log.Recover(cp.Recovery, func(phys int64, h *commitlog.Header) error {
		return s.dispatchEntry(phys, h, nil)
	})
	if err != nil {
		return fmt.Errorf("storage: recover: %w", err)
	}
	s.dispatched.Store(rec.End)
	rep.FromOffset, rep.EndOffset = cp.Recovery, rec.End
	rep.EntriesScanned, rep.DroppedBytes, rep.Reason = rec.Entries, rec.Dropped, rec.Reason
	s.queuesMu.RLock()
	newest := consumequeue.Unit{CommitLogOffset: -1}
	for k, q := range s.queues {
		s.log.SetQueueOffset(k.topic, k.queue, q.MaxOffset())
		if q.MaxOffset() > q.MinOffset() {
			if u, err := q.Get(q.MaxOffset() - 1); err == nil && u.CommitLogOffset > newest.CommitLogOffset {
				newest = u
			}
		}
	}
	s.queuesMu.RUnlock()
	s.restoreStoreTime(newest)
	if err := s.checkpoint(); err != nil {
		return err
	}
	rep.Duration = time.Since(start)
	lvl := s.cfg.Logger.Info
	if rec.Dropped > 0 || !clean {
		lvl = s.cfg.Logger.Warn
	}
	lvl("storage: recovered", "dir", s.cfg.Dir, "clean", clean, "from", cp.Recovery, "end", rec.End,
		"entries", rec.Entries, "droppedBytes", rec.Dropped, "reason", rec.Reason,
		"rebuiltQueues", rep.RebuiltQueues, "took", rep.Duration)
	return nil
}

// restoreStoreTime gives the log the store time of the newest entry, the
// one newest (the last unit with the greatest CommitLog offset of any
// queue) points at, so that store times do not go back across a restart
// whatever the wall clock says.
func (s *Store) restoreStoreTime(newest consumequeue.Unit) {
	if newest.CommitLogOffset < 0 {
		return // no entries
	}
	ref, err := s.log.Read(newest.CommitLogOffset, newest.Size, true)
	if err != nil {
		s.cfg.Logger.Warn("storage: newest entry unreadable; store times may go back if the clock did", "err", err)
		return
	}
	s.log.SetStoreTime(ref.Header.StoreTime)
	ref.Release()
}

// loadQueues opens the ConsumeQueues on disk and returns those to rebuild.
func (s *Store) loadQueues(cp *checkpoint) (map[queueKey]bool, error) {
	rebuild := map[queueKey]bool{}
	root := path.Join(s.cfg.Dir, cqDir)
	topics, err := s.cfg.FS.List(root)
	if err != nil {
		topics = nil // no queues yet
	}
	for _, td := range topics {
		topic, ok := topicFromDir(td)
		if !ok {
			return nil, fmt.Errorf("storage: %s/%s: not a topic directory: %w", root, td, ErrCorrupt)
		}
		qs, err := s.cfg.FS.List(path.Join(root, td))
		if err != nil {
			return nil, fmt.Errorf("storage: list %s/%s: %w", root, td, err)
		}
		for _, qd := range qs {
			var id int32
			if _, err := fmt.Sscanf(qd, "%d", &id); err != nil || fmt.Sprint(id) != qd {
				return nil, fmt.Errorf("storage: %s/%s/%s: not a queue directory: %w", root, td, qd, ErrCorrupt)
			}
			k := queueKey{topic, id}
			if err := s.loadQueue(k, cp, rebuild); err != nil {
				return nil, err
			}
		}
	}
	for k, m := range cp.Queues {
		if s.queues[k] == nil && m.Max > 0 {
			s.cfg.Logger.Warn("storage: ConsumeQueue missing, rebuilding it", "topic", k.topic, "queue", k.queue)
			rebuild[k] = true
		}
	}
	return rebuild, nil
}

func (s *Store) loadQueue(k queueKey, cp *checkpoint, rebuild map[queueKey]bool) error {
	q, err := consumequeue.Open(s.cfg.FS, s.queueDir(k), s.cfg.ConsumeQueueUnits)
	if errors.Is(err, consumequeue.ErrCorrupt) {
		s.cfg.Logger.Warn("storage: ConsumeQueue damaged, rebuilding it", "topic", k.topic, "queue", k.queue, "err", err)
		rebuild[k] = true
		return nil
	}
	if err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	s.queues[k] = q
	if err := q.TruncateAfterCommitLogOffset(cp.Recovery); err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	m, known := cp.Queues[k]
	if known && q.MaxOffset() < m.Max {
		s.cfg.Logger.Warn("storage: ConsumeQueue shorter than the checkpoint, rebuilding it",
			"topic", k.topic, "queue", k.queue, "have", q.MaxOffset(), "want", m.Max)
		rebuild[k] = true
		return nil
	}
	if known && m.Min > q.MinOffset() {
		if err := q.SetMinOffset(m.Min); err != nil {
			return fmt.Errorf("storage: %w", err)
		}
	}
	// Retention deletes CommitLog segments before it moves the queues'
	// starts past them and writes its checkpoint: a crash in between
	// leaves units pointing at deleted entries, which the checkpoint's
	// min offsets do not cover. Move the start past them here, as that
	// retention pass would have.
	if err := q.DeleteBeforeCommitLogOffset(s.log.MinOffset()); err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	return nil
}

// rebuildQueues recreates the marked queues from the CommitLog up to the
// recovery offset, then gives each the range the checkpoint recorded.
func (s *Store) rebuildQueues(rebuild map[queueKey]bool, cp *checkpoint) error {
	for k := range rebuild {
		if q := s.queues[k]; q != nil {
			q.Close()
			delete(s.queues, k)
		}
		if err := s.cfg.FS.RemoveAll(s.queueDir(k)); err != nil {
			return fmt.Errorf("storage: remove %s: %w", s.queueDir(k), err)
		}
	}
	only := func(h *commitlog.Header) bool { return rebuild[queueKey{h.Topic, h.QueueID}] }
	_, err := s.log.Scan(s.log.MinOffset(), cp.Recovery, true, func(phys int64, r *commitlog.Ref) error {
		return s.dispatchEntry(phys, &r.Header, only)
	})
	if err != nil {
		return fmt.Errorf("storage: rebuild ConsumeQueues: %w", err)
	}
	for k := range rebuild {
		if m, known := cp.Queues[k]; known {
			if err := s.restoreRange(k, m); err != nil {
				return err
			}
		}
	}
	return nil
}

// restoreRange gives a rebuilt queue the range the checkpoint recorded,
// which the CommitLog alone does not give: the start DeleteRecords
// (SetMinOffset) moved, over entries the CommitLog may still hold, and
// the end of a queue none of whose entries the CommitLog holds any more
// (retention deleted them), whose next offsets must not be handed out
// again.
func (s *Store) restoreRange(k queueKey, m queueMark) error {
	q, err := s.openQueue(k)
	if err != nil {
		return err
	}
	if q.MaxOffset() < m.Max {
		if q.MinOffset() < q.MaxOffset() {
			// Entries below the recovery offset are durable: only damage
			// to the CommitLog itself gets here. It is the truth.
			s.cfg.Logger.Warn("storage: rebuilt ConsumeQueue ends before the checkpoint's end",
				"topic", k.topic, "queue", k.queue, "have", q.MaxOffset(), "want", m.Max)
		} else if err := q.Reset(m.Max); err != nil {
			return fmt.Errorf("storage: %w", err)
		}
	}
	if lo := min(m.Min, q.MaxOffset()); lo > q.MinOffset() {
		if err := q.SetMinOffset(lo); err != nil {
			return fmt.Errorf("storage: %w", err)
		}
	}
	return nil
}
