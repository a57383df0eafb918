package timer

import (
	"errors"
	"fmt"

	"github.com/twinmq/twinmq/broker/delay"
	"github.com/twinmq/twinmq/broker/kvlog"
	"github.com/twinmq/twinmq/storage"
)

// ingest reads the next batch of TimerTopic and chains it into the timer
// log. It returns how many timers it ingested.
func (s *Service) ingest() (int, error) {
	from := s.w.ingested
	res, err := s.cfg.Store.Read(delay.TimerTopic, 0, from, storage.ReadOptions{MaxEntries: s.cfg.IngestBatch})
	var oe *storage.OffsetError
	if errors.As(err, &oe) && from < oe.Min {
		s.cfg.Logger.Warn("timer: timer messages removed by retention before ingest", "from", from, "to", oe.Min)
		s.w.ingested = oe.Min
		return 1, nil
	}
	if errors.Is(err, storage.ErrQueueNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("timer: read %s at %d: %w", delay.TimerTopic, from, err)
	}
	timers := make([]Timer, len(res.Entries))
	for i, e := range res.Entries {
		timers[i] = Timer{Phys: e.Phys, DueMs: e.Header.TagsCode(0)}
	}
	next := res.NextOffset
	res.Release()
	if len(timers) == 0 {
		return 0, nil
	}
	recs := s.w.plan(timers, next)
	entries := make([]storage.Entry, len(recs))
	for i, c := range recs {
		entries[i] = logEntry(appendChain(nil, c))
	}
	pos, err := s.cfg.Store.Append(s.ctx, entries)
	if err != nil {
		return 0, fmt.Errorf("timer: append chain records: %w", err)
	}
	// A slot may load at once; its chain must be readable by then.
	if err := kvlog.WaitVisible(s.ctx, s.cfg.Store, LogTopic, 0, pos[len(pos)-1].QueueOffset); err != nil {
		return 0, fmt.Errorf("timer: %w", err)
	}
	phys := make([]int64, len(pos))
	for i, p := range pos {
		phys[i] = p.Phys
	}
	s.w.chained(recs, phys, next)
	s.records += len(recs)
	s.mu.Lock()
	s.stats.Ingested += int64(len(timers))
	s.mu.Unlock()
	return len(timers), nil
}

// load reads a slot's chain, newest record first, into the heap.
func (s *Service) load(slot int64) error {
	var timers []Timer
	for phys := s.w.head(slot); phys >= 0; {
		res, err := s.cfg.Store.ReadAt(phys)
		if err != nil {
			return fmt.Errorf("timer: chain record at %d: %w", phys, err)
		}
		c, err := decodeChain(res.Entries[0].Payload)
		res.Release()
		if err != nil {
			return fmt.Errorf("timer: chain record at %d: %w", phys, err)
		}
		if c.slot != slot || c.prev >= phys {
			return fmt.Errorf("timer: chain record at %d: slot %d prev %d: %w", phys, c.slot, c.prev, ErrCorrupt)
		}
		timers = append(timers, c.timers...)
		phys = c.prev
	}
	s.w.loaded(slot, timers)
	return nil
}

// fire delivers due timers and their fired record in one append.
func (s *Service) fire(items []item) error {
	entries := make([]storage.Entry, 0, len(items)+1)
	dropped := 0
	for _, it := range items {
		built, err := s.build(it.Phys)
		if err != nil {
			s.cfg.Logger.Warn("timer: dropping undeliverable timer message", "phys", it.Phys, "err", err)
			dropped++
			continue
		}
		entries = append(entries, built...)
	}
	fs := s.w.firedPlan(items)
	entries = append(entries, logEntry(appendFired(nil, fs)))
	if _, err := s.cfg.Store.Append(s.ctx, entries); err != nil {
		return fmt.Errorf("timer: deliver: %w", err)
	}
	s.w.firedDone(fs)
	s.records++
	s.mu.Lock()
	s.stats.Fired += int64(len(items) - dropped)
	s.stats.Dropped += int64(dropped)
	s.mu.Unlock()
	return nil
}

func (s *Service) build(phys int64) ([]storage.Entry, error) {
	res, err := s.cfg.Store.ReadAt(phys)
	if err != nil {
		return nil, err
	}
	defer res.Release()
	return s.cfg.Build(res.Entries[0])
}

// watch parks on TimerTopic until it has data past the ingest cursor.
// Notify may call back on this goroutine, so mu is not held across it.
func (s *Service) watch() {
	s.mu.Lock()
	if s.watching {
		s.mu.Unlock()
		return
	}
	s.watching = true
	s.mu.Unlock()
	cancel := s.cfg.Store.Notify(delay.TimerTopic, 0, s.w.ingested, func() {
		s.mu.Lock()
		s.watching, s.cancelWatch = false, nil
		s.mu.Unlock()
		select {
		case s.kick <- struct{}{}:
		default:
		}
	})
	s.mu.Lock()
	if s.watching {
		s.cancelWatch = cancel
	}
	s.mu.Unlock()
}

func (s *Service) unwatch() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancelWatch != nil {
		s.cancelWatch()
	}
	s.watching, s.cancelWatch = false, nil
}
