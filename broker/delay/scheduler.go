package delay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twinmq/twinmq/broker/kvlog"
	"github.com/twinmq/twinmq/storage"
)

// Build turns one due entry of ScheduleTopic (or TimerTopic) into the
// entries to store in its real topic: the protocol adapter decodes its own
// payload (e.Kind says which), applies DeliveryEdits, targets REAL_TOPIC /
// REAL_QID and encodes the new entry (new offsets, new store time). The
// payload is valid only during the call. An error drops the entry, logged:
// a message that cannot be decoded would otherwise stall its level.
type Build func(e storage.ReadEntry) ([]storage.Entry, error)

// Config configures a Scheduler.
type Config struct {
	Store  *storage.Store
	Levels Levels // default DefaultLevels
	Build  Build
	Logger *slog.Logger
	Now    func() time.Time
	// BatchSize bounds the entries read and delivered in one append
	// (default 64).
	BatchSize int
	// SnapshotEvery is the number of progress records after which a
	// snapshot record replaces them (default 4096): it bounds the replay
	// at start.
	SnapshotEvery int
	// SnapshotInterval rewrites the snapshot even when nothing is
	// delivered (default 30 min), so CommitLog retention never takes the
	// only copy of the progress.
	SnapshotInterval time.Duration
}

func (c *Config) validate() error {
	if c.Store == nil || c.Build == nil {
		return errors.New("delay: config needs Store and Build")
	}
	if len(c.Levels) == 0 {
		c.Levels = MustDefault()
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 64
	}
	if c.SnapshotEvery <= 0 {
		c.SnapshotEvery = 4096
	}
	if c.SnapshotInterval <= 0 {
		c.SnapshotInterval = 30 * time.Minute
	}
	return nil
}

// Scheduler delivers delay-level messages when due: the driver of Core.
// Adapters store a delayed message in ScheduleTopic queue level-1 with
// its due time as tags code (see Policy.Place); the Scheduler watches
// those queues and re-stores due messages through Build.
//
// Ownership: the run goroutine owns core, batch and records. mu guards
// appended and watches (Notify callbacks run on the store's dispatcher).
type Scheduler struct {
	cfg   Config
	core  *Core
	batch []*storage.ReadResult // per level: the entries of the last Read
	// records counts progress records since the last snapshot.
	records int

	mu       sync.Mutex
	appended []bool
	watches  []func() bool
	progress []int64 // copy of core progress for Progress
	fired    []int64 // per level-1: messages delivered since Start (Fired)

	kick   chan struct{}
	ctx    context.Context // cancelled by Close; for appends only
	cancel context.CancelFunc
	done   chan struct{}
}

// Start replays the delivery progress and starts delivering. Messages that
// fell due while the broker was down are delivered at once.
func Start(ctx context.Context, cfg Config) (*Scheduler, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	next, records, err := replayProgress(cfg.Store, cfg.Logger.Warn)
	if err != nil {
		return nil, err
	}
	n := cfg.Levels.Max()
	start := make([]int64, n)
	for lvl, v := range next {
		if lvl <= n {
			start[lvl-1] = v
		}
	}
	s := &Scheduler{
		cfg: cfg, core: NewCore(n, start), batch: make([]*storage.ReadResult, n+1),
		records: records, appended: make([]bool, n+1), watches: make([]func() bool, n+1),
		progress: start, fired: make([]int64, n), kick: make(chan struct{}, 1), done: make(chan struct{}),
	}
	if records > 0 {
		if err := s.snapshot(ctx); err != nil {
			return nil, err
		}
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	go s.run()
	return s, nil
}

// Close stops the scheduler and waits for it. Undelivered messages stay
// in ScheduleTopic for the next start.
func (s *Scheduler) Close() error {
	s.cancel()
	<-s.done
	return nil
}

// Progress returns a level's delivery progress: the first offset of its
// ScheduleTopic queue not yet delivered.
func (s *Scheduler) Progress(level int) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if level < 1 || level > len(s.progress) {
		return 0
	}
	return s.progress[level-1]
}

// Pending returns how many messages of a level wait in ScheduleTopic:
// its queue's end less its delivery progress.
func (s *Scheduler) Pending(level int) int64 {
	end, err := s.cfg.Store.MaxOffset(ScheduleTopic, QueueID(level))
	if err != nil {
		return 0 // the level's queue never held a message
	}
	return max(end-s.Progress(level), 0)
}

// Fired returns how many messages of a level were delivered to their
// topics since Start (messages Build could not rebuild are not counted).
func (s *Scheduler) Fired(level int) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if level < 1 || level > len(s.fired) {
		return 0
	}
	return s.fired[level-1]
}

// Levels is the number of delay levels.
func (s *Scheduler) Levels() int { return s.cfg.Levels.Max() }

func (s *Scheduler) nowMs() int64 { return s.cfg.Now().UnixMilli() }

func (s *Scheduler) run() {
	defer close(s.done)
	defer s.stopWatches()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	snap := time.NewTicker(s.cfg.SnapshotInterval)
	defer snap.Stop()
	s.apply(s.core.Step(EvStart{}, s.nowMs()), timer)
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.kick:
			for _, lvl := range s.takeAppended() {
				s.apply(s.core.Step(EvAppended{Level: lvl}, s.nowMs()), timer)
			}
		case <-timer.C:
			s.apply(s.core.Step(EvTick{}, s.nowMs()), timer)
		case <-snap.C:
			if err := s.snapshot(s.ctx); err != nil && s.ctx.Err() == nil {
				s.cfg.Logger.Error("delay: progress snapshot failed", "err", err)
			}
		}
	}
}

// apply carries out effects, feeding each answer back into the core.
func (s *Scheduler) apply(effects []Effect, timer *time.Timer) {
	for len(effects) > 0 {
		e := effects[0]
		effects = effects[1:]
		var ev Event
		switch e := e.(type) {
		case Read:
			ev = s.read(e)
		case Deliver:
			ev = s.deliver(e)
		case Watch:
			s.watch(e)
		case WakeAt:
			timer.Reset(max(time.Duration(e.AtMs-s.nowMs())*time.Millisecond, 0))
		}
		if ev != nil {
			effects = append(effects, s.core.Step(ev, s.nowMs())...)
		}
	}
}

// read answers a Read with the entries of the level's queue; it keeps the
// read result for the Deliver that may follow.
func (s *Scheduler) read(r Read) Event {
	s.release(r.Level)
	q := QueueID(r.Level)
	from := r.From
	res, err := s.cfg.Store.Read(ScheduleTopic, q, from, storage.ReadOptions{MaxEntries: s.cfg.BatchSize})
	var oe *storage.OffsetError
	if errors.As(err, &oe) && from < oe.Min {
		s.cfg.Logger.Warn("delay: scheduled messages removed by retention before delivery",
			"level", r.Level, "from", from, "to", oe.Min)
		from = oe.Min
		res, err = s.cfg.Store.Read(ScheduleTopic, q, from, storage.ReadOptions{MaxEntries: s.cfg.BatchSize})
	}
	switch {
	case errors.Is(err, storage.ErrQueueNotFound):
		return EvRead{Level: r.Level, From: from}
	case errors.As(err, &oe) && from > oe.Max:
		s.cfg.Logger.Error("delay: progress past the end of its queue", "level", r.Level, "next", from, "max", oe.Max)
		return EvRead{Level: r.Level, From: from}
	case err != nil:
		s.cfg.Logger.Error("delay: read failed", "level", r.Level, "from", from, "err", err)
		return EvFailed{Level: r.Level}
	}
	s.batch[r.Level] = res
	items := make([]Item, len(res.Entries))
	for i, e := range res.Entries {
		items[i] = Item{Offset: e.QueueOffset, Next: e.QueueOffset + int64(max(e.Count, 1)), DueMs: e.Header.TagsCode(0)}
	}
	return EvRead{Level: r.Level, From: from, Items: items}
}

func (s *Scheduler) release(level int) {
	if res := s.batch[level]; res != nil {
		res.Release()
		s.batch[level] = nil
	}
}

// deliver re-stores the due entries and the level's progress in one
// append.
func (s *Scheduler) deliver(d Deliver) Event {
	defer s.release(d.Level)
	res := s.batch[d.Level]
	if res == nil || len(res.Entries) < len(d.Items) {
		return EvFailed{Level: d.Level} // cannot happen: Deliver follows its Read
	}
	entries := make([]storage.Entry, 0, len(d.Items)+1)
	delivered := 0
	for i, it := range d.Items {
		built, err := s.cfg.Build(res.Entries[i])
		if err != nil {
			s.cfg.Logger.Warn("delay: dropping undeliverable scheduled message",
				"level", d.Level, "offset", it.Offset, "err", err)
			continue
		}
		entries = append(entries, built...)
		delivered++
	}
	rec := appendProgress(nil, false, map[int]int64{d.Level: d.Next}, s.cfg.Levels.Max())
	entries = append(entries, progressEntry(rec))
	if _, err := s.cfg.Store.Append(s.ctx, entries); err != nil {
		if s.ctx.Err() == nil {
			s.cfg.Logger.Error("delay: delivery failed", "level", d.Level, "err", err)
		}
		return EvFailed{Level: d.Level}
	}
	s.mu.Lock()
	s.progress[d.Level-1] = d.Next
	s.fired[d.Level-1] += int64(delivered)
	s.mu.Unlock()
	s.records++
	if s.records >= s.cfg.SnapshotEvery {
		if err := s.snapshot(s.ctx); err != nil && s.ctx.Err() == nil {
			s.cfg.Logger.Error("delay: progress snapshot failed", "err", err)
		}
	}
	return EvDelivered{Level: d.Level, Next: d.Next}
}

// snapshot appends every level's progress in one record and drops the
// records before it.
func (s *Scheduler) snapshot(ctx context.Context) error {
	s.mu.Lock()
	next := make(map[int]int64, len(s.progress))
	for i, v := range s.progress {
		next[i+1] = v
	}
	s.mu.Unlock()
	rec := appendProgress(nil, true, next, s.cfg.Levels.Max())
	pos, err := s.cfg.Store.Append(ctx, []storage.Entry{progressEntry(rec)})
	if err != nil {
		return fmt.Errorf("delay: snapshot: %w", err)
	}
	off := pos[0].QueueOffset
	if err := kvlog.WaitVisible(ctx, s.cfg.Store, ProgressTopic, 0, off); err != nil {
		return fmt.Errorf("delay: snapshot: %w", err)
	}
	if err := s.cfg.Store.SetMinOffset(ProgressTopic, 0, off); err != nil {
		return fmt.Errorf("delay: snapshot: %w", err)
	}
	s.records = 1
	return nil
}

// watch parks on the store until the level's queue has an entry at From.
func (s *Scheduler) watch(w Watch) {
	cancel := s.cfg.Store.Notify(ScheduleTopic, QueueID(w.Level), w.From, func() {
		s.mu.Lock()
		s.appended[w.Level] = true
		s.mu.Unlock()
		select {
		case s.kick <- struct{}{}:
		default:
		}
	})
	s.mu.Lock()
	s.watches[w.Level] = cancel
	s.mu.Unlock()
}

func (s *Scheduler) takeAppended() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []int
	for lvl, ok := range s.appended {
		if ok {
			s.appended[lvl] = false
			out = append(out, lvl)
		}
	}
	return out
}

func (s *Scheduler) stopWatches() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.watches {
		if c != nil {
			c()
		}
	}
	for lvl := range s.batch {
		s.release(lvl)
	}
}
