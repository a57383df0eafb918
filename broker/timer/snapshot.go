package timer

import (
	"context"
	"fmt"

	"github.com/twinmq/twinmq/broker/kvlog"
	"github.com/twinmq/twinmq/storage"
)

// snapshot appends the wheel's durable state as one record and moves the
// timer log's start to it, so the records before it are no longer
// replayed. The chain records it points at stay in the CommitLog (they
// are read by position, not through the queue). A crash between the
// append and the move replays the older snapshot, the records, then this
// one, which resets to the same state: harmless.
func (s *Service) snapshot(ctx context.Context) error {
	rec := appendSnapshot(nil, s.w.snapshot())
	pos, err := s.cfg.Store.Append(ctx, []storage.Entry{logEntry(rec)})
	if err != nil {
		return fmt.Errorf("timer: snapshot: %w", err)
	}
	off := pos[0].QueueOffset
	if err := kvlog.WaitVisible(ctx, s.cfg.Store, LogTopic, 0, off); err != nil {
		return fmt.Errorf("timer: snapshot: %w", err)
	}
	if err := s.cfg.Store.SetMinOffset(LogTopic, 0, off); err != nil {
		return fmt.Errorf("timer: snapshot: %w", err)
	}
	s.records = 1
	return nil
}
