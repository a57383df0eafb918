package kafkaapi

import (
	"slices"
	"time"
)

// Admission to the converted-batch cache (xproto_cache.go). Caching a
// conversion costs its reader: the batch must be a copy of its own (its
// bodies copied out of the mapped CommitLog, fresh memory that the page
// cache's reader never pays for), and only a later read of the same
// offsets gets anything back. A lone consumer reading RocketMQ-produced
// messages never reads them again, and paid that for nothing: franz-go
// read such a partition at 150-460 MB/s with the cache and 570-720
// without it, in the same runs (docs/cross-protocol.md).
//
// So the first conversion of a range is for its fetch alone, uncached,
// its bodies left in place; the cache only remembers the range (a
// doorkeeper, as TinyLFU's). A fetch that misses inside a range converted
// recently (a second consumer group, a re-read, a fetch retried) converts
// it into the cache, and fetches of it at the same moment wait for that
// conversion (xproto_flight.go). Read-ahead (xproto_readahead.go) starts
// only from fetches the cache served or admitted, so a lone reader never
// converts ahead into the cache either. A partition the cache served
// within the last sharedWindow has several readers: its new ranges are
// admitted at first sight, so groups tailing a partition together convert
// each range once; groups starting together on cold data convert it
// twice (the first group alone, the second into the cache).

// maxSeen bounds the ranges remembered; the oldest quarter goes when it
// is reached.
const maxSeen = 1024

// sharedWindow is how long a hit marks its partition as read by several
// consumers.
const sharedWindow = 10 * time.Second

// xcSeen is a range of offsets converted for a fetch without caching.
type xcSeen struct {
	key        queueKey
	first, end int64
}

// admit reports whether a fetch that missed at pos may convert [pos,
// stop) of key into the cache (or wait for a conversion of it under way):
// when a conversion overlapping it runs, one was made recently, or the
// cache served key within sharedWindow. When not, it remembers the range,
// and the fetch converts it for itself.
func (c *xcache) admit(key queueKey, pos, stop int64) bool {
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
	c.seen = append(c.seen, xcSeen{key, pos, stop})
	return false
}

// servedLocked records that the cache served key.
func (c *xcache) servedLocked(key queueKey) {
	c.servedAt[key] = time.Now()
}

// forgetSeenLocked drops what admission remembers of topic.
func (c *xcache) forgetSeenLocked(topic string) {
	c.seen = slices.DeleteFunc(c.seen, func(s xcSeen) bool { return s.key.topic == topic })
	for key := range c.servedAt {
		if key.topic == topic {
			delete(c.servedAt, key)
		}
	}
}
