package kafkaapi

import (
	"slices"
	"sync"
	"sync/atomic"

	"github.com/twinmq/twinmq/broker/log"
)

// Read-ahead for the converted-batch cache (xproto_fetchcache.go). A
// consumer reading RocketMQ-produced messages fetches, handles what it
// got, and fetches the next offsets; without read-ahead each of those
// fetches waits for the conversion of its batch (docs/cross-protocol.md:
// the first conversion of each batch is on every reader's path). Once a
// fetch of a partition has served converted messages, the broker converts
// the next run of RocketMQ messages of that partition (as much as that
// fetch was allowed) in the background, as a flight of the single-flight
// cache, so the next fetch finds it cached or waits only for the rest of
// its conversion. At most one read-ahead runs per partition and
// maxReadAheads in all; a read-ahead is skipped when the partition's end
// is reached, when its offsets are cached or being converted already, or
// when the stored entries there are Kafka batches (served verbatim).

// maxReadAheads bounds the read-aheads running at once.
const maxReadAheads = 4

// readAheads are the partitions with a read-ahead running; mu guards
// keys. n counts the conversions they made (tests).
type readAheads struct {
	mu   sync.Mutex
	keys []queueKey
	n    atomic.Int64
}

// readAheadFrom starts a read-ahead of key from offset from (the offset
// after what a fetch just served) up to maxBytes of stored entries, unless
// one is running for key or maxReadAheads are, or from is the end of the
// partition (end).
func (h *Handler) readAheadFrom(key queueKey, from, end int64, maxBytes int) {
	c := h.xcache
	if c == nil || h.cfg.XProtoReadAhead < 0 || from >= end || maxBytes <= 0 || c.Covers(key, from) {
		return
	}
	a := &h.aheads
	a.mu.Lock()
	if len(a.keys) >= maxReadAheads || slices.Contains(a.keys, key) {
		a.mu.Unlock()
		return
	}
	a.keys = append(a.keys, key)
	a.mu.Unlock()
	go h.readAhead(c, key, from, maxBytes)
}

// end frees key's read-ahead slot.
func (a *readAheads) end(key queueKey) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if i := slices.Index(a.keys, key); i >= 0 {
		a.keys = slices.Delete(a.keys, i, i+1)
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
			h.aheads.end(key)
		}
	}
	defer end()
	rd, err := h.logs.Read(key.Topic, key.Queue, from, log.ReadOptions{MaxBytes: maxBytes})
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
	fl, mine := c.Claim(key, from, from+int64(len(msgs)))
	if !mine {
		return // cached, or being converted by a fetch
	}
	h.aheads.n.Add(1)
	h.convertFlight(c, key, fl, phys, msgs, nil, 0, end)
}
