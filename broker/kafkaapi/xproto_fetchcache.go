package kafkaapi

import (
	"context"

	"github.com/twinmq/twinmq/broker/log"
	"github.com/twinmq/twinmq/broker/topics"
	"github.com/twinmq/twinmq/wire/xproto"
)

// The Kafka side of the cross-protocol cache (broker/log.Cache): Kafka
// record batches converted from RocketMQ-produced messages
// (xproto_fetch.go), so that several consumer groups reading the same
// offsets convert them once (issue 7: "cache converted batches if a
// benchmark shows it pays"; it pays for fan-out and re-reads, see
// docs/cross-protocol.md). An item is one converted batch of the offsets
// [First, End) of a partition, with the CommitLog offset of each message
// it was made from; its Value is the batch, a buffer of its own (no Hold).
// The cache runs with its Doorkeeper: a lone consumer's first conversion
// of a range is not cached (broker/log/cache_admit.go).

// xcache is the cache's type here.
type xcache = log.Cache[[]byte]

// queueKey names a partition.
type queueKey = log.QueueKey

// newXCache returns a cache of max bytes that forgets a topic's batches
// when reg deletes it, or nil (no caching) for max <= 0.
func newXCache(max int64, reg *topics.Registry) *xcache {
	if max <= 0 {
		return nil
	}
	c := log.NewCache[[]byte](log.CacheConfig{MaxBytes: max, Doorkeeper: true})
	if reg != nil {
		// The handler lives as long as the registry; the watch is not
		// stopped (as the handler's own topics.Sizes).
		reg.Watch(func(cfg topics.Config, deleted bool) {
			if deleted {
				c.Forget(cfg.Name)
			}
		})
	}
	return c
}

// XProtoCacheStats reports the converted-batch cache: bytes held, and the
// hits and misses of RocketMQ-produced offsets fetched by Kafka clients
// (all zero when the cache is off).
func (h *Handler) XProtoCacheStats() log.CacheStats {
	if h.xcache == nil {
		return log.CacheStats{}
	}
	return h.xcache.Stats()
}

// convertRun appends to parts the batches for the RocketMQ messages msgs
// at the consecutive offsets base, base+1, ... of key, read from the
// CommitLog offsets phys: cached batches where they cover the offsets
// (wholly within the run, so a fetch is not made larger than its read,
// except by the records before the fetch offset that a batch holding it
// starts with, which clients skip as in stored Kafka batches), converted
// ones in between, cached if the cache admits them. A range another fetch
// is converting is waited for (until ctx is done) instead of converted
// again. It returns parts, their added size, and whether the cache served
// or admitted any of the run (shared).
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
		b, _, next := c.Lookup(key, pos, phys[i], logStart) // no Hold: the batch is a copy
		if b != nil && b.End <= end {
			shared = true
			c.Hit(b.End - pos)
			parts = append(parts, b.Value)
			size += len(b.Value)
			pos = b.End
			continue
		}
		stop := min(end, next)
		if b != nil {
			// Cached, but reaching past this read: converted, not cached.
			c.Miss(stop - pos)
			parts, size = h.appendConverted(h.xconvert, pos, msgs[i:stop-base], parts, size, false)
			pos = stop
			continue
		}
		if !c.Admit(key, pos, stop) {
			c.Miss(stop - pos)
			parts, size = h.appendConverted(h.xconvert, pos, msgs[i:stop-base], parts, size, false)
			pos = stop
			continue
		}
		shared = true
		fl, mine := c.Claim(key, pos, stop)
		if fl == nil {
			continue // cached since the lookup
		}
		if !mine {
			// Wait once per offset: a flight that landed without caching
			// (failed, too large) is not waited for again.
			if waited != pos && c.Wait(ctx, fl) {
				waited = pos
				continue // look again: the batch is likely cached now
			}
			c.Miss(stop - pos)
			parts, size = h.appendConverted(h.xconvert, pos, msgs[i:stop-base], parts, size, false)
			pos = stop
			continue
		}
		c.Miss(stop - pos)
		parts, size = h.convertFlight(c, key, fl, phys[i:stop-base], msgs[i:stop-base], parts, size, nil)
		pos = stop
	}
	return parts, size, shared
}

// convertFlight converts the range fl claimed, caches it and lands the
// flight, also when the conversion fails or panics, so no waiter is
// left waiting for it. converted, if not nil, runs once the batch is
// converted, before it is cached.
func (h *Handler) convertFlight(c *xcache, key queueKey, fl *log.Flight, phys []int64, msgs [][]byte, parts [][]byte, size int, converted func()) ([][]byte, int) {
	defer c.Land(fl)
	n := len(parts)
	parts, size = h.appendConverted(h.xconvert, fl.First(), msgs, parts, size, true)
	if converted != nil {
		converted()
	}
	if len(parts) == n+1 {
		c.Insert(key, fl.First(), fl.End(), phys, parts[n], int64(cap(parts[n])), nil)
	}
	return parts, size
}

// converter appends to parts the Kafka batch of the RocketMQ messages
// msgs at the offsets base, base+1, ... and returns the parts and the
// batch's size. With own, the batch is one part in memory of its own,
// which the cache may keep; without, the parts may be slices of msgs
// (the bodies, not copied), valid only while the read that msgs came
// from is held: the fetch releases it once they are written.
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

// readParts reads a partition for a fetch from offset: the cached batches
// holding offset and the offsets after it when there are any (then only
// the ConsumeQueue is read, to check that each batch's first offset is
// still the message it was made from), else the stored entries, converted
// where RocketMQ-produced (fetchParts). The ReadResult, nil when the cache
// served the fetch, is released by the caller once the parts are written.
// next is the offset after the batches returned.
//
// A fetch that the cache served or admitted starts a read-ahead of the
// offsets after them (xproto_fetchahead.go); a fetch whose offset a
// read-ahead is converting waits for it before reading.
func (h *Handler) readParts(ctx context.Context, topic string, part int32, offset, logStart int64, opt log.ReadOptions) (_ *log.ReadResult, _ [][]byte, size int, next int64, _ error) {
	key := queueKey{Topic: topic, Queue: part}
	if h.xcache != nil {
		h.xcache.WaitAt(ctx, key, offset)
	}
	if parts, size, next, end := h.cachedParts(key, offset, logStart, opt); parts != nil {
		h.readAheadFrom(key, next, end, opt.MaxBytes)
		return nil, parts, size, next, nil
	}
	rd, err := h.logs.Read(topic, part, offset, opt)
	if err != nil {
		return nil, nil, 0, 0, err
	}
	parts, size, shared := h.fetchParts(ctx, topic, part, logStart, rd.Entries)
	if n := len(rd.Entries); shared && n > 0 && rd.Entries[n-1].Kind == log.KindRocketMQ {
		h.readAheadFrom(key, rd.Next, rd.End, opt.MaxBytes)
	}
	return rd, parts, size, rd.Next, nil
}

// cachedParts returns consecutive cached batches from offset within
// opt.MaxBytes (the first whatever its size unless StrictMaxBytes, as
// log.Log.Read), or no parts, the offset after the batches, and the
// partition's visible end.
func (h *Handler) cachedParts(key queueKey, offset, logStart int64, opt log.ReadOptions) (parts [][]byte, size int, next, end int64) {
	c := h.xcache
	if c == nil || !c.Covers(key, offset) {
		return nil, 0, offset, 0
	}
	for {
		if opt.Until > 0 && offset >= opt.Until {
			break // a read_committed fetch stops at the LSO
		}
		phys, _, e, err := h.logs.EntryAt(key.Topic, key.Queue, offset)
		if err != nil {
			break
		}
		end = e
		b, _, _ := c.Lookup(key, offset, phys, logStart)
		if b == nil || (size+len(b.Value) > opt.MaxBytes && (size > 0 || opt.StrictMaxBytes)) {
			break
		}
		c.Hit(b.End - offset)
		parts = append(parts, b.Value)
		size += len(b.Value)
		offset = b.End
		if !c.Covers(key, offset) {
			break
		}
	}
	return parts, size, offset, end
}
