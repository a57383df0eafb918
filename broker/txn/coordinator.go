package txn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/twinmq/twinmq/broker/kvlog"
	"github.com/twinmq/twinmq/storage"
)

// InternalTopic holds the coordinator's table (one kvlog record per
// transactional id).
const InternalTopic = "__twinmq_transactions"

// MarkerWriter writes a transaction's COMMIT or ABORT marker to each of
// parts for producer id pid at epoch, and returns once every marker is
// durable and visible. It is called again with the same arguments after
// a failure or a restart, so a marker may be written twice.
type MarkerWriter func(ctx context.Context, pid int64, epoch int16, commit bool, parts []Partition) error

// OffsetWriter stores the consumer offsets a committed transaction
// carried; like MarkerWriter it may be called again with the same ones.
type OffsetWriter func(ctx context.Context, offs []Offset) error

// Config configures a Coordinator. Zero values have working defaults.
type Config struct {
	// MaxTimeout is transaction.max.timeout.ms (default 15 minutes): a
	// producer asking for a longer transaction timeout is refused.
	MaxTimeout time.Duration
	// CheckInterval is how often open transactions are checked against
	// their timeout and unfinished completions retried (Kafka's
	// transaction.abort.timed.out.transaction.cleanup.interval.ms,
	// default 10 s).
	CheckInterval time.Duration
	// IDExpiration is transactional.id.expiration.ms (default 7 days):
	// an id unused that long, with no transaction open, is forgotten.
	IDExpiration time.Duration
	Logger       *slog.Logger
	Now          func() time.Time
}

func (c *Config) validate() error {
	if c.MaxTimeout <= 0 {
		c.MaxTimeout = 15 * time.Minute
	}
	if c.CheckInterval <= 0 {
		c.CheckInterval = 10 * time.Second
	}
	if c.IDExpiration <= 0 {
		c.IDExpiration = 7 * 24 * time.Hour
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}

// Coordinator is the driver of the core: the table over kvlog, one
// request at a time per transactional id, markers and offsets written
// through the adapter's writers. Lock order: an entry's mu, then the
// adapter's partition locks (markers), then mu; mu is never held while
// taking another lock.
type Coordinator struct {
	cfg Config
	kv  *kvlog.Log
	log *slog.Logger

	mu      sync.Mutex // guards ids and pending
	ids     map[string]*entry
	pending map[offsetKey]string // offsets of open transactions -> transactional id

	markers  MarkerWriter
	offsets  OffsetWriter
	allocate func() int64
	stop     chan struct{}
	done     chan struct{}
}

// entry is one transactional id; mu is held across a step, its
// persistence and the markers it calls for, so one id's requests never
// interleave. meta is nil for an id not yet initialized; it is written
// with both mu and Coordinator.mu held, so either lock reads it.
type entry struct {
	mu   sync.Mutex
	meta *Meta
}

type offsetKey struct {
	group, topic, owner string
	partition           int32
}

// Open replays the table from the store. Call Start before serving.
func Open(ctx context.Context, store *storage.Store, cfg Config) (*Coordinator, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	kv, err := kvlog.Open(ctx, store, kvlog.Options{Topic: InternalTopic, Logger: cfg.Logger})
	if err != nil {
		return nil, fmt.Errorf("txn: %w", err)
	}
	c := &Coordinator{cfg: cfg, kv: kv, log: cfg.Logger, ids: map[string]*entry{}, pending: map[offsetKey]string{}}
	for id, v := range kv.Snapshot() {
		m, err := DecodeMeta(id, v)
		if err != nil {
			c.log.Warn("txn: skipping a record that does not decode", "transactionalId", id, "err", err)
			continue
		}
		c.ids[id] = &entry{meta: &m}
		c.indexOffsets(id, nil, &m)
	}
	return c, nil
}

// Writers are what the protocol adapter supplies to a Coordinator.
type Writers struct {
	Markers MarkerWriter
	Offsets OffsetWriter
	// Allocate returns a fresh producer id (shared with idempotent
	// producers, so that ids never collide).
	Allocate func() int64
}

// Start completes the transactions a stop left in a Prepare state, then
// checks timeouts every CheckInterval until Close. Call it once, before
// any request.
func (c *Coordinator) Start(ctx context.Context, w Writers) {
	c.markers, c.offsets, c.allocate = w.Markers, w.Offsets, w.Allocate
	c.stop, c.done = make(chan struct{}), make(chan struct{})
	c.sweep(ctx)
	go c.loop()
}

// Close stops the timeout checks and closes the table.
func (c *Coordinator) Close() {
	if c.stop != nil {
		close(c.stop)
		<-c.done
	}
	c.kv.Close()
}

func (c *Coordinator) loop() {
	defer close(c.done)
	t := time.NewTicker(c.cfg.CheckInterval)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), c.cfg.CheckInterval*3)
			c.sweep(ctx)
			cancel()
		}
	}
}

// sweep retries unfinished completions, aborts expired transactions and
// forgets idle transactional ids.
func (c *Coordinator) sweep(ctx context.Context) {
	c.mu.Lock()
	ids := make([]string, 0, len(c.ids))
	for id := range c.ids {
		ids = append(ids, id)
	}
	c.mu.Unlock()
	for _, id := range ids {
		e := c.lock(id)
		err := c.sweepLocked(ctx, e)
		c.unlock(id, e)
		if err != nil {
			c.log.Warn("txn: completing a transaction", "transactionalId", id, "err", err)
		}
	}
}

func (c *Coordinator) sweepLocked(ctx context.Context, e *entry) error {
	if e.meta == nil {
		return nil
	}
	if Idle(e.meta, c.nowMs(), c.cfg.IDExpiration.Milliseconds()) {
		if err := c.kv.Delete(ctx, e.meta.ID); err != nil {
			return fmt.Errorf("txn: %q: %w", e.meta.ID, err)
		}
		c.mu.Lock()
		e.meta = nil // unlock drops the entry
		c.mu.Unlock()
		return nil
	}
	if n, ok := Expire(e.meta, c.nowMs()); ok {
		c.log.Info("txn: aborting a transaction past its timeout", "transactionalId", n.ID,
			"producerId", n.ProducerID, "timeoutMs", n.TimeoutMs)
		if err := c.persistLocked(ctx, e, n); err != nil {
			return err
		}
	}
	return c.completeLocked(ctx, e)
}

func (c *Coordinator) nowMs() int64 { return c.cfg.Now().UnixMilli() }

// lock returns id's entry, locked; one is made for an id not seen yet.
// unlock drops it again if it is still uninitialized, so requests naming
// ids that were never initialized (bad input) leave nothing behind. A
// caller that waited for an entry dropped meanwhile takes the current one.
func (c *Coordinator) lock(id string) *entry {
	for {
		c.mu.Lock()
		e := c.ids[id]
		if e == nil {
			e = &entry{}
			c.ids[id] = e
		}
		c.mu.Unlock()
		e.mu.Lock()
		c.mu.Lock()
		current := c.ids[id] == e
		c.mu.Unlock()
		if current {
			return e
		}
		e.mu.Unlock()
	}
}

func (c *Coordinator) unlock(id string, e *entry) {
	c.mu.Lock()
	if e.meta == nil && c.ids[id] == e {
		delete(c.ids, id)
	}
	c.mu.Unlock()
	e.mu.Unlock()
}

// persistLocked writes next and makes it the entry's state; e.mu held.
func (c *Coordinator) persistLocked(ctx context.Context, e *entry, next Meta) error {
	if err := c.kv.Put(ctx, next.ID, AppendMeta(nil, &next)); err != nil {
		return fmt.Errorf("txn: %q: %w", next.ID, err)
	}
	c.mu.Lock()
	c.indexOffsets(next.ID, e.meta, &next)
	e.meta = &next
	c.mu.Unlock()
	return nil
}

// indexOffsets replaces old's pending offsets by next's; mu held.
func (c *Coordinator) indexOffsets(id string, old, next *Meta) {
	if old != nil {
		for _, o := range old.Offsets {
			delete(c.pending, offsetKey{o.Group, o.Topic, o.Owner, o.Partition})
		}
	}
	if next.State == Ongoing || next.State == PrepareCommit {
		for _, o := range next.Offsets {
			c.pending[offsetKey{o.Group, o.Topic, o.Owner, o.Partition}] = id
		}
	}
}

// completeLocked writes the markers (and, for a commit, the offsets) of
// a Prepare state, then records its Complete state; e.mu held.
func (c *Coordinator) completeLocked(ctx context.Context, e *entry) error {
	m := e.meta
	if m == nil || (m.State != PrepareCommit && m.State != PrepareAbort) {
		return nil
	}
	commit := m.State == PrepareCommit
	if len(m.Partitions) > 0 {
		if err := c.markers(ctx, m.ProducerID, m.Epoch, commit, m.Partitions); err != nil {
			return fmt.Errorf("txn: %q: markers: %w", m.ID, err)
		}
	}
	if commit && len(m.Offsets) > 0 {
		if err := c.offsets(ctx, m.Offsets); err != nil {
			return fmt.Errorf("txn: %q: offsets: %w", m.ID, err)
		}
	}
	return c.persistLocked(ctx, e, Complete(m, c.nowMs()))
}

// do runs step on id's state under its lock and persists what it returns.
func (c *Coordinator) do(ctx context.Context, id string, step func(m *Meta) (Meta, error)) error {
	e := c.lock(id)
	defer c.unlock(id, e)
	n, err := step(e.meta)
	if errors.Is(err, errUnchanged) {
		return nil
	}
	if err != nil {
		return err
	}
	return c.persistLocked(ctx, e, n)
}

// InitProducer answers an InitProducerId with a transactional id: it
// aborts an open transaction (fencing its producer), then bumps the
// epoch, and returns the producer id and epoch to use.
func (c *Coordinator) InitProducer(ctx context.Context, id string, req InitRequest) (int64, int16, error) {
	e := c.lock(id)
	defer c.unlock(id, e)
	// A completion left unfinished (markers failed) is retried first.
	if err := c.completeLocked(ctx, e); err != nil {
		return -1, -1, err
	}
	maxMs := int32(min(c.cfg.MaxTimeout.Milliseconds(), 1<<31-1))
	for range 2 {
		n, abort, err := Init(e.meta, id, req, maxMs, c.nowMs(), c.allocate)
		if err != nil {
			return -1, -1, err
		}
		if err := c.persistLocked(ctx, e, n); err != nil {
			return -1, -1, err
		}
		if !abort {
			return n.ProducerID, n.Epoch, nil
		}
		if err := c.completeLocked(ctx, e); err != nil {
			return -1, -1, err
		}
		// The fencing bumped the epoch: the producer asked to keep its
		// id and epoch, which are now the aborting ones.
		req.ProducerID, req.Epoch = -1, -1
	}
	return -1, -1, ErrConcurrent
}

// AddPartitions adds partitions to id's transaction: v2 is a partition
// leader adding a Produce v12+ batch's partition (KIP-890 part 2).
func (c *Coordinator) AddPartitions(ctx context.Context, id string, pid int64, epoch int16, parts []Partition, v2 bool) error {
	return c.do(ctx, id, func(m *Meta) (Meta, error) {
		if m != nil && m.State == Ongoing && Verify(m, pid, epoch, parts) == nil {
			return Meta{}, errUnchanged
		}
		return AddPartitions(m, pid, epoch, parts, v2, c.nowMs())
	})
}

// errUnchanged short-cuts a step with nothing to write.
var errUnchanged = errors.New("txn: unchanged")

// Verify checks that id's open transaction holds parts (KIP-890 part 1).
// It takes only the coordinator's map lock, never an entry's, so the
// adapter may call it under its partition lock while an EndTxn holding
// the entry waits for that lock to write a marker: a batch verified
// there is appended before the partition's marker, and one checked after
// the EndTxn began sees the Prepare state and is refused.
func (c *Coordinator) Verify(id string, pid int64, epoch int16, parts []Partition) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var m *Meta
	if e := c.ids[id]; e != nil {
		m = e.meta
	}
	return Verify(m, pid, epoch, parts)
}

// AddOffsets adds a consumer group to id's transaction.
func (c *Coordinator) AddOffsets(ctx context.Context, id string, pid int64, epoch int16, group string) error {
	return c.do(ctx, id, func(m *Meta) (Meta, error) {
		if m != nil && m.State == Ongoing && check(m, pid, epoch) == nil && slices.Contains(m.Groups, group) {
			return Meta{}, errUnchanged
		}
		return AddOffsets(m, pid, epoch, group, c.nowMs())
	})
}

// CommitOffsets records offsets that id's transaction commits; implicit
// adds the group to it (TxnOffsetCommit v5+, KIP-890 part 2).
func (c *Coordinator) CommitOffsets(ctx context.Context, id string, pid int64, epoch int16, group string, offs []Offset, implicit bool) error {
	return c.do(ctx, id, func(m *Meta) (Meta, error) {
		return CommitOffsets(m, pid, epoch, group, offs, implicit, c.nowMs())
	})
}

// EndTxn commits or aborts id's transaction: it returns once every
// marker is written (and, for a commit, the offsets stored), with the
// producer id and epoch the producer goes on with (KIP-890 part 2, v2:
// bumped by every EndTxn).
func (c *Coordinator) EndTxn(ctx context.Context, id string, pid int64, epoch int16, commit, v2 bool) (int64, int16, error) {
	e := c.lock(id)
	defer c.unlock(id, e)
	n, markers, err := End(e.meta, pid, epoch, commit, v2, c.nowMs(), c.allocate)
	if err != nil {
		return -1, -1, err
	}
	if markers {
		// A retry of a Prepare state (its markers failed) has nothing new
		// to record: it finishes the completion.
		if !preparing(e.meta.State) {
			if err := c.persistLocked(ctx, e, n); err != nil {
				return -1, -1, err
			}
		}
		if err := c.completeLocked(ctx, e); err != nil {
			return -1, -1, err
		}
	}
	return e.meta.ProducerID, e.meta.Epoch, nil
}

// Abort aborts id's open transaction for an operator, fencing its
// producer (kafka-transactions.sh abort, for a hanging transaction).
func (c *Coordinator) Abort(ctx context.Context, id string) error {
	e := c.lock(id)
	defer c.unlock(id, e)
	if e.meta == nil {
		return ErrNotFound
	}
	if e.meta.State == PrepareAbort || e.meta.State == PrepareCommit {
		return c.completeLocked(ctx, e)
	}
	n, ok := ForceAbort(e.meta, c.nowMs())
	if !ok {
		return ErrInvalidState
	}
	if err := c.persistLocked(ctx, e, n); err != nil {
		return err
	}
	return c.completeLocked(ctx, e)
}

// Describe returns a copy of id's state.
func (c *Coordinator) Describe(id string) (Meta, bool) {
	c.mu.Lock()
	e := c.ids[id]
	c.mu.Unlock()
	if e == nil {
		return Meta{}, false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.meta == nil {
		return Meta{}, false
	}
	return clone(e.meta), true
}

// List returns every known transactional id's state, sorted by id.
func (c *Coordinator) List() []Meta {
	c.mu.Lock()
	ids := make([]string, 0, len(c.ids))
	for id := range c.ids {
		ids = append(ids, id)
	}
	c.mu.Unlock()
	slices.Sort(ids)
	out := make([]Meta, 0, len(ids))
	for _, id := range ids {
		if m, ok := c.Describe(id); ok {
			out = append(out, m)
		}
	}
	return out
}

// Pending reports whether an open transaction holds an uncommitted offset
// of (group, topic, partition): an OffsetFetch that requires stable
// offsets (KIP-447) is told to retry.
func (c *Coordinator) Pending(group, topic string, partition int32) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.pending[offsetKey{group, topic, "", partition}]
	return ok
}
