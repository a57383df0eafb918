package log

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Cache keeps what an adapter made of stored entries written by the other
// protocol, so that readers of the same offsets convert them once
// (docs/design.md section 3: conversion only when one protocol reads the
// other's entries; docs/cross-protocol.md has the figures). One design
// serves both directions:
//
//   - a Kafka fetch of RocketMQ-produced messages caches the record batch
//     it converted a run of messages into (broker/kafkaapi), so several
//     consumer groups, a re-read or the fetch after a read-ahead find it;
//   - a RocketMQ pull of Kafka-produced batches caches the messages of the
//     rest of a batch it stopped in the middle of (broker/remotingapi): a
//     pull returns at most 32 messages and a batch often holds more, so the
//     pulls after the first are served from here instead of reading and
//     checking the whole batch again.
//
// Keying: an item covers the offsets [First, End) of one queue, and the
// items of a queue never overlap (a new one replaces those it overlaps),
// so the one holding an offset is found by binary search. It remembers
// the CommitLog offset (Phys) of the entry each offset came from; a hit
// must match the Phys the reader found at that offset (its own read, or
// Log.EntryAt), so a topic deleted and created again (offsets restart,
// the CommitLog never does) is never served stale bytes, and an item
// starting below the queue's start (retention, DeleteRecords) is dropped
// instead of served.
//
// Bounds and eviction: at most MaxBytes of items (the cost the adapter
// gives, plus 8 bytes per Phys), least recently used first; an item of
// more than a quarter of it is not cached. An item may point into the
// mapped CommitLog (a large body left in place) under a Hold; a Hold pins
// whole segments, even ones retention deleted, so such an item lives at
// most HeldTTL, and a sweep drops it then even if no reader comes. A
// reader served such an item gets a Hold of its own, so eviction never
// unmaps bytes it is still writing; an item's bytes are never changed or
// reused once inserted (an evicted one a reader still writes stays alive
// through that reader's reference).
//
// Single flight (cache_flight.go) and admission (cache_admit.go) are the
// same for both directions; Stats has the same shape for both.
//
// mu guards everything but the counters; it is never held while
// converting or while calling out of the package.
type Cache[V any] struct {
	cfg CacheConfig

	mu    sync.Mutex
	items map[QueueKey][]*Cached[V] // sorted by First
	lru   Cached[V]                 // sentinel: lru.next is the most recent
	bytes int64
	held  int         // items with a Hold
	sweep *time.Timer // armed while held > 0
	// closed: Close ran; nothing is cached any more.
	closed bool
	// flights are conversions under way (cache_flight.go); nflights
	// counts them, read without mu.
	flights  map[QueueKey][]*Flight
	nflights atomic.Int32
	// seen and servedAt: admission (cache_admit.go).
	seen     []seenRange
	servedAt map[QueueKey]time.Time
	// n counts the items, read without mu: a reader of a queue that
	// never had an item skips the lock.
	n atomic.Int32

	hits, misses, converts, waits atomic.Int64
}

// QueueKey names a queue (a Kafka partition).
type QueueKey struct {
	Topic string
	Queue int32
}

// CacheConfig configures a Cache. Zero values have defaults.
type CacheConfig struct {
	// MaxBytes bounds the bytes cached (default 64 MiB).
	MaxBytes int64
	// Doorkeeper admits a range only once it was converted recently, or
	// once the queue has several readers (cache_admit.go); without it
	// every conversion offered is cached.
	Doorkeeper bool
	// HeldTTL bounds the life of an item holding CommitLog bytes (default
	// 10 s).
	HeldTTL time.Duration
	// FlightWait bounds one wait for another reader's conversion (default
	// 1 s: a 1 MiB batch converts in about a millisecond).
	FlightWait time.Duration
}

// DefaultCacheBytes is a cache's size when its config leaves it 0.
const DefaultCacheBytes = 64 << 20

// Cached is one item: what an adapter made of the stored entries of the
// offsets [First, End) of Key. It is read-only once inserted.
type Cached[V any] struct {
	Key        QueueKey
	First, End int64
	Value      V

	phys       []int64 // per offset from First, or one for all
	cost       int64
	hold       *Hold
	expires    time.Time // zero: no Hold, no expiry
	prev, next *Cached[V]
	onLRU      bool
}

// physAt is the Phys of the entry offset off came from.
func (b *Cached[V]) physAt(off int64) int64 {
	if len(b.phys) == 1 {
		return b.phys[0]
	}
	return b.phys[off-b.First]
}

// CacheStats is what a cache reports; hits and misses count offsets
// (records, messages), not items.
type CacheStats struct {
	Bytes, Items int64
	// Hits: offsets readers were served from the cache. Misses: offsets
	// readers converted themselves.
	Hits, Misses int64
	// Converts: conversions made into the cache. Waits: readers that
	// waited for another's conversion. Flights: conversions under way.
	Converts, Waits, Flights int64
}

// NewCache returns an empty cache.
func NewCache[V any](cfg CacheConfig) *Cache[V] {
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultCacheBytes
	}
	if cfg.HeldTTL <= 0 {
		cfg.HeldTTL = 10 * time.Second
	}
	if cfg.FlightWait <= 0 {
		cfg.FlightWait = time.Second
	}
	c := &Cache[V]{cfg: cfg, items: map[QueueKey][]*Cached[V]{}, flights: map[QueueKey][]*Flight{},
		servedAt: map[QueueKey]time.Time{}}
	c.lru.next, c.lru.prev = &c.lru, &c.lru
	return c
}

// MaxBytes is the cache's bound.
func (c *Cache[V]) MaxBytes() int64 { return c.cfg.MaxBytes }

// Lookup returns the item of key holding offset off, if the entry at off
// came from phys and the item starts at or after start, with a Hold of
// the caller's own on the bytes it points into (nil if none: release it
// once written); else nil. next is the first offset after off at which
// another item starts (MaxInt64 if none).
func (c *Cache[V]) Lookup(key QueueKey, off, phys, start int64) (b *Cached[V], hold *Hold, next int64) {
	next = 1<<63 - 1
	if c.n.Load() == 0 {
		return nil, nil, next
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	bs := c.items[key]
	// Items wholly or partly below the start are never served again.
	if len(bs) > 0 && bs[0].First < start {
		n := 0
		for n < len(bs) && bs[n].First < start {
			c.unlinkLocked(bs[n])
			n++
		}
		bs = c.setLocked(key, slices.Delete(bs, 0, n))
	}
	i := c.searchLocked(bs, off)
	if i < len(bs) {
		next = bs[i].First
	}
	if i == 0 || off >= bs[i-1].End {
		return nil, nil, next
	}
	b = bs[i-1]
	if b.physAt(off) != phys || (!b.expires.IsZero() && time.Now().After(b.expires)) {
		// Another incarnation of the topic, or held too long: drop it.
		c.unlinkLocked(b)
		c.setLocked(key, slices.Delete(bs, i-1, i))
		return nil, nil, next
	}
	c.touchLocked(b)
	c.servedAt[key] = time.Now()
	if b.hold != nil {
		hold = b.hold.Clone()
	}
	return b, hold, next
}

// searchLocked returns the index of the first item of bs starting after
// off.
func (c *Cache[V]) searchLocked(bs []*Cached[V], off int64) int {
	i, _ := slices.BinarySearchFunc(bs, off+1, func(b *Cached[V], t int64) int {
		switch {
		case b.First < t:
			return -1
		case b.First > t:
			return 1
		}
		return 0
	})
	return i
}

// Covers reports whether an item of key holds offset off (not checked
// against the store).
func (c *Cache[V]) Covers(key QueueKey, off int64) bool {
	if c.n.Load() == 0 {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	bs := c.items[key]
	i := c.searchLocked(bs, off)
	return i > 0 && off < bs[i-1].End
}

// Insert caches v as the item of the offsets [first, end) of key, made
// from the entries at phys (one per offset, or one for all: the offsets
// of one stored batch), replacing the items it overlaps. cost is v's size
// in bytes. hold, if not nil, keeps the CommitLog bytes v points into
// mapped; the cache takes it over (and releases it when v is not cached).
func (c *Cache[V]) Insert(key QueueKey, first, end int64, phys []int64, v V, cost int64, hold *Hold) {
	b := &Cached[V]{Key: key, First: first, End: end, Value: v, cost: cost + 8*int64(len(phys)) + 128, hold: hold}
	if end <= first || (len(phys) != 1 && int64(len(phys)) != end-first) || b.cost > c.cfg.MaxBytes/4 {
		if hold != nil {
			hold.Release()
		}
		return
	}
	b.phys = slices.Clone(phys)
	if hold != nil {
		b.expires = time.Now().Add(c.cfg.HeldTTL)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		if hold != nil {
			hold.Release()
		}
		return
	}
	bs := c.items[key]
	i := c.searchLocked(bs, first)
	lo := i
	if lo > 0 && bs[lo-1].End > first {
		lo--
	}
	hi := i
	for hi < len(bs) && bs[hi].First < end {
		hi++
	}
	for _, old := range bs[lo:hi] {
		c.unlinkLocked(old)
	}
	c.items[key] = slices.Insert(slices.Delete(bs, lo, hi), lo, b)
	c.pushLocked(b)
	for c.bytes > c.cfg.MaxBytes && c.lru.prev != &c.lru {
		c.evictLocked(c.lru.prev)
	}
	if hold != nil && c.sweep == nil {
		c.sweep = time.AfterFunc(c.cfg.HeldTTL, c.expire)
	}
}

// Forget drops every item of topic (deleted) and what admission
// remembers of it.
func (c *Cache[V]) Forget(topic string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.forgetSeenLocked(topic)
	for key, bs := range c.items {
		if key.Topic != topic {
			continue
		}
		for _, b := range bs {
			c.unlinkLocked(b)
		}
		delete(c.items, key)
	}
}

// Close drops every item; later inserts are refused.
func (c *Cache[V]) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for key, bs := range c.items {
		for _, b := range bs {
			c.unlinkLocked(b)
		}
		delete(c.items, key)
	}
	if c.sweep != nil {
		c.sweep.Stop()
		c.sweep = nil
	}
}

// expire drops the held items past their time, and runs again while any
// are left.
func (c *Cache[V]) expire() {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	for key, bs := range c.items {
		n := len(bs)
		bs = slices.DeleteFunc(bs, func(b *Cached[V]) bool {
			if b.expires.IsZero() || !now.After(b.expires) {
				return false
			}
			c.unlinkLocked(b)
			return true
		})
		if len(bs) != n {
			c.setLocked(key, bs)
		}
	}
	if c.held > 0 && !c.closed {
		c.sweep.Reset(c.cfg.HeldTTL)
	} else {
		c.sweep = nil
	}
}

// evictLocked removes b, the least recently used item.
func (c *Cache[V]) evictLocked(b *Cached[V]) {
	bs := c.items[b.Key]
	if i := slices.Index(bs, b); i >= 0 {
		c.setLocked(b.Key, slices.Delete(bs, i, i+1))
	}
	c.unlinkLocked(b)
}

// setLocked stores a queue's items, deleting an empty list.
func (c *Cache[V]) setLocked(key QueueKey, bs []*Cached[V]) []*Cached[V] {
	if len(bs) == 0 {
		delete(c.items, key)
	} else {
		c.items[key] = bs
	}
	return bs
}

// unlinkLocked takes b off the LRU list and out of the counts, and
// releases its Hold; the caller removes it from items.
func (c *Cache[V]) unlinkLocked(b *Cached[V]) {
	if !b.onLRU {
		return
	}
	b.prev.next, b.next.prev = b.next, b.prev
	b.prev, b.next, b.onLRU = nil, nil, false
	c.bytes -= b.cost
	c.n.Add(-1)
	if b.hold != nil {
		b.hold.Release()
		c.held--
	}
}

// pushLocked puts b at the front of the LRU list and counts it.
func (c *Cache[V]) pushLocked(b *Cached[V]) {
	b.prev, b.next = &c.lru, c.lru.next
	c.lru.next.prev = b
	c.lru.next = b
	b.onLRU = true
	c.bytes += b.cost
	c.n.Add(1)
	if b.hold != nil {
		c.held++
	}
}

// touchLocked moves b to the front of the LRU list.
func (c *Cache[V]) touchLocked(b *Cached[V]) {
	b.prev.next, b.next.prev = b.next, b.prev
	b.prev, b.next = &c.lru, c.lru.next
	c.lru.next.prev = b
	c.lru.next = b
}

// Hit counts n offsets a reader was served from the cache; Miss counts n
// it converted itself.
func (c *Cache[V]) Hit(n int64)  { c.hits.Add(n) }
func (c *Cache[V]) Miss(n int64) { c.misses.Add(n) }

// Stats reports the cache.
func (c *Cache[V]) Stats() CacheStats {
	c.mu.Lock()
	bytes := c.bytes
	c.mu.Unlock()
	return CacheStats{Bytes: bytes, Items: int64(c.n.Load()), Hits: c.hits.Load(), Misses: c.misses.Load(),
		Converts: c.converts.Load(), Waits: c.waits.Load(), Flights: int64(c.nflights.Load())}
}
