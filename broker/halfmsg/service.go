package halfmsg

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twinmq/twinmq/broker/log"
	"github.com/twinmq/twinmq/storage"
)

// Defaults of Config: RocketMQ 5's BrokerConfig (transactionTimeOut,
// transactionCheckInterval, which RocketMQ 4 had at 60 s, and
// transactionCheckMax).
const (
	DefaultTimeout    = 6 * time.Second
	DefaultInterval   = 30 * time.Second
	DefaultMaxChecks  = 15
	DefaultMaxPending = 1 << 20 // about 100 MiB of pending state
)

// CheckFunc asks a live producer of the half message e's group for the state
// of its transaction (RocketMQ CHECK_TRANSACTION_STATE); checks counts
// this check. e's payload is valid during the call only. An error (no
// producer online) is logged; the check counts all the same, as in
// RocketMQ, so a transaction nobody answers for is discarded in the end.
type CheckFunc func(ctx context.Context, e storage.ReadEntry, checks int) error

// Build turns the half message e into the entries a resolution appends
// before its op record: the committed message, nothing for a rollback,
// the copy kept in CheckMaxTopic for a discard. An error refuses the
// resolution and changes nothing.
type Build func(e storage.ReadEntry) ([]storage.Entry, error)

// Config configures a Service.
type Config struct {
	Store *storage.Store
	// Append writes a resolution (the committed message and its op
	// record): on a SYNC_MASTER through the log service, which waits for
	// the in-sync slaves as a send does (broker/log.Log.AppendEntries).
	// An error with positions means written but not confirmed. Default:
	// Store.Append.
	Append     func(ctx context.Context, entries []storage.Entry) ([]storage.Position, error)
	Timeout    time.Duration // transactionTimeOut
	Interval   time.Duration // transactionCheckInterval
	MaxChecks  int           // transactionCheckMax
	MaxPending int           // bound of the pending half messages
	Check      CheckFunc
	// Discarded builds the copy of a half message given up on.
	Discarded Build
	Logger    *slog.Logger
	Now       func() time.Time
	// SnapshotEvery is the number of op records after which a snapshot
	// record replaces them (default 4096): it bounds the replay at start.
	SnapshotEvery int
}

func (c *Config) validate() error {
	if c.Store == nil || c.Check == nil || c.Discarded == nil {
		return errors.New("halfmsg: config needs Store, Check and Discarded")
	}
	if c.Append == nil {
		c.Append = c.Store.Append
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Interval <= 0 {
		c.Interval = DefaultInterval
	}
	if c.MaxChecks <= 0 {
		c.MaxChecks = DefaultMaxChecks
	}
	c.MaxChecks = min(c.MaxChecks, maxRecordedChecks)
	if c.MaxPending <= 0 {
		c.MaxPending = DefaultMaxPending
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.SnapshotEvery <= 0 {
		c.SnapshotEvery = 4096
	}
	return nil
}

// Service keeps the pending half messages and checks them back: the
// driver of Core.
//
// mu guards core, wakeMs, resolved, inflight and records; effects are
// carried out outside it. The run goroutine carries out Check and Discard
// and writes snapshots; Resolve carries out its own Resolve on the
// caller's goroutine.
type Service struct {
	cfg Config
	log *slog.Logger

	mu       sync.Mutex
	core     *Core
	wakeMs   int64        // the last WakeAt (0: none)
	resolved *resolvedSet // what the op records say is resolved
	inflight int          // op records being appended, not yet applied
	records  int          // op records since the last snapshot
	// snapshotting: a snapshot record is being appended; op records
	// wait on opDone until it is.
	snapshotting bool
	opDone       *sync.Cond

	kick   chan struct{}
	snap   chan struct{}   // records reached SnapshotEvery
	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	done   chan struct{}
}

// Start replays OpTopic and HalfTopic, so that every half message without
// a resolution is pending again, and starts checking them back.
func Start(ctx context.Context, cfg Config) (*Service, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, log: cfg.Logger.With("component", "halfmsg"), kick: make(chan struct{}, 1),
		snap: make(chan struct{}, 1), done: make(chan struct{})}
	s.opDone = sync.NewCond(&s.mu)
	s.core = NewCore(Timing{TimeoutMs: cfg.Timeout.Milliseconds(), IntervalMs: cfg.Interval.Milliseconds(), MaxChecks: cfg.MaxChecks})
	n, err := s.replay()
	if err != nil {
		return nil, err
	}
	s.log.Info("transactions: half messages pending", "pending", n)
	if s.records > 0 {
		if _, err := s.snapshot(ctx); err != nil {
			return nil, err
		}
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	go s.run()
	return s, nil
}

// Close stops checking; pending half messages stay on disk.
func (s *Service) Close() {
	s.cancel()
	<-s.done
}

// Pending returns the number of pending half messages.
func (s *Service) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.core.Pending()
}

// Admit reports ErrTooMany when MaxPending half messages wait: the
// adapter refuses a new prepared message then, before appending it.
func (s *Service) Admit() error {
	if s.Pending() >= s.cfg.MaxPending {
		return fmt.Errorf("%w: %d", ErrTooMany, s.cfg.MaxPending)
	}
	return nil
}

// Prepared makes the half message the adapter appended at (queue offset
// key of HalfTopic, CommitLog offset phys, store time storeMs) pending.
func (s *Service) Prepared(key, phys, storeMs int64) {
	s.step(EvPrepared{Key: key, Phys: phys, StoreMs: storeMs})
}

// Resolve ends the transaction of the half message key at phys (END_TRANSACTION):
// it appends what build makes of the half message, then the op record
// (action ActionCommit or ActionRollback), in one write. It fails with
// ErrUnknown or ErrResolving (nothing written), build's error, or the
// store's.
func (s *Service) Resolve(ctx context.Context, key, phys int64, action Action, build Build) error {
	if action != ActionCommit && action != ActionRollback {
		return fmt.Errorf("halfmsg: resolve with action %d", action)
	}
	var r Resolve
	for _, e := range s.step(EvEnd{Key: key, Phys: phys}) {
		switch e := e.(type) {
		case Reject:
			return fmt.Errorf("halfmsg: half message %d at %d: %w", key, phys, e.Err)
		case Resolve:
			r = e
		}
	}
	checks := s.beginOp(key)
	written, err := s.appendResolution(ctx, r.Key, r.Phys, Op{Action: action, Key: r.Key, Checks: checks}, build)
	s.endOp(r.Key, written, true)
	s.step(EvEnded{Key: r.Key, OK: written})
	return err
}

// beginOp counts an op record about key being appended and returns the
// checks key had.
func (s *Service) beginOp(key int64) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.snapshotting {
		s.opDone.Wait()
	}
	s.inflight++
	n, _ := s.core.Checks(key)
	return n
}

// endOp applies an op record about key that was appended (ok) or not;
// resolves says whether it resolves key. Past SnapshotEvery records it
// asks the run goroutine for a snapshot.
func (s *Service) endOp(key int64, ok, resolves bool) {
	s.mu.Lock()
	s.inflight--
	if ok {
		if resolves {
			s.resolved.add(key)
		}
		s.records++
	}
	full := s.records >= s.cfg.SnapshotEvery
	s.mu.Unlock()
	if full {
		select {
		case s.snap <- struct{}{}:
		default:
		}
	}
}

// appendResolution reads the half message at phys and appends build's
// entries and op in one write. written is true when they were written,
// even if err then says the in-sync slaves did not confirm them (a
// SYNC_MASTER's FLUSH_SLAVE_TIMEOUT): the half message is resolved.
func (s *Service) appendResolution(ctx context.Context, key, phys int64, op Op, build Build) (written bool, err error) {
	res, err := s.readHalf(ctx, key, phys)
	if err != nil {
		return false, fmt.Errorf("halfmsg: read half message %d at %d: %w", key, phys, err)
	}
	entries, err := build(res.Entries[0])
	res.Release()
	if err != nil {
		return false, err
	}
	entries = append(entries, opEntry(op))
	pos, err := s.cfg.Append(ctx, entries)
	if err != nil {
		return len(pos) > 0, fmt.Errorf("halfmsg: append resolution of %d: %w", key, err)
	}
	return true, nil
}

// readHalf reads the half message key at phys. The adapter makes it
// pending once it is written, perhaps before readers see it (a
// producer's END_TRANSACTION can be that quick): wait for that first.
func (s *Service) readHalf(ctx context.Context, key, phys int64) (*storage.ReadResult, error) {
	s.cfg.Store.DispatchNow()
	if err := log.WaitVisible(ctx, s.cfg.Store, HalfTopic, 0, key); err != nil {
		return nil, err
	}
	res, err := s.cfg.Store.ReadAt(phys)
	if err != nil {
		return nil, err
	}
	if len(res.Entries) != 1 || res.Entries[0].QueueOffset != key {
		res.Release()
		return nil, fmt.Errorf("%w: entry at %d is not half message %d", ErrUnknown, phys, key)
	}
	return res, nil
}

// step applies ev and returns its effects; it resets the wake-up when
// the earliest due time changed.
func (s *Service) step(ev Event) []Effect {
	s.mu.Lock()
	effects := s.core.Step(ev, s.cfg.Now().UnixMilli())
	wake := int64(0)
	for _, e := range effects {
		if w, ok := e.(WakeAt); ok {
			wake = w.AtMs
		}
	}
	changed := wake != 0 && wake != s.wakeMs
	s.wakeMs = wake
	s.mu.Unlock()
	if changed {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
	return effects
}

func (s *Service) run() {
	defer close(s.done)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	s.resetTimer(timer)
	snapRetry := time.NewTimer(time.Hour)
	snapRetry.Stop()
	defer snapRetry.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.kick:
			s.resetTimer(timer)
		case <-timer.C:
			s.apply(s.step(EvTick{}))
			s.resetTimer(timer)
		case <-s.snap:
			s.trySnapshot(snapRetry)
		case <-snapRetry.C:
			s.trySnapshot(snapRetry)
		}
	}
}

// trySnapshot writes a snapshot, or tries again soon when op records
// were being appended.
func (s *Service) trySnapshot(retry *time.Timer) {
	done, err := s.snapshot(s.ctx)
	switch {
	case err != nil && s.ctx.Err() == nil:
		s.log.Error("transactions: snapshot failed", "err", err)
		retry.Reset(time.Second)
	case err == nil && !done:
		retry.Reset(10 * time.Millisecond)
	}
}

func (s *Service) resetTimer(t *time.Timer) {
	s.mu.Lock()
	wake := s.wakeMs
	s.mu.Unlock()
	if wake == 0 {
		t.Stop()
		return
	}
	t.Reset(max(time.Duration(wake-s.cfg.Now().UnixMilli())*time.Millisecond, 0))
}

// apply carries out the checks and discards of a tick.
func (s *Service) apply(effects []Effect) {
	for _, e := range effects {
		if s.ctx.Err() != nil {
			return
		}
		switch e := e.(type) {
		case Check:
			s.step(EvChecked{Key: e.Key, OK: s.check(e)})
		case Discard:
			checks := s.beginOp(e.Key)
			written, err := s.appendResolution(s.ctx, e.Key, e.Phys, Op{Action: ActionDiscarded, Key: e.Key, Checks: checks}, s.cfg.Discarded)
			s.endOp(e.Key, written, true)
			if !written && s.ctx.Err() == nil {
				s.log.Error("transactions: discarding a half message failed", "key", e.Key, "err", err)
			} else if written {
				s.log.Warn("transactions: half message discarded after its last check", "key", e.Key,
					"checks", s.cfg.MaxChecks, "topic", CheckMaxTopic, "err", err)
			}
			s.step(EvDiscarded{Key: e.Key, OK: written})
		}
	}
}

// check asks the adapter to check e back and records the check; it
// reports whether the record is durable.
func (s *Service) check(c Check) bool {
	res, err := s.readHalf(s.ctx, c.Key, c.Phys)
	if err != nil {
		if first, merr := s.cfg.Store.MinOffset(HalfTopic, 0); merr == nil && c.Key < first {
			s.log.Warn("transactions: half message removed by retention before it was resolved", "key", c.Key)
			s.mu.Lock()
			s.resolved.raise(first)
			s.mu.Unlock()
			s.step(EvGone{Key: c.Key})
			return false
		}
		s.log.Error("transactions: read half message to check", "key", c.Key, "err", err)
		return false
	}
	if err := s.cfg.Check(s.ctx, res.Entries[0], c.Checks); err != nil {
		s.log.Info("transactions: check-back not sent", "key", c.Key, "checks", c.Checks, "err", err)
	}
	res.Release()
	s.beginOp(c.Key)
	_, err = s.cfg.Store.Append(s.ctx, []storage.Entry{opEntry(Op{Action: ActionChecked, Key: c.Key, Checks: c.Checks})})
	s.endOp(c.Key, err == nil, false)
	if err != nil {
		if s.ctx.Err() == nil {
			s.log.Error("transactions: record check-back", "key", c.Key, "err", err)
		}
		return false
	}
	return true
}

// replay rebuilds the pending half messages: every entry of HalfTopic
// without a resolving op record, with the checks it had. The op records
// (from the last snapshot on) only add facts, so their order does not
// matter; the half messages are read from the snapshot's low mark on.
func (s *Service) replay() (int, error) {
	store := s.cfg.Store
	hmin, _ := store.MinOffset(HalfTopic, 0)
	res := newResolvedSet(hmin)
	checks := map[int64]int{}
	records := 0
	_, err := store.Replay(OpTopic, 0, 0, func(e storage.ReadEntry) error {
		records++
		if len(e.Payload) >= 2 && Action(e.Payload[1]) == ActionSnapshot {
			sn, err := DecodeSnapshot(e.Payload)
			if err != nil {
				s.log.Warn("transactions: skipping snapshot record", "offset", e.QueueOffset, "err", err)
				return nil
			}
			res.raise(sn.Low)
			for _, k := range sn.Above {
				res.add(k)
			}
			for k, n := range sn.Checks {
				checks[k] = max(checks[k], n)
			}
			return nil
		}
		op, err := DecodeOp(e.Payload)
		if err != nil {
			s.log.Warn("transactions: skipping op record", "offset", e.QueueOffset, "err", err)
			return nil
		}
		if op.Action.resolves() {
			res.add(op.Key)
		} else {
			checks[op.Key] = max(checks[op.Key], op.Checks)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("halfmsg: replay %s: %w", OpTopic, err)
	}
	n := 0
	_, err = store.Replay(HalfTopic, 0, max(res.low, hmin), func(e storage.ReadEntry) error {
		if res.has(e.QueueOffset) {
			return nil
		}
		s.core.Step(EvPrepared{Key: e.QueueOffset, Phys: e.Phys, StoreMs: e.StoreTime, Checks: checks[e.QueueOffset]}, s.cfg.Now().UnixMilli())
		n++
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("halfmsg: replay %s: %w", HalfTopic, err)
	}
	s.resolved, s.records = res, records
	s.wakeMs, _ = s.core.NextWake()
	return n, nil
}
