package remotingapi

import (
	"sync"

	"github.com/twinmq/twinmq/broker/log"
	"github.com/twinmq/twinmq/wire/xproto"
)

// pulls holds xproto.Pull scratch between pulls (its record list,
// properties and decompression buffers), so a converting pull allocates
// only the buffer it hands to sendPull.
var pulls = sync.Pool{New: func() any { return new(xproto.Pull) }}

// hasKafka reports whether a pull read any stored Kafka batch.
func hasKafka(entries []log.Entry) bool {
	for i := range entries {
		if entries[i].Kind == log.KindKafka {
			return true
		}
	}
	return false
}

// pullConverted sets out's parts to the entries read from offset on, in
// order: stored RocketMQ messages as they are, and the records of stored
// Kafka batches converted into RocketMQ stored messages (docs/design.md
// section 4: a Kafka-produced record reaches RocketMQ consumers, TAGS
// header as tag). The converted messages of the whole pull are in one
// buffer, their bodies of xproto.ZeroCopyMin bytes or more (uncompressed
// batches) left in the mapped CommitLog, written by sendPull's writev as
// a verbatim pull's messages are; res keeps them mapped until release.
// The ConsumeQueue filter has already skipped a batch if none of its
// records' tags codes match; the records it holds are filtered here by
// the same codes. A batch that cannot be read is skipped, logged, so the
// queue never stops on it (nextBeginOffset moves past it).
//
// The records of aborted Kafka transactions are skipped, as a
// read_committed Kafka consumer skips them (xproto_pull_txn.go).
//
// At most maxMsgs messages are returned (the request's maxMsgNums), as
// from a Java broker: a batch of more records is cut, and nextBeginOffset
// is the first record left out.
func (b *Broker) pullConverted(out *pullResult, res *log.ReadResult, r *pullRequest, maxMsgs int, filter func(int64) bool, tv txnView) {
	p := pulls.Get().(*xproto.Pull)
	defer func() { p.Reset(); pulls.Put(p) }()
	p.Max = maxMsgs
	for i := range res.Entries {
		e := &res.Entries[i]
		from := max(r.offset, e.QueueOffset)
		if p.Full() {
			out.next = from
			break
		}
		if e.Kind == log.KindRocketMQ {
			p.AddStored(e.Payload)
			continue
		}
		if e.Kind != log.KindKafka || tv.aborted(e) {
			continue
		}
		// A batch with more records left than the pull has room for is
		// converted once, to its end, into the pull cache, and this pull
		// is served from that conversion: the pulls after it start inside
		// the batch and find the rest there (xproto_pullcache.go). A pull
		// that finds another converting it converts its own part only.
		if room := maxMsgs - p.Len(); e.QueueOffset+int64(e.Count)-from > int64(room) {
			if b.pullRest(out, p, res, e, r, from, room, filter) {
				return
			}
		}
		ke := xproto.KafkaEntry{Topic: r.topic, QueueID: r.queueID, Phys: e.Phys,
			StoreTime: e.StoreTime, StoreHost: b.storeHost}
		n := p.Len()
		next, err := p.AddKafka(e.Payload, ke, from, filter)
		b.pcache.Miss(int64(p.Len() - n))
		if err != nil {
			b.log.Warn("remotingapi: cannot convert a Kafka batch; skipped", "topic", ke.Topic, "queue", ke.QueueID,
				"offset", e.QueueOffset, "err", err)
		} else if p.Full() {
			out.next = next
			break
		}
	}
	out.parts, out.n = p.Parts(out.parts)
}

// pullRest converts the rest of the Kafka batch e from offset from into
// the pull cache, as one flight, and serves out from it (after the
// messages p holds): it reports false, having done nothing, when another
// pull is converting that batch or it cannot be read.
func (b *Broker) pullRest(out *pullResult, p *xproto.Pull, res *log.ReadResult, e *log.Entry, r *pullRequest,
	from int64, room int, filter func(int64) bool) bool {
	c := b.pcache
	k := log.QueueKey{Topic: r.topic, Queue: r.queueID}
	end := e.QueueOffset + int64(e.Count)
	if !c.Admit(k, from, end) {
		return false
	}
	fl, mine := c.Claim(k, from, end)
	if !mine {
		return false
	}
	defer c.Land(fl)
	cb := b.convertRest(res, e, r.topic, r.queueID, from)
	if cb == nil {
		return false
	}
	out.parts, out.n = p.Parts(out.parts)
	n := serveMsgs(out, cb.msgs, cb.end, from, room, filter)
	c.Miss(int64(n))
	if n == room && out.next < cb.end {
		c.Insert(k, cb.first, cb.end, []int64{cb.phys}, cb.msgs, int64(cb.size), cb.hold)
	} else if cb.hold != nil {
		cb.hold.Release()
	}
	return true
}
