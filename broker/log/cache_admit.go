package log

import (
	"slices"
	"time"
)

// Admission to a Cache with a Doorkeeper. Caching a conversion can cost
// its reader: a cached Kafka batch must be a copy of its own (its bodies
// copied out of the mapped CommitLog, fresh memory that the page cache's
// reader never pays for), and only a later read of the same offsets gets
// anything back. A lone Kafka consumer of RocketMQ-produced messages never
// reads them again, and paid that for nothing: franz-go read such a
// partition at 150-460 MB/s with the cache and 570-720 without it, in the
// same runs (docs/cross-protocol.md).
//
// So with a Doorkeeper the first conversion of a range is for its reader
// alone, uncached; the cache only remembers the range (a doorkeeper, as
// TinyLFU's). A reader that misses inside a range converted recently (a
// second consumer group, a re-read, a fetch retried) converts it into the
// cache, and readers of it at the same moment wait for that conversion
// (cache_flight.go). A queue the cache served within sharedWindow has
// several readers: its new ranges are admitted at first sight, so groups
// tailing a queue together convert each range once; groups starting
// together on cold data convert it twice (the first alone, the second
// into the cache).
//
// Without a Doorkeeper (the RocketMQ pull of a Kafka batch: a lone
// consumer's next pulls read the rest of the batch it stopped in), every
// conversion offered is admitted.

// maxSeen bounds the ranges remembered; the oldest quarter goes when it
// is reached.
const maxSeen = 1024

// sharedWindow is how long a hit marks its queue as read by several
// readers.
const sharedWindow = 10 * time.Second

// seenRange is a range of offsets converted for a reader without caching.
type seenRange struct {
	key        QueueKey
	first, end int64
}

// Admit reports whether a reader that missed at pos may convert [pos,
// stop) of key into the cache (or wait for a conversion of it under
// way): always without a Doorkeeper; else when a conversion overlapping
// it runs, one was made recently, or the cache served key within
// sharedWindow. When not, it remembers the range, and the reader converts
// it for itself.
func (c *Cache[V]) Admit(key QueueKey, pos, stop int64) bool {
	if !c.cfg.Doorkeeper {
		return true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if at, ok := c.servedAt[key]; ok && time.Since(at) < sharedWindow {
		return true
	}
	for _, f := range c.flights[key] {
		if f.first < stop && pos < f.end {
			return true
		}
	}
	for i := len(c.seen) - 1; i >= 0; i-- {
		if s := c.seen[i]; s.key == key && s.first < stop && pos < s.end {
			return true
		}
	}
	if len(c.seen) >= maxSeen {
		c.seen = slices.Delete(c.seen, 0, maxSeen/4)
	}
	c.seen = append(c.seen, seenRange{key, pos, stop})
	return false
}

// forgetSeenLocked drops what admission remembers of topic.
func (c *Cache[V]) forgetSeenLocked(topic string) {
	c.seen = slices.DeleteFunc(c.seen, func(s seenRange) bool { return s.key.Topic == topic })
	for key := range c.servedAt {
		if key.Topic == topic {
			delete(c.servedAt, key)
		}
	}
}
