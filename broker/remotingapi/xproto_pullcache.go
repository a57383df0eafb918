package remotingapi

import (
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twinmq/twinmq/broker/log"
	"github.com/twinmq/twinmq/wire/remoting"
	"github.com/twinmq/twinmq/wire/xproto"
)

// pullCache keeps, per queue, the RocketMQ messages of the rest of the
// last Kafka batch a pull stopped in the middle of. A pull returns at most
// maxMsgNums (32) messages and a stored batch often holds more records, so
// without it each of the pulls that share a batch would read the whole
// batch again (its CRC checked over every record) and convert its records
// up to where the pull stops. With it, the batch is read and converted
// once; the pulls after the first are served from here. A cached batch is
// served only while the queue still holds it at that offset
// (Store.EntryAt: retention, DeleteRecords or a topic deleted and created
// again end it).
//
// The converted messages' fields are copies of their own; their large
// bodies (uncompressed batches) are slices of the mapped CommitLog, kept
// mapped by a log.Hold. Each pull served from the cache takes a clone
// of the Hold (under the cache's lock, while the cache's own is alive) and
// releases it once written, so eviction never unmaps bytes a pull is
// still writing. A Hold keeps a whole segment mapped, even one retention
// has deleted, so a cached batch lives at most pullCacheTTL: a sweep drops
// it after that even if no pull comes. At most maxPullCacheBytes of copies
// are kept, at most pullCachePerQueue batches per queue.
type pullCache struct {
	mu sync.Mutex
	m  map[pullKey][]*cachedBatch // per queue, oldest first
	// n counts the batches in m; a look-up reads it without the lock, so
	// pulls of queues that hold no Kafka batches never take it.
	n      atomic.Int32
	bytes  int
	sweep  *time.Timer // armed while m is not empty
	closed bool
}

const (
	maxPullCacheBytes = 64 << 20
	pullCacheTTL      = 10 * time.Second
	// pullCachePerQueue bounds the batches kept per queue: consumer groups
	// (or a group's retries) pulling one queue at different offsets each
	// keep theirs instead of evicting one another's.
	pullCachePerQueue = 4
)

type pullKey struct {
	topic string
	queue int32
}

// cachedBatch is the converted rest of one stored Kafka batch: messages
// at dense, ascending queue offsets up to end.
type cachedBatch struct {
	phys    int64 // the batch's CommitLog offset
	end     int64 // the offset after its last record
	msgs    []cachedMsg
	size    int       // bytes of the copies
	hold    *log.Hold // keeps the bodies left in the CommitLog mapped; nil if none
	expires time.Time
}

// cachedMsg is one converted message: head, body and tail written in
// order (body and tail nil when head holds the whole message).
type cachedMsg struct {
	off, tags        int64
	head, body, tail []byte
}

// get returns the batch cached for k that holds offset, with a Hold of the
// caller's own on its bodies (nil if it has none), or nil.
func (c *pullCache) get(k pullKey, offset int64, now time.Time) (*cachedBatch, *log.Hold) {
	if c.n.Load() == 0 {
		return nil, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, cb := range c.m[k] {
		if offset < cb.msgs[0].off || offset >= cb.end {
			continue
		}
		if now.After(cb.expires) {
			c.removeLocked(k, cb)
			return nil, nil
		}
		if cb.hold == nil {
			return cb, nil
		}
		return cb, cb.hold.Clone()
	}
	return nil, nil
}

func (c *pullCache) drop(k pullKey, cb *cachedBatch) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.removeLocked(k, cb)
}

// removeLocked removes cb from k's batches, if it is there.
func (c *pullCache) removeLocked(k pullKey, cb *cachedBatch) {
	bs := c.m[k]
	i := slices.Index(bs, cb)
	if i < 0 {
		return
	}
	if bs = slices.Delete(bs, i, i+1); len(bs) == 0 {
		delete(c.m, k)
	} else {
		c.m[k] = bs
	}
	c.n.Add(-1)
	c.bytes -= cb.size
	if cb.hold != nil {
		cb.hold.Release()
	}
}

// put caches cb for k, replacing k's batches that overlap it and k's
// oldest past pullCachePerQueue; it takes over cb's Hold.
func (c *pullCache) put(k pullKey, cb *cachedBatch) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || cb.size > maxPullCacheBytes/4 {
		if cb.hold != nil {
			cb.hold.Release()
		}
		return
	}
	if c.m == nil {
		c.m = make(map[pullKey][]*cachedBatch)
	}
	for _, old := range slices.Clone(c.m[k]) {
		if old.msgs[0].off < cb.end && cb.msgs[0].off < old.end {
			c.removeLocked(k, old)
		}
	}
	if bs := c.m[k]; len(bs) >= pullCachePerQueue {
		c.removeLocked(k, bs[0])
	}
	for k2, bs := range c.m { // evict any until it fits
		if c.bytes+cb.size <= maxPullCacheBytes {
			break
		}
		for _, old := range slices.Clone(bs) {
			c.removeLocked(k2, old)
		}
	}
	c.m[k] = append(c.m[k], cb)
	c.n.Add(1)
	c.bytes += cb.size
	if c.sweep == nil {
		c.sweep = time.AfterFunc(pullCacheTTL, c.expire)
	}
}

// expire drops the batches past their time, and runs again while any
// are left.
func (c *pullCache) expire() {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	for k, bs := range c.m {
		for _, cb := range slices.Clone(bs) {
			if now.After(cb.expires) {
				c.removeLocked(k, cb)
			}
		}
	}
	if c.n.Load() > 0 && !c.closed {
		c.sweep.Reset(pullCacheTTL)
	} else {
		c.sweep = nil
	}
}

// close drops every batch; later puts are refused.
func (c *pullCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for k, bs := range c.m {
		for _, cb := range slices.Clone(bs) {
			c.removeLocked(k, cb)
		}
	}
	if c.sweep != nil {
		c.sweep.Stop()
		c.sweep = nil
	}
}

// pullCached answers r from the cache if the queue's batch at r.offset is
// there and still stored; ok is false otherwise.
func (b *Broker) pullCached(r *pullRequest, maxMsgs int, filter func(int64) bool) (out pullResult, ok bool) {
	k := pullKey{r.topic, r.queueID}
	cb, hold := b.pcache.get(k, r.offset, time.Now())
	if cb == nil {
		return out, false
	}
	phys, lo, hi, err := b.logs.EntryAt(r.topic, r.queueID, r.offset)
	if err != nil || phys != cb.phys {
		if hold != nil {
			hold.Release()
		}
		b.pcache.drop(k, cb)
		return out, false
	}
	out = pullResult{min: lo, max: hi}
	if cb.serve(&out, r.offset, maxMsgs, filter) > 0 {
		out.hold = hold // released by sendPull once written
		out.code, out.status = remoting.Success, "FOUND"
		return out, true
	}
	if hold != nil {
		hold.Release()
	}
	out.parts = nil
	out.code, out.status = remoting.PullRetryImmediately, "NO_MATCHED_MESSAGE"
	return out, true
}

// serve appends to out the messages of cb from offset from on that filter
// accepts, at most room of them, and sets out.next after the last one
// looked at; it returns how many it appended.
func (cb *cachedBatch) serve(out *pullResult, from int64, room int, filter func(int64) bool) int {
	out.next = cb.end
	first := sort.Search(len(cb.msgs), func(i int) bool { return cb.msgs[i].off >= from })
	out.parts = slices.Grow(out.parts, 3*min(room, len(cb.msgs)-first))
	n := 0
	for i := first; i < len(cb.msgs); i++ {
		m := &cb.msgs[i]
		if n == room {
			out.next = m.off
			break
		}
		if filter != nil && !filter(m.tags) {
			continue
		}
		out.parts = append(out.parts, m.head)
		if m.body != nil {
			out.parts = append(out.parts, m.body, m.tail)
		}
		out.n += len(m.head) + len(m.body) + len(m.tail)
		n++
	}
	return n
}

// convertRest converts the records of the stored Kafka batch e, read by
// res, from offset from on, into a batch for the cache: the fields copied,
// the large bodies left in the CommitLog under a Hold of res. It returns
// nil if the batch cannot be read (the pull converts it as usual and
// logs why) or holds nothing from there.
func (b *Broker) convertRest(res *log.ReadResult, e *log.Entry, topic string, queue int32, from int64) *cachedBatch {
	p := pulls.Get().(*xproto.Pull)
	defer func() { p.Reset(); pulls.Put(p) }()
	ke := xproto.KafkaEntry{Topic: topic, QueueID: queue, Phys: e.Phys,
		StoreTime: e.StoreTime, StoreHost: b.storeHost}
	end, err := p.AddKafka(e.Payload, ke, from, nil)
	if err != nil {
		return nil
	}
	cb := &cachedBatch{phys: e.Phys, end: end, expires: time.Now().Add(pullCacheTTL),
		msgs: make([]cachedMsg, 0, max(end-from, 0))}
	inPlace := false
	p.Owned(func(off, tags int64, head, body, tail []byte) {
		cb.msgs = append(cb.msgs, cachedMsg{off: off, tags: tags, head: head, body: body, tail: tail})
		cb.size += len(head) + len(tail)
		inPlace = inPlace || body != nil
	})
	if len(cb.msgs) == 0 {
		return nil
	}
	if inPlace {
		cb.hold = res.Hold()
	}
	return cb
}
