package topics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/twinmq/twinmq/storage"
)

// DefaultRetentionCheck is how often Retention looks at every queue
// (Kafka's log.retention.check.interval.ms is 5 minutes; a pass here
// reads only the entries appended since the last one, see Sizes).
const DefaultRetentionCheck = 30 * time.Second

// RetentionConfig configures a Retention. Zero values have defaults.
type RetentionConfig struct {
	Interval time.Duration // DefaultRetentionCheck
	Logger   *slog.Logger
	Now      func() time.Time
}

// Retention enforces each topic's retention.ms and retention.bytes by
// moving its queues' start offsets forward (storage.Store.SetMinOffset):
// offsets below the start read as out of range, as in a Kafka log whose
// old segments were deleted. The bytes themselves go when the store's own
// retention deletes the CommitLog segments (docs/design.md section 3): the
// CommitLog is shared by every topic, so per-topic retention cannot
// delete files.
//
//   - retention.ms: the start moves to the first entry stored at or after
//     now - retention.ms. Age is measured from the store time (the time of
//     append), not the record's CreateTime, so a producer's clock cannot
//     expire records early. Kafka deletes whole segments, so it keeps
//     expired records a little longer; here the cut is per entry.
//   - retention.bytes: the oldest entries go while what remains is still at
//     least retention.bytes (Kafka keeps its log at or above the limit in
//     the same way, by whole segments), counted as Sizes counts.
//
// -1 disables either. Internal topics (Config.Internal, "__twinmq_") are
// never touched.
type Retention struct {
	store *storage.Store
	reg   *Registry
	sizes *Sizes
	cfg   RetentionConfig
}

// NewRetention returns a Retention over the registry's topics; sizes is
// shared with whoever reports queue sizes (Kafka DescribeLogDirs).
func NewRetention(store *storage.Store, reg *Registry, sizes *Sizes, cfg RetentionConfig) *Retention {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultRetentionCheck
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Retention{store: store, reg: reg, sizes: sizes, cfg: cfg}
}

// Run enforces retention every Interval until ctx ends.
func (r *Retention) Run(ctx context.Context) {
	t := time.NewTicker(r.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := r.Enforce(ctx); err != nil && ctx.Err() == nil {
			r.cfg.Logger.Warn("topics: retention", "err", err)
		}
	}
}

// Enforce makes one pass over every topic's queues.
func (r *Retention) Enforce(ctx context.Context) error {
	var errs []error
	for _, c := range r.reg.List() {
		if c.Internal || strings.HasPrefix(c.Name, InternalPrefix) || (c.RetentionMs < 0 && c.RetentionBytes < 0) {
			continue
		}
		for q := range c.Queues {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err := r.enforceQueue(c, q); err != nil && !errors.Is(err, storage.ErrQueueNotFound) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// enforceQueue moves one queue's start; retention.ms first, then bytes.
// It holds the sizes lock so that the count and the walks agree.
func (r *Retention) enforceQueue(c Config, q int32) error {
	r.sizes.mu.Lock()
	defer r.sizes.mu.Unlock()
	min, err := r.store.MinOffset(c.Name, q)
	if err != nil {
		return err
	}
	maxOff, err := r.store.MaxOffset(c.Name, q)
	if err != nil {
		return err
	}
	if c.RetentionMs >= 0 {
		cut := r.cfg.Now().UnixMilli() - c.RetentionMs
		off, err := r.store.OffsetForTime(c.Name, q, cut)
		if err != nil {
			return fmt.Errorf("topics: retention.ms of %s/%d: %w", c.Name, q, err)
		}
		if off > min {
			if err := r.drop(c, q, min, maxOff, "retention.ms", func(e storage.ReadEntry, _ int64) bool {
				return e.QueueOffset+int64(e.Count) <= off
			}); err != nil {
				return err
			}
			min = off
		}
	}
	if c.RetentionBytes < 0 {
		return nil
	}
	total, err := r.sizes.bytesLocked(c.Name, q)
	if err != nil {
		return err
	}
	excess := total - c.RetentionBytes
	if excess <= 0 {
		return nil
	}
	return r.drop(c, q, min, maxOff, "retention.bytes", func(e storage.ReadEntry, dropped int64) bool {
		return dropped+int64(len(e.Payload)) <= excess
	})
}

// drop moves a queue's start past the leading entries that expired says
// yes to (given the bytes dropped so far) and tells the sizes.
func (r *Retention) drop(c Config, q int32, min, maxOff int64, why string,
	expired func(e storage.ReadEntry, dropped int64) bool) error {
	newStart, dropped := min, int64(0)
	err := scanEntries(r.store, c.Name, q, min, maxOff, true, func(e storage.ReadEntry) bool {
		if !expired(e, dropped) {
			return false
		}
		dropped += int64(len(e.Payload))
		newStart = max(newStart, e.QueueOffset+int64(e.Count))
		return true
	})
	if err != nil {
		return fmt.Errorf("topics: %s of %s/%d: %w", why, c.Name, q, err)
	}
	if newStart <= min {
		return nil
	}
	if err := r.moveStart(c, q, min, newStart, why); err != nil {
		return err
	}
	r.sizes.droppedLocked(c.Name, q, min, newStart, dropped)
	return nil
}

func (r *Retention) moveStart(c Config, q int32, from, to int64, why string) error {
	if err := r.store.SetMinOffset(c.Name, q, to); err != nil {
		return fmt.Errorf("topics: %s of %s/%d: %w", why, c.Name, q, err)
	}
	r.cfg.Logger.Debug("topics: retention moved the start", "topic", c.Name, "queue", q, "from", from, "to", to, "by", why)
	return nil
}
