package kafkaapi

import (
	"context"
	"slices"

	"github.com/twinmq/twinmq/broker/log"
)

// Read-ahead for the converted-batch cache (xproto_cache.go). A consumer
// reading RocketMQ-produced messages fetches, handles what it got, and
// fetches the next offsets; without read-ahead each of those fetches
// waits for the conversion of its batch (docs/cross-protocol.md: the
// first conversion of each batch is on every reader's path). Once a fetch
// of a partition has served converted messages, the broker converts the
// next run of RocketMQ messages of that partition (as much as that fetch
// was allowed) in the background, as a flight of the single-flight cache,
// so the next fetch finds it cached or waits only for the rest of its
// conversion. At most one read-ahead runs per partition and
// maxReadAheads in all; a read-ahead is skipped when the partition's end
// is reached, when its offsets are cached or being converted already, or
// when the stored entries there are Kafka batches (served verbatim).

// maxReadAheads bounds the read-aheads running at once.
const maxReadAheads = 4

// readAheadFrom starts a read-ahead of key from offset from (the offset
// after what a fetch just served) up to maxBytes of stored entries, unless
// one is running for key or maxReadAheads are, or from is the end of the
// partition (end).
func (h *Handler) readAheadFrom(key queueKey, from, end int64, maxBytes int) {
	c := h.xcache
	if c == nil || h.cfg.XProtoReadAhead < 0 || from >= end || maxBytes <= 0 || c.holds(key, from) {
		return
	}
	c.mu.Lock()
	if len(c.aheads) >= maxReadAheads || slices.Contains(c.aheads, key) {
		c.mu.Unlock()
		return
	}
	c.aheads = append(c.aheads, key)
	c.mu.Unlock()
	go h.readAhead(c, key, from, maxBytes)
}

// endAhead frees key's read-ahead slot.
func (c *xcache) endAhead(key queueKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if i := slices.Index(c.aheads, key); i >= 0 {
		c.aheads = slices.Delete(c.aheads, i, i+1)
	}
}

// readAhead converts the run of RocketMQ messages of key that starts at
// from, within maxBytes of stored entries, into the cache c, and frees
// key's read-ahead slot before the batch is cached: the fetch that finds
// it there may start the next read-ahead at once.
func (h *Handler) readAhead(c *xcache, key queueKey, from int64, maxBytes int) {
	ended := false
	end := func() {
		if !ended {
			ended = true
			c.endAhead(key)
		}
	}
	defer end()
	rd, err := h.logs.Read(key.topic, key.part, from, log.ReadOptions{MaxBytes: maxBytes})
	if err != nil {
		return
	}
	defer rd.Release()
	msgs := make([][]byte, 0, len(rd.Entries))
	phys := make([]int64, 0, len(rd.Entries))
	for _, e := range rd.Entries {
		if e.Kind != log.KindRocketMQ || e.QueueOffset != from+int64(len(msgs)) {
			break
		}
		msgs = append(msgs, e.Payload)
		phys = append(phys, e.Phys)
	}
	if len(msgs) == 0 {
		return
	}
	fl, mine := c.claim(key, from, from+int64(len(msgs)))
	if !mine {
		return // cached, or being converted by a fetch
	}
	c.readAheads.Add(1)
	h.convertFlight(c, fl, phys, msgs, nil, 0, end)
}

// waitFlightAt waits (as a fetch that missed waits, c.wait) for a
// conversion under way that covers offset off of key, so a fetch that
// follows a read-ahead still converting is served from the cache without
// reading the store for it; it reports whether it waited for one.
func (c *xcache) waitFlightAt(ctx context.Context, key queueKey, off int64) bool {
	if c.nflights.Load() == 0 {
		return false
	}
	c.mu.Lock()
	var fl *xcFlight
	for _, f := range c.flights[key] {
		if f.first <= off && off < f.end {
			fl = f
			break
		}
	}
	c.mu.Unlock()
	return fl != nil && c.wait(ctx, fl)
}
