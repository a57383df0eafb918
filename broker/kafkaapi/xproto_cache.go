package kafkaapi

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twinmq/twinmq/broker/log"
	"github.com/twinmq/twinmq/broker/topics"
	"github.com/twinmq/twinmq/wire/xproto"
)

// xcache holds Kafka record batches converted from RocketMQ-produced
// messages (xproto_fetch.go), so that several consumer groups reading the
// same offsets convert them once (issue 7: "cache converted batches if a
// benchmark shows it pays"; it pays for fan-out and re-reads, see
// docs/cross-protocol.md).
//
// A cached batch covers the offsets [first, end) of one (topic,
// partition) and remembers the CommitLog offset (Phys) of each message it
// was made from. A hit must match the Phys the fetch's own read found at
// its offset, so a topic deleted and created again (offsets restart, the
// CommitLog never does) cannot be served stale bytes even before the
// registry watch drops the old topic's batches. A batch that starts below
// the partition's logStartOffset (retention, DeleteRecords) is dropped
// instead of served.
//
// The batches of one partition never overlap, so the one holding an
// offset is found by binary search. Eviction is LRU by bytes (the batch
// buffers' capacity plus 8 bytes per record). A batch's bytes are never
// changed or reused after insertion: an evicted batch that a fetch is
// still writing stays alive through that fetch's reference (GC), with no
// reference counting.
//
// Single flight (xproto_flight.go): a fetch that misses while another
// fetch converts an overlapping range of the same partition waits for it
// and is served from the cache, so consumer groups reading the same
// offsets at the same moment convert them once.
//
// mu guards parts, the LRU list, bytes and flights; it is never held
// while converting or while calling out of the package.
type xcache struct {
	max     int64
	mu      sync.Mutex
	parts   map[queueKey][]*xcBatch // sorted by first
	lru     xcBatch                 // sentinel: lru.next is the most recent
	bytes   int64
	flights map[queueKey][]*xcFlight // conversions under way
	// nflights counts them, read without mu: a fetch checks it before
	// looking for a flight to wait for (waitFlightAt).
	nflights atomic.Int32
	hits     atomic.Int64
	misses   atomic.Int64
	// converts counts the conversions made for the cache and waits the
	// fetches that waited for another's (tests, stats).
	converts atomic.Int64
	waits    atomic.Int64
	// aheads are the partitions with a read-ahead running
	// (xproto_readahead.go), readAheads counts the conversions they made.
	aheads     []queueKey
	readAheads atomic.Int64
	// seen are ranges lately converted uncached, oldest first, and
	// servedAt when a hit last served each partition (xproto_admit.go).
	seen     []xcSeen
	servedAt map[queueKey]time.Time
	// convert is convertBatch; tests replace it.
	convert converter
}

type queueKey struct {
	topic string
	part  int32
}

// xcBatch is one converted batch, linked in the LRU list.
type xcBatch struct {
	key        queueKey
	first, end int64
	phys       []int64 // CommitLog offset of offset first+i
	data       []byte  // the batch; read-only once cached
	prev, next *xcBatch
	cost       int64 // bytes counted against max
	onLRU      bool
}

// defaultXProtoCacheBytes is the cache's size when Config leaves it 0.
const defaultXProtoCacheBytes = 64 << 20

// newXCache returns a cache of max bytes that forgets a topic's batches
// when reg deletes it, or nil (no caching) for max <= 0.
func newXCache(max int64, reg *topics.Registry) *xcache {
	if max <= 0 {
		return nil
	}
	c := &xcache{max: max, parts: map[queueKey][]*xcBatch{}, flights: map[queueKey][]*xcFlight{},
		servedAt: map[queueKey]time.Time{}, convert: convertBatch}
	c.lru.next, c.lru.prev = &c.lru, &c.lru
	if reg != nil {
		// The handler lives as long as the registry; the watch is not
		// stopped (as the handler's own topics.Sizes).
		reg.Watch(func(cfg topics.Config, deleted bool) {
			if deleted {
				c.forget(cfg.Name)
			}
		})
	}
	return c
}

// lookup returns the cached batch holding offset off of key if its record
// at off came from CommitLog offset phys and it starts at or after
// logStart (nil if none), and the first offset after off at which another
// cached batch starts (MaxInt64 if none).
func (c *xcache) lookup(key queueKey, off, phys, logStart int64) (*xcBatch, int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	bs := c.parts[key]
	// Batches wholly or partly below the start are never served again.
	if len(bs) > 0 && bs[0].first < logStart {
		n := 0
		for n < len(bs) && bs[n].first < logStart {
			c.unlinkLocked(bs[n])
			n++
		}
		bs = c.setPartLocked(key, slices.Delete(bs, 0, n))
	}
	// i: the first batch starting after off.
	i, _ := slices.BinarySearchFunc(bs, off+1, func(b *xcBatch, t int64) int { return cmpInt64(b.first, t) })
	next := int64(1<<63 - 1)
	if i < len(bs) {
		next = bs[i].first
	}
	if i == 0 || off >= bs[i-1].end {
		return nil, next
	}
	b := bs[i-1]
	if b.phys[off-b.first] != phys {
		// Another incarnation of the topic: drop the batch.
		c.unlinkLocked(b)
		c.setPartLocked(key, slices.Delete(bs, i-1, i))
		return nil, next
	}
	c.unlinkLocked(b)
	c.pushLocked(b)
	c.servedLocked(key)
	return b, next
}

// insert caches data, the batch of the offsets [first, first+len(phys)),
// unless it overlaps a cached batch (a concurrent fetch cached it first)
// or is too large for the cache.
func (c *xcache) insert(key queueKey, first int64, phys []int64, data []byte) {
	b := &xcBatch{key: key, first: first, end: first + int64(len(phys)), data: data,
		cost: int64(cap(data)) + 8*int64(len(phys)) + 128}
	if b.cost > c.max/4 {
		return
	}
	b.phys = slices.Clone(phys)
	c.mu.Lock()
	defer c.mu.Unlock()
	bs := c.parts[key]
	i, _ := slices.BinarySearchFunc(bs, first, func(x *xcBatch, t int64) int { return cmpInt64(x.first, t) })
	if (i > 0 && bs[i-1].end > first) || (i < len(bs) && bs[i].first < b.end) {
		return
	}
	c.parts[key] = slices.Insert(bs, i, b)
	c.pushLocked(b)
	for c.bytes > c.max && c.lru.prev != &c.lru {
		c.evictLocked(c.lru.prev)
	}
}

// forget drops every batch of topic.
func (c *xcache) forget(topic string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.forgetSeenLocked(topic)
	for key, bs := range c.parts {
		if key.topic != topic {
			continue
		}
		for _, b := range bs {
			c.unlinkLocked(b)
		}
		delete(c.parts, key)
	}
}

// evictLocked removes b, the least recently used batch.
func (c *xcache) evictLocked(b *xcBatch) {
	bs := c.parts[b.key]
	if i := slices.Index(bs, b); i >= 0 {
		c.setPartLocked(b.key, slices.Delete(bs, i, i+1))
	}
	c.unlinkLocked(b)
}

// setPartLocked stores a partition's batches, deleting an empty list.
func (c *xcache) setPartLocked(key queueKey, bs []*xcBatch) []*xcBatch {
	if len(bs) == 0 {
		delete(c.parts, key)
	} else {
		c.parts[key] = bs
	}
	return bs
}

// unlinkLocked takes b off the LRU list and out of the byte count; the
// caller removes it from parts.
func (c *xcache) unlinkLocked(b *xcBatch) {
	if !b.onLRU {
		return
	}
	b.prev.next, b.next.prev = b.next, b.prev
	b.prev, b.next, b.onLRU = nil, nil, false
	c.bytes -= b.cost
}

// pushLocked puts b at the front of the LRU list and counts its bytes.
func (c *xcache) pushLocked(b *xcBatch) {
	b.prev, b.next = &c.lru, c.lru.next
	c.lru.next.prev = b
	c.lru.next = b
	b.onLRU = true
	c.bytes += b.cost
}

// size returns the bytes cached.
func (c *xcache) size() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// XProtoCacheStats reports the converted-batch cache: bytes held, and the
// hits and misses of RocketMQ-produced offsets fetched by Kafka clients
// (all zero when the cache is off).
func (h *Handler) XProtoCacheStats() (bytes, hits, misses int64) {
	if h.xcache == nil {
		return 0, 0, 0
	}
	return h.xcache.size(), h.xcache.hits.Load(), h.xcache.misses.Load()
}

// convertRun appends to parts the batches for the RocketMQ messages msgs
// at the consecutive offsets base, base+1, ... of key, read from the
// CommitLog offsets phys: cached batches where they cover the offsets
// (wholly within the run, so a fetch is not made larger than its read,
// except by the records before the fetch offset that a batch holding it
// starts with, which clients skip as in stored Kafka batches), converted
// ones in between, cached if the cache admits them (xproto_admit.go). A
// range another fetch is converting is waited for (until ctx is done)
// instead of converted again. It returns parts, their added size, and
// whether the cache served or admitted any of the run (shared).
func (h *Handler) convertRun(ctx context.Context, key queueKey, logStart, base int64, msgs [][]byte, phys []int64, parts [][]byte) (_ [][]byte, size int, shared bool) {
	c := h.xcache
	end := base + int64(len(msgs))
	waited := int64(-1) // the offset at which this fetch last waited
	for pos := base; pos < end; {
		i := pos - base
		if c == nil {
			parts, size = h.appendConverted(convertBatch, pos, msgs[i:], parts, size, false)
			break
		}
		b, next := c.lookup(key, pos, phys[i], logStart)
		if b != nil && b.end <= end {
			shared = true
			c.hits.Add(b.end - pos)
			parts = append(parts, b.data)
			size += len(b.data)
			pos = b.end
			continue
		}
		stop := min(end, next)
		if b != nil {
			// Cached, but reaching past this read: converted, not cached.
			c.misses.Add(stop - pos)
			parts, size = h.appendConverted(c.convert, pos, msgs[i:stop-base], parts, size, false)
			pos = stop
			continue
		}
		if !c.admit(key, pos, stop) {
			c.misses.Add(stop - pos)
			parts, size = h.appendConverted(c.convert, pos, msgs[i:stop-base], parts, size, false)
			pos = stop
			continue
		}
		shared = true
		fl, mine := c.claim(key, pos, stop)
		if fl == nil {
			continue // cached since the lookup
		}
		if !mine {
			// Wait once per offset: a flight that landed without caching
			// (failed, too large) is not waited for again.
			if waited != pos && c.wait(ctx, fl) {
				waited = pos
				continue // look again: the batch is likely cached now
			}
			c.misses.Add(stop - pos)
			parts, size = h.appendConverted(c.convert, pos, msgs[i:stop-base], parts, size, false)
			pos = stop
			continue
		}
		c.misses.Add(stop - pos)
		parts, size = h.convertFlight(c, fl, phys[i:stop-base], msgs[i:stop-base], parts, size, nil)
		pos = stop
	}
	return parts, size, shared
}

// convertFlight converts the range fl claimed, caches it and ends the
// flight, also when the conversion fails or panics, so no waiter is
// left waiting for it. converted, if not nil, runs once the batch is
// converted, before it is cached.
func (h *Handler) convertFlight(c *xcache, fl *xcFlight, phys []int64, msgs [][]byte, parts [][]byte, size int, converted func()) ([][]byte, int) {
	defer c.land(fl)
	c.converts.Add(1)
	n := len(parts)
	parts, size = h.appendConverted(c.convert, fl.first, msgs, parts, size, true)
	if converted != nil {
		converted()
	}
	if len(parts) == n+1 {
		c.insert(fl.key, fl.first, phys, parts[n])
	}
	return parts, size
}

// converter appends to parts the Kafka batch of the RocketMQ messages
// msgs at the offsets base, base+1, ... and returns the parts and the
// batch's size. With own, the batch is one part in memory of its own,
// which the cache may keep; without, the parts may be slices of msgs
// (the bodies, not copied), valid only while the storage read that msgs
// came from is held: the fetch releases it once they are written.
type converter func(parts [][]byte, base int64, msgs [][]byte, own bool) ([][]byte, int, error)

// convertBatch is the converter of wire/xproto.
func convertBatch(parts [][]byte, base int64, msgs [][]byte, own bool) ([][]byte, int, error) {
	if !own {
		return xproto.ToKafkaParts(parts, base, msgs)
	}
	b, err := xproto.ToKafka(nil, base, msgs)
	if err != nil || len(b) == 0 {
		return parts, 0, err
	}
	return append(parts, b), len(b), nil
}

// appendConverted appends the batch of msgs at base to parts (in one
// part of its own with own, see converter).
func (h *Handler) appendConverted(conv converter, base int64, msgs [][]byte, parts [][]byte, size int, own bool) ([][]byte, int) {
	out, n, err := conv(parts, base, msgs, own)
	if err != nil {
		// Cannot happen for a non-empty run; skipping keeps the
		// partition moving (the next fetch starts after it).
		h.log.Warn("kafkaapi: convert RocketMQ messages", "offset", base, "count", len(msgs), "err", err)
		return parts, size
	}
	return out, size + n
}

// holds reports whether a cached batch of key holds offset off (not yet
// checked against the store).
func (c *xcache) holds(key queueKey, off int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	bs := c.parts[key]
	i, _ := slices.BinarySearchFunc(bs, off+1, func(b *xcBatch, t int64) int { return cmpInt64(b.first, t) })
	return i > 0 && off < bs[i-1].end
}

// readParts reads a partition for a fetch from offset: the cached batches
// holding offset and the offsets after it when there are any (then only
// the first message of each is read from the store, to check that it is
// the one the batch was made from), else the stored entries, converted
// where RocketMQ-produced (fetchParts). The ReadResult is released by the
// caller once the parts are written.
//
// A fetch that the cache served or admitted starts a read-ahead of the
// offsets after them (xproto_readahead.go); a fetch whose offset a
// read-ahead is converting waits for it before reading.
func (h *Handler) readParts(ctx context.Context, topic string, part int32, offset, logStart int64, opt log.ReadOptions) (*log.ReadResult, [][]byte, int, error) {
	key := queueKey{topic, part}
	if h.xcache != nil {
		h.xcache.waitFlightAt(ctx, key, offset)
	}
	if rd, parts, size, next := h.cachedParts(key, offset, logStart, opt); rd != nil {
		h.readAheadFrom(key, next, rd.End, opt.MaxBytes)
		return rd, parts, size, nil
	}
	rd, err := h.logs.Read(topic, part, offset, opt)
	if err != nil {
		return nil, nil, 0, err
	}
	parts, size, shared := h.fetchParts(ctx, topic, part, logStart, rd.Entries)
	if n := len(rd.Entries); shared && n > 0 && rd.Entries[n-1].Kind == log.KindRocketMQ {
		h.readAheadFrom(key, rd.Next, rd.End, opt.MaxBytes)
	}
	return rd, parts, size, nil
}

// cachedParts returns consecutive cached batches from offset within
// opt.MaxBytes (the first whatever its size unless StrictMaxBytes, as
// log.Log.Read), the read of the first message, or a nil ReadResult, and
// the offset after the batches.
func (h *Handler) cachedParts(key queueKey, offset, logStart int64, opt log.ReadOptions) (*log.ReadResult, [][]byte, int, int64) {
	c := h.xcache
	if c == nil || !c.holds(key, offset) {
		return nil, nil, 0, offset
	}
	var first *log.ReadResult
	var parts [][]byte
	size := 0
	for {
		rd, err := h.logs.Read(key.topic, key.part, offset, log.ReadOptions{MaxEntries: 1})
		if err != nil || len(rd.Entries) == 0 || rd.Entries[0].Kind != log.KindRocketMQ {
			if rd != nil {
				rd.Release()
			}
			break
		}
		b, _ := c.lookup(key, offset, rd.Entries[0].Phys, logStart)
		if b == nil || (size+len(b.data) > opt.MaxBytes && (size > 0 || opt.StrictMaxBytes)) {
			rd.Release()
			break
		}
		if first == nil {
			first = rd
		} else {
			rd.Release()
		}
		c.hits.Add(b.end - offset)
		parts = append(parts, b.data)
		size += len(b.data)
		offset = b.end
		if !c.holds(key, offset) {
			break
		}
	}
	return first, parts, size, offset
}
