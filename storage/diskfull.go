package storage

import (
	"errors"
	"fmt"

	"github.com/twinmq/twinmq/storage/vfs"
)

// A full disk refuses appends; it never fails the store. Two things
// refuse them (ErrNoSpace, which the adapters answer with Kafka
// KAFKA_STORAGE_ERROR and RocketMQ SERVICE_NOT_AVAILABLE, both retriable):
//
//   - the guard: at every checkpoint the dispatcher reads the data
//     directory's free space, and while it is below DiskReserveBytes
//     appends are refused before they reach the CommitLog. The reserve
//     keeps room for what must still be written for entries already
//     appended (ConsumeQueue units, index entries, the checkpoint), so a
//     full disk never makes derived data fail;
//   - the CommitLog itself: a write that fails with ENOSPC or EDQUOT is
//     undone (its queue offsets given back, torn bytes zeroed or cut off;
//     commitlog.ErrNoSpace) and the guard refuses appends until the next
//     checkpoint finds room.
//
// Appends resume by themselves at the first checkpoint that finds the
// free space at or above the reserve (or, on a file system that does not
// report its space, at the next checkpoint, when the next append tries
// again). Nothing acknowledged is lost: a refused append wrote nothing.
// A failed fsync is another matter: it fails the log for good (ErrFailed).

// noSpaceErr is the error of an append the guard refuses.
func (s *Store) noSpaceErr() error {
	return fmt.Errorf("storage: append: free space below the %d-byte reserve: %w", s.cfg.DiskReserveBytes, ErrNoSpace)
}

// noSpaceHit records an append the CommitLog refused for want of space:
// the guard refuses the next ones until a checkpoint finds room.
func (s *Store) noSpaceHit(err error) {
	if !s.noSpace.Swap(true) {
		s.cfg.Logger.Error("storage: disk full; refusing appends until space returns", "err", err)
	}
}

// checkSpace reads the free space and turns the guard on or off.
// Dispatcher only (every checkpoint) and Open.
func (s *Store) checkSpace() {
	sr, ok := s.cfg.FS.(vfs.SpaceReporter)
	if !ok || s.cfg.DiskReserveBytes < 0 {
		// Nothing to measure: let the next append try (and be undone
		// again if the disk is still full).
		if s.noSpace.Swap(false) {
			s.cfg.Logger.Info("storage: retrying appends after a full disk")
		}
		return
	}
	free, err := sr.FreeSpace(s.cfg.Dir)
	if err != nil {
		s.failLog.error(s.cfg.Logger, s.cfg.Now(), "storage: cannot read free space", "err", err)
		return
	}
	full := free < s.cfg.DiskReserveBytes
	switch was := s.noSpace.Swap(full); {
	case full && !was:
		s.cfg.Logger.Error("storage: disk almost full; refusing appends until space returns",
			"dir", s.cfg.Dir, "free", free, "reserve", s.cfg.DiskReserveBytes)
	case !full && was:
		s.cfg.Logger.Info("storage: free space again; appends resume",
			"dir", s.cfg.Dir, "free", free, "reserve", s.cfg.DiskReserveBytes)
	}
}

// isNoSpace reports whether err is a refusal for want of space.
func isNoSpace(err error) bool { return errors.Is(err, ErrNoSpace) }
