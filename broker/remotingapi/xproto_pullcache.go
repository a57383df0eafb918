package remotingapi

import (
	"sort"
	"sync"

	"github.com/twinmq/twinmq/broker/convert"
	"github.com/twinmq/twinmq/storage"
	"github.com/twinmq/twinmq/wire/remoting"
)

// pullCache keeps, per queue, the RocketMQ messages of the rest of the
// last Kafka batch a pull stopped in the middle of. A pull returns at most
// maxMsgNums (32) messages and a stored batch often holds more records, so
// without it each of the pulls that share a batch would read the whole
// batch again (its CRC checked over every record) and convert its records
// up to where the pull stops. With it, the batch is read and converted
// once; the pulls after the first are served from the copies here. A
// cached batch is served only while the queue still holds it at that
// offset (Store.EntryAt: retention, DeleteRecords or a topic deleted and
// created again end it). The copies are immutable, so a pull being written
// keeps its slices whatever the cache does; at most maxPullCacheBytes are
// kept.
type pullCache struct {
	mu    sync.Mutex
	m     map[pullKey]*cachedBatch
	bytes int
}

const maxPullCacheBytes = 64 << 20

type pullKey struct {
	topic string
	queue int32
}

// cachedBatch is the converted rest of one stored Kafka batch: messages
// at queue offsets offs[i] (dense, ascending) up to end.
type cachedBatch struct {
	phys int64 // the batch's CommitLog offset
	end  int64 // the offset after its last record
	offs []int64
	tags []int64
	msgs [][]byte
	size int
}

func (c *pullCache) get(k pullKey, offset int64) *cachedBatch {
	c.mu.Lock()
	defer c.mu.Unlock()
	cb := c.m[k]
	if cb == nil || offset < cb.offs[0] || offset >= cb.end {
		return nil
	}
	return cb
}

func (c *pullCache) drop(k pullKey, cb *cachedBatch) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m[k] == cb {
		delete(c.m, k)
		c.bytes -= cb.size
	}
}

func (c *pullCache) put(k pullKey, cb *cachedBatch) {
	if cb.size > maxPullCacheBytes/4 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[pullKey]*cachedBatch)
	}
	if old := c.m[k]; old != nil {
		c.bytes -= old.size
	}
	for k2, old := range c.m { // evict any until it fits
		if c.bytes+cb.size <= maxPullCacheBytes {
			break
		}
		delete(c.m, k2)
		c.bytes -= old.size
	}
	c.m[k] = cb
	c.bytes += cb.size
}

// pullCached answers r from the cache if the queue's batch at r.offset is
// there and still stored; ok is false otherwise.
func (b *Broker) pullCached(r *pullRequest, maxMsgs int, filter func(int64) bool) (out pullResult, ok bool) {
	k := pullKey{r.topic, r.queueID}
	cb := b.pcache.get(k, r.offset)
	if cb == nil {
		return out, false
	}
	phys, min, max, err := b.store.EntryAt(r.topic, r.queueID, r.offset)
	if err != nil || phys != cb.phys {
		b.pcache.drop(k, cb)
		return out, false
	}
	out = pullResult{next: cb.end, min: min, max: max}
	n := 0
	for i := sort.Search(len(cb.offs), func(i int) bool { return cb.offs[i] >= r.offset }); i < len(cb.offs); i++ {
		if n == maxMsgs {
			out.next = cb.offs[i]
			break
		}
		if filter != nil && !filter(cb.tags[i]) {
			continue
		}
		out.parts = append(out.parts, cb.msgs[i])
		out.n += len(cb.msgs[i])
		n++
	}
	if n > 0 {
		out.code, out.status = remoting.Success, "FOUND"
	} else {
		out.code, out.status = remoting.PullRetryImmediately, "NO_MATCHED_MESSAGE"
	}
	return out, true
}

// cacheRest converts the records of the stored Kafka batch e from offset
// from on (the pull that read it stopped there) and caches them.
func (b *Broker) cacheRest(e *storage.ReadEntry, from int64) {
	p := pulls.Get().(*convert.Pull)
	defer func() { p.Reset(); pulls.Put(p) }()
	ke := convert.KafkaEntry{Topic: e.Header.Topic, QueueID: e.Header.QueueID, Phys: e.Phys,
		StoreTime: e.StoreTime, StoreHost: b.storeHost}
	end, err := p.AddKafka(e.Payload, ke, from, nil)
	if err != nil {
		return // the pulls read it again and log it
	}
	cb := &cachedBatch{phys: e.Phys, end: end}
	p.Owned(func(off, tags int64, msg []byte) {
		cb.offs = append(cb.offs, off)
		cb.tags = append(cb.tags, tags)
		cb.msgs = append(cb.msgs, msg)
		cb.size += len(msg)
	})
	if len(cb.offs) == 0 {
		return
	}
	b.pcache.put(pullKey{e.Header.Topic, e.Header.QueueID}, cb)
}
