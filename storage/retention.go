package storage

import (
	"fmt"
	"time"
)

// RetentionMs is the configured RetentionHours in milliseconds, -1 when
// segments are kept whatever their age: the broker's log.retention.ms
// (Kafka) and fileReservedTime (RocketMQ), and the retention.ms of every
// topic that sets none.
func (s *Store) RetentionMs() int64 {
	if s.cfg.RetentionHours < 0 {
		return -1
	}
	return int64(s.cfg.RetentionHours) * int64(time.Hour/time.Millisecond)
}

// RetentionHours is the configured RetentionHours (-1: keep).
func (s *Store) RetentionHours() int { return s.cfg.RetentionHours }

// SetRetentionMs sets the age in milliseconds past which whole segments
// are deleted (negative: never by age), in place of RetentionHours. The
// CommitLog is shared by every topic, so the topic registry sets it to the
// longest retention.ms of any topic: a segment goes only once every topic
// is done with it, and shorter retentions move queue starts instead.
// RetentionBytes still caps the total.
func (s *Store) SetRetentionMs(ms int64) { s.keepMs.Store(ms) }

// RetentionBytes is the CommitLog's size cap now (Config.RetentionBytes
// until SetRetentionBytes; -1: none).
func (s *Store) RetentionBytes() int64 { return s.capBytes.Load() }

// SetRetentionBytes changes the CommitLog's size cap while the store runs
// (a dynamic broker setting): from the next retention pass on, the oldest
// segments go while the CommitLog is larger; -1 removes the cap.
func (s *Store) SetRetentionBytes(n int64) error {
	if n < -1 {
		return fmt.Errorf("storage: retention bytes %d: use a size, or -1 for no cap", n)
	}
	s.capBytes.Store(n)
	return nil
}

// SegmentRetentionMs is the age past which segments are deleted now
// (SetRetentionMs, else RetentionMs; negative: never by age).
func (s *Store) SegmentRetentionMs() int64 { return s.keepMs.Load() }

// enforceRetention deletes whole CommitLog segments older than the
// retention age (RetentionHours, or SetRetentionMs) or beyond
// RetentionBytes, oldest first, never the active one, and moves every
// queue's min offset past them. Dispatcher only.
func (s *Store) enforceRetention() error {
	segs := s.log.Segments()
	if len(segs) < 2 {
		return nil
	}
	now := s.cfg.Now()
	total := int64(len(segs)) * s.cfg.SegmentSize
	deleted := 0
	keep := time.Duration(s.keepMs.Load()) * time.Millisecond
	capBytes := s.RetentionBytes()
	for _, seg := range segs[:len(segs)-1] {
		old := keep >= 0 && now.Sub(seg.ModTime) > keep
		big := capBytes >= 0 && total > capBytes
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
