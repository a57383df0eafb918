package storage

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Append writes entries to the CommitLog, in order, and returns where each
// landed (physical offset, logical offset, store time). In SYNC_FLUSH mode
// it returns only once an fsync covers them (group commit), or ctx ends;
// an append whose wait was cut short by ctx may still become durable.
// A replica refuses it (ErrReplica), as the CommitLog does under its
// append lock should the role change meanwhile.
func (s *Store) Append(ctx context.Context, entries []Entry) ([]Position, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	if s.log.IsReplica() {
		return nil, fmt.Errorf("storage: append: %w", ErrReplica)
	}
	if s.noSpace.Load() {
		return nil, s.noSpaceErr()
	}
	if s.cfg.FlushDiskType == SyncFlush {
		return s.appendSync(ctx, entries)
	}
	var start int64 // the write's time, for the Visible histogram
	if o := s.observers(); o != nil && o.Visible != nil {
		start = s.since()
	}
	pos, err := s.log.Append(entries, make([]Position, 0, len(entries)))
	if err != nil {
		if isNoSpace(err) {
			s.noSpaceHit(err)
		}
		return pos, fmt.Errorf("storage: append: %w", err)
	}
	if o := s.observers(); o != nil && o.Visible != nil {
		s.appended(pos, start, o.Visible)
	}
	s.written()
	s.wakeDispatcherFor(entries)
	return pos, nil
}

// OnWritten sets fn to be called after every local write to the
// CommitLog (an Append, a SYNC_FLUSH group before its fsync, a topic
// deletion record), on the writer's goroutine; nil removes it. A master's
// HA streams use it to send new bytes at once (package broker/ha). fn
// must not block, nor append.
func (s *Store) OnWritten(fn func()) {
	if fn == nil {
		s.onWritten.Store(nil)
		return
	}
	s.onWritten.Store(&fn)
}

// written calls the OnWritten function, if any.
func (s *Store) written() {
	if fn := s.onWritten.Load(); fn != nil {
		(*fn)()
	}
}

// syncReq is one SYNC_FLUSH append waiting for the flusher. pos and err
// are set before the flusher closes the group's channel (s.syncGen when
// the request was queued): one close wakes the whole group. Requests are
// pooled.
type syncReq struct {
	entries []Entry
	pos     []Position
	err     error
	queued  int64 // s.since() when queued, if observed (observe.go)
}

// appendSync queues entries for the flusher, which writes every queued
// request with one pwrite and acknowledges them all after one fdatasync.
// Appenders never write under the append lock while an fsync runs (a
// pwrite is ~40% slower then), so everything queued during one fsync goes
// into the next as one large write: fdatasync costs ~100 us whatever the
// size up to 64 KiB here, so large groups are what make SYNC_FLUSH fast.
func (s *Store) appendSync(ctx context.Context, entries []Entry) ([]Position, error) {
	if err := s.log.Validate(entries); err != nil {
		return nil, fmt.Errorf("storage: append: %w", err)
	}
	req, _ := s.syncReqs.Get().(*syncReq)
	if req == nil {
		req = &syncReq{}
	}
	req.entries = entries
	obs := s.observers()
	if obs != nil {
		req.queued = s.since()
	}
	s.syncMu.Lock()
	if s.syncClosed {
		s.syncMu.Unlock()
		return nil, ErrClosed
	}
	done := s.syncGen
	s.syncQueue = append(s.syncQueue, req)
	n := len(s.syncQueue)
	full := n == max(s.syncTarget, 1)
	s.syncMu.Unlock()
	// One signal each: the first request of a group wakes the flusher
	// (later ones find it awake or the signal pending), the one that
	// reaches the target ends its gathering.
	if n == 1 {
		select {
		case s.flushKick <- struct{}{}:
		default:
		}
	}
	if full {
		select {
		case s.gathered <- struct{}{}:
		default:
		}
	}
	// Every queued request is answered, at close too (failQueued), so
	// only ctx can cut the wait short; a plain receive is cheaper than a
	// select.
	if cancel := ctx.Done(); cancel == nil {
		<-done
	} else {
		select {
		case <-done:
		case <-cancel:
			return nil, fmt.Errorf("storage: waiting for flush: %w", ctx.Err())
		}
	}
	pos, err := req.pos, req.err
	if obs != nil && obs.GroupCommit != nil && err == nil {
		obs.GroupCommit.Observe(float64(s.since()-req.queued) / 1e9)
	}
	*req = syncReq{}
	s.syncReqs.Put(req) // not on the ctx path: the flusher still holds it
	return pos, err
}

// gather waits, at most maxGather and without spinning, until 15/16 of
// the appends that were in flight when the last group ended (the group
// plus those queued behind it) are queued: the appenders it released
// append again at once (a producer's pipeline, a broker serving many
// connections). Without it they would miss the next fsync, which starts
// at once with the others, and concurrent appenders would settle into two
// alternating half-size groups. The 1/16 of slack lets a late appender
// miss a group rather than hold it for maxGather. With 64 appenders it
// gives ~61 appends per fsync against ~57 with 7/8, for ~3 us more
// gathering in a group cycle of ~200 us.
func (s *Store) gather(t *time.Timer) {
	const maxGather = 200 * time.Microsecond
	s.syncMu.Lock()
	enough := len(s.syncQueue) >= s.syncTarget
	s.syncMu.Unlock()
	if enough {
		return
	}
	t.Reset(maxGather)
	select {
	case <-s.gathered:
	case <-t.C:
	case <-s.done:
	}
	t.Stop()
}

// groupCommit writes every queued SYNC_FLUSH request with one Append,
// fsyncs once and releases them all. Flusher only.
func (s *Store) groupCommit() {
	s.syncMu.Lock()
	reqs, done := s.syncQueue, s.syncGen
	s.syncQueue = s.syncSpare[:0]
	s.syncGen = make(chan struct{})
	s.syncMu.Unlock()
	all := s.syncEntries[:0]
	for _, r := range reqs {
		all = append(all, r.entries...)
	}
	// One Position slice per group, handed out in pieces: not reused, so
	// each appender may keep its piece.
	pos, err := s.log.Append(all, make([]Position, 0, len(all)))
	if err == nil {
		s.written() // slaves copy the group while it is fsynced here
		// Let the dispatcher take the last group's entries (durable
		// now) while this fsync leaves the CPUs idle, rather than while
		// the released appenders come back.
		select {
		case s.kick <- struct{}{}:
		default:
		}
		obs := s.observers()
		if obs != nil && obs.Visible != nil {
			rest := pos
			for _, r := range reqs {
				n := len(r.entries)
				s.appended(rest[:n], r.queued, obs.Visible)
				rest = rest[n:]
			}
		}
		_, err = s.timedFlush(obs)
	}
	s.flushes.Add(1)
	if err != nil {
		err = fmt.Errorf("storage: append: %w", err)
	}
	switch {
	case err == nil, errors.Is(err, ErrReplica): // a role switch refuses the group, the log has not failed
	case isNoSpace(err): // refused and undone; the log has not failed
		s.noSpaceHit(err)
	default:
		s.failLog.error(s.cfg.Logger, s.cfg.Now(), "storage: group commit failed; refusing further writes", "err", err)
	}
	rest := pos
	for _, r := range reqs {
		n := len(r.entries)
		if err != nil {
			r.err = err
		} else {
			r.pos = rest[:n:n]
			rest = rest[n:]
		}
	}
	close(done)
	clear(all) // drop references to payloads
	s.syncEntries = all[:0]
	s.syncMu.Lock()
	s.syncTarget = (len(reqs) + len(s.syncQueue)) * 15 / 16
	s.syncMu.Unlock()
	select { // a signal for the group just written is stale
	case <-s.gathered:
	default:
	}
	clear(reqs)
	s.syncSpare = reqs[:0]
	if len(reqs) > 0 {
		s.wakeDispatcher()
	}
}

// wakeDispatcherFor is wakeDispatcher for an ASYNC_FLUSH append of
// entries: a parked long poll on another queue does not need them at
// once, so only one on a queue they went to wakes the dispatcher now (a
// wake-up is a futex call on each side and a dispatch pass per append:
// the delay scheduler always waits on SCHEDULE_TOPIC_XXXX, which made
// every send wake the dispatcher). A long poll that parks on their queue
// just after this looked is woken by the lazy tick, within
// lazyDispatchInterval.
func (s *Store) wakeDispatcherFor(entries []Entry) {
	if s.held.Load() {
		return // the holder of the dispatch dispatches at release
	}
	// The atomic checks first: waitedOn takes the waiters' lock.
	if s.nwaiters.Load() != 0 && s.lazyArmed.Load() &&
		s.log.WrittenOffset()-s.dispatched.Load() < lazyDispatchBytes && !s.waitedOn(entries) {
		return
	}
	s.wakeDispatcher()
}

// waitedOn reports whether a long poll is parked on a queue of entries.
func (s *Store) waitedOn(entries []Entry) bool {
	s.waitMu.Lock()
	defer s.waitMu.Unlock()
	for i := range entries {
		if len(s.waiters[queueKey{entries[i].Topic, entries[i].QueueID}]) > 0 {
			return true
		}
	}
	return false
}

// wakeDispatcher wakes the dispatcher when someone needs the new entry
// now: a parked long poll, a dispatcher with no catch-up tick armed, or a
// backlog past lazyDispatchBytes. Otherwise the armed tick (every
// lazyDispatchInterval while entries keep coming) dispatches the batch. A
// wakeup costs the appender a futex call, about a third of an append.
func (s *Store) wakeDispatcher() {
	if s.nwaiters.Load() == 0 && s.lazyArmed.Load() &&
		s.log.WrittenOffset()-s.dispatched.Load() < lazyDispatchBytes {
		return
	}
	s.wakeups.Add(1)
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Lazy dispatch bounds how stale a ConsumeQueue may be for readers that
// poll without waiting (Notify waiters are woken at once).
const (
	lazyDispatchInterval = time.Millisecond
	lazyDispatchBytes    = 256 << 10
)

// flushLoop is the flush service. In SYNC_FLUSH it is the group commit:
// each pass writes every queued append, fsyncs once, and releases them
// all. In ASYNC_FLUSH it flushes every FlushInterval, which bounds what a
// power loss can take.
func (s *Store) flushLoop() {
	defer s.wg.Done()
	period := s.FlushInterval()
	tick := time.NewTicker(period)
	defer tick.Stop()
	gather := time.NewTimer(time.Hour)
	gather.Stop()
	for {
		select {
		case <-s.done:
			s.failQueued()
			return
		case <-s.flushKick:
		case <-tick.C:
		}
		if p := s.FlushInterval(); p != period { // SetFlushInterval
			period = p
			tick.Reset(p)
		}
		if s.cfg.FlushDiskType == SyncFlush {
			s.gather(gather)
			s.groupCommit()
			continue
		}
		if _, err := s.timedFlush(s.observers()); err != nil {
			s.failLog.error(s.cfg.Logger, s.cfg.Now(), "storage: fsync failed; refusing further writes", "err", err)
		}
		s.flushes.Add(1)
	}
}

// FlushInterval is ASYNC_FLUSH's flush period now (Config.FlushInterval
// until SetFlushInterval).
func (s *Store) FlushInterval() time.Duration { return time.Duration(s.flushEvery.Load()) }

// SetFlushInterval changes ASYNC_FLUSH's flush period while the store
// runs (a dynamic broker setting): the flusher flushes at once and then
// every d. It bounds what a power loss can take, so it is safe to change
// at any time; d must be positive.
func (s *Store) SetFlushInterval(d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("storage: flush interval %v is not positive", d)
	}
	s.flushEvery.Store(int64(d))
	if s.cfg.FlushDiskType == AsyncFlush { // SYNC_FLUSH flushes per group, not per period
		select {
		case s.flushKick <- struct{}{}:
		default:
		}
	}
	return nil
}

// timedFlush flushes the CommitLog, observing the fsync's time when obs
// has a Fsync histogram. A pass with nothing to flush (an idle
// ASYNC_FLUSH interval) fsyncs nothing and is not observed.
func (s *Store) timedFlush(obs *Observers) (int64, error) {
	if obs == nil || obs.Fsync == nil {
		return s.log.Flush()
	}
	before := s.log.FlushedOffset()
	start := time.Now()
	n, err := s.log.Flush()
	if n > before || err != nil {
		obs.Fsync.Observe(time.Since(start).Seconds())
	}
	return n, err
}

// failQueued answers the appends still queued at close and refuses
// later ones.
func (s *Store) failQueued() {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	for _, r := range s.syncQueue {
		r.err = ErrClosed
	}
	close(s.syncGen)
	s.syncQueue = nil
	s.syncClosed = true
}
