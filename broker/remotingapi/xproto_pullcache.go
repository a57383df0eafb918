package remotingapi

import (
	"context"
	"slices"
	"sort"

	"github.com/twinmq/twinmq/broker/log"
	"github.com/twinmq/twinmq/wire/remoting"
	"github.com/twinmq/twinmq/wire/xproto"
)

// The RocketMQ side of the cross-protocol cache (broker/log.Cache): per
// queue, the RocketMQ messages of the rest of a Kafka batch a pull stopped
// in the middle of. A pull returns at most maxMsgNums (32) messages and a
// stored batch often holds more, so without it each of the pulls that
// share a batch would read the whole batch again (its CRC checked over
// every record) and convert its records up to where the pull stops. With
// it, the batch is read and converted once; the pulls after the first are
// served from here, and a pull that comes while another converts the
// batch waits for that conversion (single flight). An item is the offsets
// [from, end of the batch) with the batch's CommitLog offset as the Phys
// of all of them; it is served only while the queue still holds that
// batch at the pulled offset (Log.EntryAt: retention, DeleteRecords or a
// topic deleted and created again end it).
//
// The converted messages' fields are copies of their own (the item's
// cost); their large bodies (uncompressed batches) are slices of the
// mapped CommitLog under the item's Hold, of which each pull served gets
// a clone it releases once written. The cache runs without a Doorkeeper:
// a lone consumer's next pulls are what it is for.

// pullCache is the cache's type here: an item's value is its messages.
type pullCache = log.Cache[[]cachedMsg]

// cachedMsg is one converted message: head, body and tail written in
// order (body and tail nil when head holds the whole message).
type cachedMsg struct {
	off, tags        int64
	head, body, tail []byte
}

// pulledBatch is the converted rest of one stored Kafka batch, to cache.
type pulledBatch struct {
	phys       int64 // the batch's CommitLog offset
	first, end int64 // the offsets converted: from the pull's to the batch's end
	msgs       []cachedMsg
	size       int       // bytes of the copies
	hold       *log.Hold // keeps the bodies left in the CommitLog mapped; nil if none
}

// pullCached answers r from the cache if the queue's batch at r.offset is
// there and still stored; ok is false otherwise. A conversion of that
// offset under way is waited for first (until ctx is done).
func (b *Broker) pullCached(ctx context.Context, r *pullRequest, maxMsgs int, filter func(int64) bool) (out pullResult, ok bool) {
	c := b.pcache
	k := log.QueueKey{Topic: r.topic, Queue: r.queueID}
	c.WaitAt(ctx, k, r.offset)
	if !c.Covers(k, r.offset) {
		return out, false
	}
	phys, lo, hi, err := b.logs.EntryAt(r.topic, r.queueID, r.offset)
	if err != nil {
		return out, false
	}
	cb, hold, _ := c.Lookup(k, r.offset, phys, lo)
	if cb == nil {
		return out, false
	}
	out = pullResult{min: lo, max: hi}
	n := serveMsgs(&out, cb.Value, cb.End, r.offset, maxMsgs, filter)
	c.Hit(int64(n))
	if n > 0 {
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

// serveMsgs appends to out the messages of msgs (which end at offset
// end) from offset from on that filter accepts, at most room of them, and
// sets out.next after the last one looked at; it returns how many it
// appended.
func serveMsgs(out *pullResult, msgs []cachedMsg, end, from int64, room int, filter func(int64) bool) int {
	out.next = end
	first := sort.Search(len(msgs), func(i int) bool { return msgs[i].off >= from })
	out.parts = slices.Grow(out.parts, 3*min(room, len(msgs)-first))
	n := 0
	for i := first; i < len(msgs); i++ {
		m := &msgs[i]
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

// convertRest converts the records of the stored Kafka batch e of (topic,
// queue), read by res, from offset from on, into a batch for the cache:
// the fields copied, the large bodies left in the CommitLog under a Hold
// of res. It returns nil if the batch cannot be read (the pull converts
// it as usual and logs why) or holds nothing from there.
func (b *Broker) convertRest(res *log.ReadResult, e *log.Entry, topic string, queue int32, from int64) *pulledBatch {
	p := pulls.Get().(*xproto.Pull)
	defer func() { p.Reset(); pulls.Put(p) }()
	ke := xproto.KafkaEntry{Topic: topic, QueueID: queue, Phys: e.Phys,
		StoreTime: e.StoreTime, StoreHost: b.storeHost}
	end, err := p.AddKafka(e.Payload, ke, from, nil)
	if err != nil {
		return nil
	}
	cb := &pulledBatch{phys: e.Phys, first: from, end: end, msgs: make([]cachedMsg, 0, max(end-from, 0))}
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

// XProtoCacheStats reports the pull cache: the messages of Kafka batches
// converted for RocketMQ pulls, served from it (hits) or converted by the
// pulls themselves (misses).
func (b *Broker) XProtoCacheStats() log.CacheStats { return b.pcache.Stats() }
