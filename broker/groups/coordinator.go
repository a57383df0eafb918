package groups

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/twinmq/twinmq/broker/kvlog"
	"github.com/twinmq/twinmq/broker/offsets"
	"github.com/twinmq/twinmq/storage"
)

// InternalTopic holds the groups' durable records (a kvlog table).
const InternalTopic = "__twinmq_groups"

// DefaultInitialRebalanceDelay is Kafka's group.initial.rebalance.delay.ms.
const DefaultInitialRebalanceDelay = 3 * time.Second

// CoordinatorConfig configures a Coordinator. Zero values have defaults.
type CoordinatorConfig struct {
	// InitialRebalanceDelay: 0 means DefaultInitialRebalanceDelay, a
	// negative value means no delay (tests).
	InitialRebalanceDelay time.Duration
	// MinSessionTimeout and MaxSessionTimeout are
	// group.{min,max}.session.timeout.ms (default 6 s and 30 min).
	MinSessionTimeout time.Duration
	MaxSessionTimeout time.Duration
	// MaxSize is group.max.size (0: unlimited).
	MaxSize int
	// ConsumerSessionTimeout and ConsumerHeartbeatInterval are
	// group.consumer.session.timeout.ms and
	// group.consumer.heartbeat.interval.ms for KIP-848 groups (45 s, 5 s).
	ConsumerSessionTimeout    time.Duration
	ConsumerHeartbeatInterval time.Duration
	Logger                    *slog.Logger
	Now                       func() time.Time
	// Follow opens a follower for a slave (package doc, "Followers").
	Follow bool
}

func (c *CoordinatorConfig) validate() {
	switch {
	case c.InitialRebalanceDelay == 0:
		c.InitialRebalanceDelay = DefaultInitialRebalanceDelay
	case c.InitialRebalanceDelay < 0:
		c.InitialRebalanceDelay = 0
	}
	if c.MinSessionTimeout <= 0 {
		c.MinSessionTimeout = 6 * time.Second
	}
	if c.MaxSessionTimeout <= 0 {
		c.MaxSessionTimeout = 30 * time.Minute
	}
	if c.ConsumerSessionTimeout <= 0 {
		c.ConsumerSessionTimeout = 45 * time.Second
	}
	if c.ConsumerHeartbeatInterval <= 0 {
		c.ConsumerHeartbeatInterval = 5 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Coordinator is the driver of the group cores: each group has its own
// mutex and timer; parked JoinGroup and SyncGroup calls are callbacks run
// outside every lock. Lock order: an entry's mu is never taken while
// Coordinator.mu is held, and Coordinator.mu is taken under an entry's mu
// only in forget. A classic entry's mu and a consumer entry's mu are
// never held together.
type Coordinator struct {
	cfg     CoordinatorConfig
	core    Config
	ccfg    ConsumerConfig
	kv      *kvlog.Log
	offsets *offsets.Table
	log     *slog.Logger

	mu        sync.Mutex // guards groups, consumers, closed and following
	groups    map[string]*entry
	consumers map[string]*centry // KIP-848 groups
	closed    bool
	following bool // a slave's: no groups until Promote
}

// entry drives one group. mu guards everything below it.
type entry struct {
	c  *Coordinator
	id string

	mu    sync.Mutex
	g     *Group
	next  Token
	joins map[Token]func(JoinResult)
	syncs map[Token]func(SyncResult)
	timer *time.Timer
}

// Open replays the group records and returns the coordinator. Committed
// offsets are read and written through offs.
func Open(ctx context.Context, store *storage.Store, offs *offsets.Table, cfg CoordinatorConfig) (*Coordinator, error) {
	cfg.validate()
	kv, err := kvlog.Open(ctx, store, kvlog.Options{Topic: InternalTopic, Logger: cfg.Logger, Follow: cfg.Follow})
	if err != nil {
		return nil, fmt.Errorf("groups: %w", err)
	}
	c := &Coordinator{cfg: cfg, kv: kv, offsets: offs, log: cfg.Logger, groups: map[string]*entry{},
		consumers: map[string]*centry{}}
	c.core = Config{
		InitialRebalanceDelay: cfg.InitialRebalanceDelay, MinSessionTimeout: cfg.MinSessionTimeout,
		MaxSessionTimeout: cfg.MaxSessionTimeout, MaxSize: cfg.MaxSize, NewMemberID: newMemberID,
	}
	c.ccfg = ConsumerConfig{SessionTimeout: cfg.ConsumerSessionTimeout,
		HeartbeatInterval: cfg.ConsumerHeartbeatInterval, MaxSize: cfg.MaxSize, NewMemberID: newMemberID}
	if cfg.Follow {
		c.following = true
		return c, nil
	}
	c.groups, c.consumers = c.restore(cfg.Now())
	return c, nil
}

// restore rebuilds the groups from their records, each with fresh sessions.
func (c *Coordinator) restore(now time.Time) (map[string]*entry, map[string]*centry) {
	groups, consumers := map[string]*entry{}, map[string]*centry{}
	for id, b := range c.kv.Snapshot() {
		if g, ok := isConsumerKey(id); ok && len(b) > 0 && b[0] == consumerRecordTag {
			c.restoreConsumer(consumers, g, b, now)
			continue
		}
		rec, err := DecodeRecord(b)
		if err != nil {
			// One bad record must not stop the broker or other groups.
			c.log.Error("groups: skipping corrupt group record", "group", id, "err", err)
			continue
		}
		e := c.newEntry(id, Restore(id, c.core, rec, now))
		e.mu.Lock()
		e.armLocked()
		e.mu.Unlock()
		groups[id] = e
	}
	return groups, consumers
}

// Following reports whether the coordinator is a follower.
func (c *Coordinator) Following() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.following
}

// Promote turns a follower into the coordinator (failover), once the
// store accepts appends: the group records replicated so far are restored
// as a restart restores them (recorded generations and assignments,
// fresh sessions), so members that keep heartbeating carry on. Promoting
// a coordinator does nothing.
func (c *Coordinator) Promote(ctx context.Context) error {
	if !c.Following() {
		return nil
	}
	if err := c.kv.Promote(ctx); err != nil {
		return fmt.Errorf("groups: %w", err)
	}
	groups, consumers := c.restore(c.cfg.Now())
	c.mu.Lock()
	installed := !c.closed && c.following
	if installed {
		c.groups, c.consumers, c.following = groups, consumers, false
	}
	closed := c.closed
	c.mu.Unlock()
	if !installed { // closed meanwhile, or promoted by another call
		for _, e := range groups {
			e.mu.Lock()
			if e.timer != nil {
				e.timer.Stop()
			}
			e.mu.Unlock()
		}
		c.closeConsumers(slices.Collect(maps.Values(consumers)))
	}
	if closed {
		return ErrCoordinatorNotAvailable
	}
	return nil
}

// newMemberID is Kafka's "clientId-UUID".
func newMemberID(clientID string) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return clientID + "-" + h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func (c *Coordinator) newEntry(id string, g *Group) *entry {
	return &entry{c: c, id: id, g: g, joins: map[Token]func(JoinResult){}, syncs: map[Token]func(SyncResult){}}
}

// Close stops every timer and the record table. Parked calls are dropped.
func (c *Coordinator) Close() {
	c.mu.Lock()
	c.closed = true
	es := make([]*entry, 0, len(c.groups))
	for _, e := range c.groups {
		es = append(es, e)
	}
	ces := make([]*centry, 0, len(c.consumers))
	for _, e := range c.consumers {
		ces = append(ces, e)
	}
	c.mu.Unlock()
	c.closeConsumers(ces)
	for _, e := range es {
		e.mu.Lock()
		if e.timer != nil {
			e.timer.Stop()
		}
		e.mu.Unlock()
	}
	c.kv.Close()
}

// lookup returns a group's entry, creating an Empty group if create is set.
func (c *Coordinator) lookup(id string, create bool) (*entry, error) {
	if id == "" {
		return nil, ErrInvalidGroupID
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.following {
		return nil, ErrCoordinatorNotAvailable
	}
	e, ok := c.groups[id]
	if !ok && create {
		e = c.newEntry(id, New(id, c.core))
		c.groups[id] = e
	}
	if e == nil {
		return nil, ErrGroupNotFound
	}
	return e, nil
}

// forget drops a Dead group's entry; called with e.mu held.
func (c *Coordinator) forget(e *entry) {
	c.mu.Lock()
	if c.groups[e.id] == e {
		delete(c.groups, e.id)
	}
	c.mu.Unlock()
}

// do runs fn on the live group of id under its lock, then delivers the
// replies fn's Ready holds. A group that died meanwhile is looked up again.
func (c *Coordinator) do(ctx context.Context, id string, create bool, fn func(e *entry, now time.Time) Ready) error {
	for range 3 {
		e, err := c.lookup(id, create)
		if err != nil {
			return err
		}
		e.mu.Lock()
		if e.g.State == Dead {
			e.mu.Unlock()
			continue
		}
		deliver := e.applyLocked(ctx, fn(e, c.cfg.Now()))
		e.mu.Unlock()
		deliver()
		return nil
	}
	return ErrCoordinatorNotAvailable
}

// applyLocked persists the record if the Ready asks for it, re-arms the
// timer and returns a function that runs the callbacks (outside the lock).
func (e *entry) applyLocked(ctx context.Context, rd Ready) func() {
	if rd.Persist {
		if err := e.c.kv.Put(ctx, e.id, AppendRecord(nil, e.g.Record())); err != nil {
			e.c.log.Error("groups: persisting group", "group", e.id, "err", err)
			// The assignment is not durable: the members must not take
			// it; they rejoin.
			for i := range rd.Syncs {
				if rd.Syncs[i].Result.Err == nil {
					rd.Syncs[i].Result = SyncResult{Err: fmt.Errorf("%w: %w", ErrCoordinatorNotAvailable, err)}
				}
			}
		}
	}
	e.armLocked()
	var calls []func()
	for _, j := range rd.Joins {
		if cb, ok := e.joins[j.Token]; ok {
			delete(e.joins, j.Token)
			res := j.Result
			calls = append(calls, func() { cb(res) })
		}
	}
	for _, s := range rd.Syncs {
		if cb, ok := e.syncs[s.Token]; ok {
			delete(e.syncs, s.Token)
			res := s.Result
			calls = append(calls, func() { cb(res) })
		}
	}
	return func() {
		for _, f := range calls {
			f()
		}
	}
}

// armLocked sets the group's timer to its core's next deadline.
func (e *entry) armLocked() {
	if e.timer != nil {
		e.timer.Stop()
		e.timer = nil
	}
	at, ok := e.g.Deadline()
	if !ok {
		return
	}
	e.timer = time.AfterFunc(max(at.Sub(e.c.cfg.Now()), 0), e.tick)
}

// tick runs the core's timers.
func (e *entry) tick() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e.mu.Lock()
	if e.g.State == Dead {
		e.mu.Unlock()
		return
	}
	deliver := e.applyLocked(ctx, e.g.Tick(e.c.cfg.Now()))
	e.mu.Unlock()
	deliver()
}

func (e *entry) token() Token {
	e.next++
	return e.next
}

// Join handles a JoinGroup; reply runs once, maybe after Join returns
// (when the rebalance completes), on another goroutine.
func (c *Coordinator) Join(ctx context.Context, group string, req JoinRequest, reply func(JoinResult)) {
	if c.consumerActive(group) {
		reply(JoinResult{Err: ErrInconsistentProtocol, MemberID: req.MemberID, Generation: -1})
		return
	}
	err := c.do(ctx, group, true, func(e *entry, now time.Time) Ready {
		tok := e.token()
		e.joins[tok] = reply
		return e.g.Join(now, tok, req)
	})
	if err != nil {
		reply(JoinResult{Err: err, MemberID: req.MemberID, Generation: -1})
	}
}

// Sync handles a SyncGroup; reply runs once, maybe later.
func (c *Coordinator) Sync(ctx context.Context, group string, req SyncRequest, reply func(SyncResult)) {
	err := c.do(ctx, group, false, func(e *entry, now time.Time) Ready {
		tok := e.token()
		e.syncs[tok] = reply
		return e.g.Sync(now, tok, req)
	})
	if errors.Is(err, ErrGroupNotFound) {
		err = ErrUnknownMemberID
	}
	if err != nil {
		reply(SyncResult{Err: err})
	}
}

// Heartbeat handles a Heartbeat.
func (c *Coordinator) Heartbeat(ctx context.Context, group string, req HeartbeatRequest) error {
	var herr error
	err := c.do(ctx, group, false, func(e *entry, now time.Time) Ready {
		herr = e.g.Heartbeat(now, req)
		return Ready{}
	})
	if errors.Is(err, ErrGroupNotFound) {
		return ErrUnknownMemberID
	}
	if err != nil {
		return err
	}
	return herr
}

// Leave handles a LeaveGroup; one error per member.
func (c *Coordinator) Leave(ctx context.Context, group string, ms []LeaveMember) ([]error, error) {
	var errs []error
	err := c.do(ctx, group, false, func(e *entry, now time.Time) Ready {
		var rd Ready
		errs, rd = e.g.Leave(now, ms)
		return rd
	})
	if errors.Is(err, ErrGroupNotFound) {
		err = ErrUnknownMemberID
	}
	return errs, err
}

// sortedIDs returns the known group ids.
func (c *Coordinator) sortedIDs() []string {
	c.mu.Lock()
	ids := make([]string, 0, len(c.groups))
	for id := range c.groups {
		ids = append(ids, id)
	}
	c.mu.Unlock()
	slices.Sort(ids)
	return ids
}
