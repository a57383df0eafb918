package storage

import (
	"fmt"
	"time"
)

// enforceRetention deletes whole CommitLog segments older than
// RetentionHours or beyond RetentionBytes, oldest first, never the active
// one, and moves every queue's min offset past them. Dispatcher only.
func (s *Store) enforceRetention() error {
	segs := s.log.Segments()
	if len(segs) < 2 {
		return nil
	}
	now := s.cfg.Now()
	total := int64(len(segs)) * s.cfg.SegmentSize
	deleted := 0
	for _, seg := range segs[:len(segs)-1] {
		old := s.cfg.RetentionHours > 0 && now.Sub(seg.ModTime) > time.Duration(s.cfg.RetentionHours)*time.Hour
		big := s.cfg.RetentionBytes >= 0 && total > s.cfg.RetentionBytes
		if !old && !big {
			break
		}
		if seg.Start+s.cfg.SegmentSize > s.dispatched.Load() {
			break // not yet dispatched: keep
		}
		if _, err := s.log.DeleteOldest(); err != nil {
			return err
		}
		total -= s.cfg.SegmentSize
		deleted++
	}
	if deleted == 0 {
		return nil
	}
	min := s.log.MinOffset()
	s.queuesMu.RLock()
	for _, q := range s.queues {
		if err := q.DeleteBeforeCommitLogOffset(min); err != nil {
			s.queuesMu.RUnlock()
			return fmt.Errorf("storage: retention: %w", err)
		}
	}
	s.queuesMu.RUnlock()
	if err := s.index.DeleteBefore(min); err != nil {
		return fmt.Errorf("storage: retention: %w", err)
	}
	s.cfg.Logger.Info("storage: retention deleted segments", "count", deleted, "newMinOffset", min)
	return s.checkpoint()
}

// EnforceRetention runs retention now (tests, admin).
func (s *Store) EnforceRetention() error { return s.do(s.enforceRetention) }
