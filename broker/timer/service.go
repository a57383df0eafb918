// Package timer is twinmq's timer-message service (RocketMQ 5's
// TimerMessageStore, docs/rocketmq-protocol.md §6.2): messages with TIMER_DELIVER_MS,
// TIMER_DELAY_SEC or TIMER_DELAY_MS are stored by the adapters in
// delay.TimerTopic with their due time as tags code (delay.Policy.Place);
// this service fires each at its time through the adapter's delay.Build.
//
// Pending timers cost disk, not memory: ingested timers are written to a
// timer log (LogTopic, layouts in record.go) as chains of records per
// one-second slot, and memory holds one chain head per pending slot. Each
// slot is loaded into a heap shortly before it starts, and the heap fires
// every timer at its own time. A delivery appends the messages and a fired
// record in one Append, so a restart redelivers nothing that was durably
// delivered (beyond a torn tail: at-least-once) and loses nothing.
package timer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twinmq/twinmq/broker/delay"
	"github.com/twinmq/twinmq/storage"
)

// Errors of the package.
var ErrCorrupt = errors.New("timer: corrupt timer log record")

// Config configures a Service.
type Config struct {
	Store  *storage.Store
	Build  delay.Build
	Logger *slog.Logger
	Now    func() time.Time
	// SlotMs is the chain granularity (default 1000, as RocketMQ's
	// timerPrecisionMs); LookaheadMs is how early a slot is loaded
	// (default 2000).
	SlotMs, LookaheadMs int64
	// IngestBatch and FireBatch bound the timers of one append (defaults
	// 1024 and 256).
	IngestBatch, FireBatch int
	// SnapshotEvery is the number of timer-log records after which a
	// snapshot record replaces them (default 4096): it bounds the replay
	// at start (snapshot.go).
	SnapshotEvery int
}

func (c *Config) validate() error {
	if c.Store == nil || c.Build == nil {
		return errors.New("timer: config needs Store and Build")
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	setDefault(&c.SlotMs, 1000)
	setDefault(&c.LookaheadMs, 2000)
	setDefault(&c.IngestBatch, 1024)
	setDefault(&c.FireBatch, 256)
	setDefault(&c.SnapshotEvery, 4096)
	return nil
}

func setDefault[T int | int64](v *T, d T) {
	if *v <= 0 {
		*v = d
	}
}

// Service fires timer messages. Ownership: the run goroutine owns w and
// records; mu guards watching and stats.
type Service struct {
	cfg Config
	w   *wheel
	// records counts timer-log records since the last snapshot.
	records int

	mu          sync.Mutex
	watching    bool        // a Notify on TimerTopic is parked
	cancelWatch func() bool // its cancel, once Notify returned
	stats       Stats

	kick   chan struct{}
	ctx    context.Context // cancelled by Close; for appends only
	cancel context.CancelFunc
	done   chan struct{}
}

// Stats are counters for tests and metrics.
type Stats struct {
	Ingested, Fired, Dropped int64
	PendingSlots, InHeap     int
	// Replayed is the number of timer-log records read at start.
	Replayed int
}

// Start replays the timer log and starts firing; timers that fell due while
// the broker was down fire at once.
func Start(ctx context.Context, cfg Config) (*Service, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, w: newWheel(cfg.SlotMs, cfg.LookaheadMs), kick: make(chan struct{}, 1), done: make(chan struct{})}
	if err := s.replay(); err != nil {
		return nil, err
	}
	s.w.start(cfg.Now().UnixMilli())
	s.stats.Replayed = s.records
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if s.records > 1 {
		if err := s.snapshot(ctx); err != nil {
			s.cancel()
			return nil, err
		}
	}
	go s.run()
	return s, nil
}

func (s *Service) replay() error {
	_, err := s.cfg.Store.Replay(LogTopic, 0, 0, func(e storage.ReadEntry) error {
		s.records++
		if len(e.Payload) >= 2 && e.Payload[1] == recSnapshot {
			r, err := decodeSnapshot(e.Payload)
			if err != nil {
				return fmt.Errorf("timer: snapshot at %d: %w", e.QueueOffset, err)
			}
			s.w.replaySnapshot(r)
			return nil
		}
		if len(e.Payload) >= 2 && e.Payload[1] == recChain {
			c, err := decodeChain(e.Payload)
			if err == nil {
				s.w.replayChain(c, e.Phys)
				return nil
			}
			s.cfg.Logger.Warn("timer: skipping record", "offset", e.QueueOffset, "err", err)
			return nil
		}
		fs, err := decodeFired(e.Payload)
		if err != nil {
			s.cfg.Logger.Warn("timer: skipping record", "offset", e.QueueOffset, "err", err)
			return nil
		}
		s.w.replayFired(fs)
		return nil
	})
	if err != nil {
		return fmt.Errorf("timer: replay %s: %w", LogTopic, err)
	}
	return nil
}

// Close stops the service and waits for it; pending timers stay on disk.
func (s *Service) Close() error {
	s.cancel()
	<-s.done
	return nil
}

// Stats returns the counters.
func (s *Service) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

func (s *Service) nowMs() int64 { return s.cfg.Now().UnixMilli() }

func (s *Service) run() {
	defer close(s.done)
	defer s.unwatch()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		more, failed := s.step()
		wait := time.Hour
		if at, ok := s.w.nextWake(); ok {
			wait = max(time.Duration(at-s.nowMs())*time.Millisecond, 0)
		}
		if more {
			wait = 0
		}
		if failed {
			wait = time.Second // retry a failed delivery, without spinning
		}
		timer.Reset(wait)
		select {
		case <-s.ctx.Done():
			return
		case <-s.kick:
		case <-timer.C:
		}
	}
}

// step ingests, loads and fires; more says it stopped with work left,
// failed that a delivery failed.
func (s *Service) step() (more, failed bool) {
	for i := 0; i < 8; i++ {
		n, err := s.ingest()
		if err != nil {
			failed = true
			if s.ctx.Err() == nil {
				s.cfg.Logger.Error("timer: ingest failed", "err", err)
			}
			break
		}
		if n == 0 {
			s.watch()
			break
		}
		more = i == 7
	}
	for {
		slot, ok := s.w.nextLoad(s.nowMs())
		if !ok {
			break
		}
		if err := s.load(slot); err != nil {
			s.cfg.Logger.Error("timer: loading slot failed; its timers are late", "slot", slot, "err", err)
			s.w.loaded(slot, nil) // keep the other slots moving; the chain stays on disk
		}
	}
	for {
		items := s.w.due(s.nowMs(), s.cfg.FireBatch)
		if len(items) == 0 {
			break
		}
		if err := s.fire(items); err != nil {
			s.w.unpop(items)
			failed = true
			if s.ctx.Err() == nil {
				s.cfg.Logger.Error("timer: delivery failed", "err", err)
			}
			break
		}
	}
	if s.records >= s.cfg.SnapshotEvery {
		if err := s.snapshot(s.ctx); err != nil && s.ctx.Err() == nil {
			s.cfg.Logger.Error("timer: snapshot failed; the next start replays more", "err", err)
		}
	}
	s.mu.Lock()
	s.stats.PendingSlots, s.stats.InHeap = s.w.pendingSlots(), len(s.w.heap)
	s.mu.Unlock()
	return more, failed
}
