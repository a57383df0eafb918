// Package topics is the protocol-neutral topic registry: one twinmq topic
// is a Kafka topic and a RocketMQ topic (docs/design.md section 4), with its
// queue count and the configs both sides report. The registry is a
// kvlog table on the internal topic "__twinmq_topics" (one JSON Config per
// topic, keyed by name), replayed at Open.
//
// Registry methods are safe for concurrent use. Watchers run after the
// change is durable, outside the registry's lock, in registration order.
//
// # Followers
//
// On a slave the registry's records are the master's, replicated with the
// CommitLog. OpenWith(ctx, store, Options{Follow: true}) opens a follower
// (a kvlog follower underneath): it serves Get, GetByID and List from the
// master's records as they arrive, calls the watchers for each replicated
// change (on the kvlog tail's goroutine), and refuses Create, Update and
// Delete with ErrFollower: RocketMQ and Kafka clients change topics on the
// master. A replicated deletion only forgets the topic: the master's
// deletion record, replicated too, drops the slave's queues. Promote makes
// the registry a writer over exactly the replicated table (failover).
package topics

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/twinmq/twinmq/broker/kvlog"
	"github.com/twinmq/twinmq/storage"
)

// InternalTopic holds the registry's records.
const InternalTopic = "__twinmq_topics"

// InternalPrefix starts the names of broker-internal topics; they are not
// in the registry and clients cannot create them.
const InternalPrefix = "__twinmq_"

// Defaults filled in by Create (Kafka's broker defaults; RocketMQ's perm).
// A topic's retention.ms defaults to the store's retention (the broker's
// log.retention.ms), not to a constant: see Config.RetentionMsSet.
const (
	DefaultRetentionBytes  = -1
	DefaultMaxMessageBytes = 1048588
	DefaultTimestampType   = "CreateTime"
	DefaultCleanupPolicy   = "delete"
	DefaultPerm            = 6 // PERM_READ | PERM_WRITE
	MaxQueues              = 1 << 14
	MaxNameLen             = 249
)

// Errors of the registry.
var (
	ErrTopicExists   = errors.New("topics: topic already exists")
	ErrTopicNotFound = errors.New("topics: topic not found")
	ErrInvalidName   = errors.New("topics: invalid topic name")
	ErrInvalidConfig = errors.New("topics: invalid topic config")
	// ErrFollower refuses a change on a follower (a slave): topics are
	// created, changed and deleted on the master.
	ErrFollower = errors.New("topics: read-only follower: change topics on the master")
)

// Config is one topic.
type Config struct {
	Name   string
	Queues int32
	// ID is the Kafka topic id (KIP-516), random at creation, never zero.
	ID [16]byte
	// RetentionMs is the topic's retention.ms (-1: forever). Unless
	// RetentionMsSet, the topic has none of its own and the registry
	// reports the store's retention here, the broker's log.retention.ms,
	// which is also what the store enforces (Kafka's topic default follows
	// log.retention.hours the same way).
	RetentionMs     int64
	RetentionMsSet  bool
	RetentionBytes  int64
	MaxMessageBytes int32
	// TimestampType is "CreateTime" or "LogAppendTime".
	TimestampType string
	// CleanupPolicy is reported ("delete" or "compact"); compaction is not
	// implemented.
	CleanupPolicy string
	// Perm is RocketMQ's permission bits (2 write, 4 read, 1 inherit).
	Perm      int32
	Internal  bool
	CreatedMs int64
	// Extra holds other configs by their Kafka or RocketMQ name.
	Extra map[string]string
}

// Clone returns a deep copy.
func (c Config) Clone() Config {
	if c.Extra != nil {
		m := make(map[string]string, len(c.Extra))
		for k, v := range c.Extra {
			m[k] = v
		}
		c.Extra = m
	}
	return c
}

// fill sets defaults and checks the config.
func (c *Config) fill(now time.Time) error {
	if err := ValidName(c.Name); err != nil {
		return err
	}
	if c.Queues < 1 || c.Queues > MaxQueues {
		return fmt.Errorf("topics: %s: %d queues: %w", c.Name, c.Queues, ErrInvalidConfig)
	}
	if c.ID == ([16]byte{}) {
		c.ID = newID()
	}
	if c.RetentionMs != 0 {
		c.RetentionMsSet = true
	}
	if c.RetentionBytes == 0 {
		c.RetentionBytes = DefaultRetentionBytes
	}
	if c.MaxMessageBytes == 0 {
		c.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if c.TimestampType == "" {
		c.TimestampType = DefaultTimestampType
	}
	if c.CleanupPolicy == "" {
		c.CleanupPolicy = DefaultCleanupPolicy
	}
	if c.Perm == 0 {
		c.Perm = DefaultPerm
	}
	if c.CreatedMs == 0 {
		c.CreatedMs = now.UnixMilli()
	}
	return c.check()
}

func (c *Config) check() error {
	switch {
	case c.TimestampType != "CreateTime" && c.TimestampType != "LogAppendTime":
		return fmt.Errorf("topics: %s: timestamp type %q: %w", c.Name, c.TimestampType, ErrInvalidConfig)
	case c.MaxMessageBytes < 0 || c.RetentionMs < -1 || c.RetentionBytes < -1:
		return fmt.Errorf("topics: %s: negative size or time: %w", c.Name, ErrInvalidConfig)
	case c.Queues < 1 || c.Queues > MaxQueues:
		return fmt.Errorf("topics: %s: %d queues: %w", c.Name, c.Queues, ErrInvalidConfig)
	}
	return nil
}

// ValidName accepts what both the store and at least one protocol can
// carry: 1..249 bytes, no '/', no control characters, not an internal
// name. Protocol adapters add their own rules ('.' for RocketMQ, '%' for
// Kafka are refused only by the side whose clients cannot carry them).
func ValidName(name string) error {
	if name == "" || len(name) > MaxNameLen || strings.HasPrefix(name, InternalPrefix) || name == "." || name == ".." {
		return fmt.Errorf("topics: %q: %w", name, ErrInvalidName)
	}
	for i := 0; i < len(name); i++ {
		if name[i] < 0x20 || name[i] == '/' || name[i] == 0x7f {
			return fmt.Errorf("topics: %q: %w", name, ErrInvalidName)
		}
	}
	return nil
}

func newID() [16]byte {
	var id [16]byte
	for id == ([16]byte{}) {
		_, _ = rand.Read(id[:]) // crypto/rand.Read never fails (Go 1.24+)
	}
	id[6] = id[6]&0x0f | 0x40 // UUID v4, as Kafka's Uuid.randomUuid
	id[8] = id[8]&0x3f | 0x80
	return id
}

// Registry is the topic table.
type Registry struct {
	store *storage.Store
	kv    *kvlog.Log
	log   *slog.Logger
	now   func() time.Time

	// writeMu serializes mutations (check, persist, publish; on a
	// follower, the replicated changes) so watchers see changes in order.
	// mu guards topics, watchers and opened; it is never held while
	// persisting or calling a watcher. Lock order: writeMu, mu.
	writeMu  sync.Mutex
	mu       sync.RWMutex
	topics   map[string]Config
	byID     map[[16]byte]string
	watchers []*watcher
	opened   bool // a follower's records replayed at Open are in
}

type watcher struct{ fn func(Config, bool) }

// Options configures OpenWith.
type Options struct {
	// Logger; slog.Default() when nil.
	Logger *slog.Logger
	// Follow opens a follower for a slave (package doc, "Followers").
	Follow bool
}

// Open replays the registry from the store.
func Open(ctx context.Context, store *storage.Store, logger *slog.Logger) (*Registry, error) {
	return OpenWith(ctx, store, Options{Logger: logger})
}

// OpenWith replays the registry from the store; with opt.Follow it opens a
// follower, which writes nothing.
func OpenWith(ctx context.Context, store *storage.Store, opt Options) (*Registry, error) {
	logger := opt.Logger
	if logger == nil {
		logger = slog.Default()
	}
	r := &Registry{store: store, log: logger, now: time.Now,
		topics: map[string]Config{}, byID: map[[16]byte]string{}}
	kopt := kvlog.Options{Topic: InternalTopic, Logger: logger}
	if opt.Follow {
		kopt.Follow, kopt.OnChange = true, r.replicated
	}
	kv, err := kvlog.Open(ctx, store, kopt)
	if err != nil {
		return nil, fmt.Errorf("topics: %w", err)
	}
	r.kv = kv
	if !opt.Follow {
		for name, b := range kv.Snapshot() {
			c, err := r.decode(name, b)
			if err != nil {
				kv.Close()
				return nil, err
			}
			r.topics[name] = c
			r.byID[c.ID] = name
		}
	}
	r.mu.Lock()
	r.opened = true
	r.mu.Unlock()
	r.holdSegments()
	return r, nil
}

// decode reads the record of topic name.
func (r *Registry) decode(name string, b []byte) (Config, error) {
	var c Config
	if err := json.Unmarshal(b, &c); err != nil || c.Name != name {
		return Config{}, fmt.Errorf("topics: record of %q: %w (%v)", name, kvlog.ErrCorrupt, err)
	}
	if !c.RetentionMsSet && c.RetentionMs != 0 && c.RetentionMs != oldDefaultRetentionMs {
		// A record from before RetentionMsSet: every topic carried a
		// retention.ms, the old constant default unless a client set
		// one. (A client's own 7 days could not be told apart, and
		// the store deleted segments after its retentionHours anyway.)
		c.RetentionMsSet = true
	}
	r.resolve(&c)
	return c, nil
}

// replicated installs a follower's replicated record (kvlog OnChange): the
// records replayed at Open quietly, later ones with the segment hold
// updated and the watchers called.
func (r *Registry) replicated(name string, b []byte, deleted bool) {
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	var c Config
	if !deleted {
		var err error
		if c, err = r.decode(name, b); err != nil {
			r.log.Error("topics: skipping a replicated record", "topic", name, "err", err)
			return
		}
	}
	r.mu.Lock()
	old, had := r.topics[name]
	if had {
		delete(r.byID, old.ID)
		delete(r.topics, name)
	}
	if !deleted {
		r.topics[name] = c
		r.byID[c.ID] = name
	}
	opened := r.opened
	r.mu.Unlock()
	if !opened || (deleted && !had) {
		return
	}
	r.holdSegments()
	if deleted {
		r.publish(old, true)
		return
	}
	r.publish(c, false)
}

// Following reports whether the registry is a follower.
func (r *Registry) Following() bool { return r.kv.Following() }

// Sync waits until a follower has applied (and its watchers have seen)
// every record the store holds when Sync is called; on a writer it
// returns at once.
func (r *Registry) Sync(ctx context.Context) error {
	if err := r.kv.Sync(ctx); err != nil {
		return fmt.Errorf("topics: %w", err)
	}
	return nil
}

// Promote turns a follower into a writer over the replicated topics
// (failover), once the store accepts appends. Promoting a writer does
// nothing.
func (r *Registry) Promote(ctx context.Context) error {
	if err := r.kv.Promote(ctx); err != nil {
		return fmt.Errorf("topics: %w", err)
	}
	return nil
}

// writable refuses changes on a follower.
func (r *Registry) writable(name string) error {
	if r.kv.Following() {
		return fmt.Errorf("topics: %s: %w", name, ErrFollower)
	}
	return nil
}

// oldDefaultRetentionMs is the retention.ms every topic was created with
// before topics followed the store's retention (7 days, Kafka's default).
const oldDefaultRetentionMs = 7 * 24 * 3600 * 1000

// DefaultRetentionMs is the retention.ms of topics that set none: the
// store's retention age (retentionHours; -1 keeps forever), which Kafka
// clients see as the broker's log.retention.ms and RocketMQ's admin tools
// as fileReservedTime.
func (r *Registry) DefaultRetentionMs() int64 { return r.store.RetentionMs() }

// resolve fills in the default retention.ms of a topic that sets none.
func (r *Registry) resolve(c *Config) {
	if !c.RetentionMsSet {
		c.RetentionMs = r.store.RetentionMs()
	}
}

// holdSegments tells the store to keep CommitLog segments as long as the
// longest retention.ms of any topic needs them (-1: forever), and never
// less than its own retention, which internal topics rely on. The
// CommitLog is shared, so a segment can go only when every topic is done
// with it; shorter retentions move queue starts instead (Retention).
func (r *Registry) holdSegments() {
	keep := r.store.RetentionMs()
	r.mu.RLock()
	for _, c := range r.topics {
		if keep < 0 {
			break
		}
		if c.RetentionMs < 0 {
			keep = -1
		} else {
			keep = max(keep, c.RetentionMs)
		}
	}
	r.mu.RUnlock()
	r.store.SetRetentionMs(keep)
}

// Close stops the registry's background compaction, or a follower's tail.
func (r *Registry) Close() { r.kv.Close() }

// Get returns a topic's config.
func (r *Registry) Get(name string) (Config, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	c, ok := r.topics[name]
	return c.Clone(), ok
}

// GetByID returns the topic with a Kafka topic id.
func (r *Registry) GetByID(id [16]byte) (Config, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	name, ok := r.byID[id]
	if !ok {
		return Config{}, false
	}
	return r.topics[name].Clone(), true
}

// List returns every topic, sorted by name.
func (r *Registry) List() []Config {
	r.mu.RLock()
	out := make([]Config, 0, len(r.topics))
	for _, c := range r.topics {
		out = append(out, c.Clone())
	}
	r.mu.RUnlock()
	slices.SortFunc(out, func(a, b Config) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Create adds a topic, filling defaults (random ID, CreatedMs, Kafka's
// config defaults, perm 6). It returns the stored config.
func (r *Registry) Create(ctx context.Context, cfg Config) (Config, error) {
	cfg = cfg.Clone()
	if err := cfg.fill(r.now()); err != nil {
		return Config{}, err
	}
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	if err := r.writable(cfg.Name); err != nil {
		return Config{}, err
	}
	if _, ok := r.Get(cfg.Name); ok {
		return Config{}, fmt.Errorf("topics: %s: %w", cfg.Name, ErrTopicExists)
	}
	if err := r.persist(ctx, &cfg); err != nil {
		return Config{}, err
	}
	r.log.Info("topics: created", "topic", cfg.Name, "queues", cfg.Queues)
	r.prepareQueues(ctx, cfg)
	r.publish(cfg, false)
	return cfg.Clone(), nil
}

// prepareQueues creates the topic's ConsumeQueues ahead of its first
// messages (storage.Store.PrepareQueues). A failure is only logged: the
// store creates a queue at its first message anyway.
func (r *Registry) prepareQueues(ctx context.Context, cfg Config) {
	if err := r.store.PrepareQueues(ctx, cfg.Name, cfg.Queues); err != nil {
		r.log.Warn("topics: creating the topic's queues ahead of its messages", "topic", cfg.Name, "err", err)
	}
}

// Update changes a topic with fn (which may refuse with an error). Name
// and ID cannot change.
func (r *Registry) Update(ctx context.Context, name string, fn func(*Config) error) (Config, error) {
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	if err := r.writable(name); err != nil {
		return Config{}, err
	}
	old, ok := r.Get(name)
	if !ok {
		return Config{}, fmt.Errorf("topics: %s: %w", name, ErrTopicNotFound)
	}
	cfg := old.Clone()
	if err := fn(&cfg); err != nil {
		return Config{}, err
	}
	cfg.Name, cfg.ID, cfg.CreatedMs = old.Name, old.ID, old.CreatedMs
	if err := cfg.check(); err != nil {
		return Config{}, err
	}
	if err := r.persist(ctx, &cfg); err != nil {
		return Config{}, err
	}
	if cfg.Queues > old.Queues {
		r.prepareQueues(ctx, cfg)
	}
	r.publish(cfg, false)
	return cfg.Clone(), nil
}

// Delete removes a topic and its queues from the store.
func (r *Registry) Delete(ctx context.Context, name string) error {
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	if err := r.writable(name); err != nil {
		return err
	}
	cfg, ok := r.Get(name)
	if !ok {
		return fmt.Errorf("topics: %s: %w", name, ErrTopicNotFound)
	}
	if err := r.kv.Delete(ctx, name); err != nil {
		return fmt.Errorf("topics: delete %s: %w", name, err)
	}
	r.mu.Lock()
	delete(r.topics, name)
	delete(r.byID, cfg.ID)
	r.mu.Unlock()
	r.holdSegments()
	r.log.Info("topics: deleted", "topic", name)
	err := r.store.DeleteTopic(name)
	r.publish(cfg, true)
	if err != nil {
		return fmt.Errorf("topics: delete %s queues: %w", name, err)
	}
	return nil
}

// persist resolves c's defaults, writes it and installs it; writeMu held.
func (r *Registry) persist(ctx context.Context, c *Config) error {
	r.resolve(c)
	cfg, rec := *c, *c
	if !rec.RetentionMsSet {
		rec.RetentionMs = 0 // the store's, whatever it is when read back
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("topics: encode %s: %w", cfg.Name, err)
	}
	if err := r.kv.Put(ctx, cfg.Name, b); err != nil {
		return fmt.Errorf("topics: persist %s: %w", cfg.Name, err)
	}
	r.mu.Lock()
	r.topics[cfg.Name] = cfg
	r.byID[cfg.ID] = cfg.Name
	r.mu.Unlock()
	r.holdSegments()
	return nil
}

// Watch calls fn after every change (deleted reports a deletion), in
// order, on the goroutine that made the change (on a follower, the one
// that applied the replicated record). fn must not call the registry's
// mutating methods, Promote or Close. The returned func stops the watch.
func (r *Registry) Watch(fn func(cfg Config, deleted bool)) (stop func()) {
	w := &watcher{fn: fn}
	r.mu.Lock()
	r.watchers = append(r.watchers, w)
	r.mu.Unlock()
	return func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.watchers = slices.DeleteFunc(r.watchers, func(x *watcher) bool { return x == w })
	}
}

// publish runs the watchers; writeMu held, mu not.
func (r *Registry) publish(cfg Config, deleted bool) {
	r.mu.RLock()
	ws := slices.Clone(r.watchers)
	r.mu.RUnlock()
	for _, w := range ws {
		w.fn(cfg.Clone(), deleted)
	}
}
