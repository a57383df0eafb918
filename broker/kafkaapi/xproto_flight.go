package kafkaapi

import (
	"context"
	"slices"
	"time"
)

// Single flight for the converted-batch cache (xproto_cache.go). Consumer
// groups started together fetch the same offsets at the same moment; each
// missed the cache and converted the same batch (about 40% of the records
// of 4 groups, docs/cross-protocol.md). A fetch that misses now claims the
// range it is about to convert; a fetch that misses inside a claimed range
// waits for that conversion to land and then reads the cache. A waiter
// gives up (and converts itself, as before) when its fetch's context is
// done or after xcFlightWait, so a slow or failed conversion never holds
// up other fetches for long; a failed one ends its flight like any other.

// xcFlightWait bounds one wait for another fetch's conversion (a 1 MiB
// batch takes about a millisecond).
const xcFlightWait = time.Second

// xcFlight is a conversion under way of the offsets [first, end) of key;
// done is closed when it has landed in the cache (or failed).
type xcFlight struct {
	key        queueKey
	first, end int64
	done       chan struct{}
}

// claim is called after a miss at pos, before converting [pos, stop). It
// returns a flight the caller now owns and must land (mine), or another
// fetch's flight overlapping the range to wait for, or nil if a batch
// holding pos was cached since the lookup (look again).
func (c *xcache) claim(key queueKey, pos, stop int64) (fl *xcFlight, mine bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, f := range c.flights[key] {
		if f.first < stop && pos < f.end {
			return f, false
		}
	}
	bs := c.parts[key]
	i, _ := slices.BinarySearchFunc(bs, pos+1, func(b *xcBatch, t int64) int { return cmpInt64(b.first, t) })
	if i > 0 && pos < bs[i-1].end {
		return nil, false
	}
	fl = &xcFlight{key: key, first: pos, end: stop, done: make(chan struct{})}
	c.flights[key] = append(c.flights[key], fl)
	c.nflights.Add(1)
	return fl, true
}

// wait waits for fl to land, at most until ctx is done or xcFlightWait
// has passed; it reports whether fl landed.
func (c *xcache) wait(ctx context.Context, fl *xcFlight) bool {
	if ctx.Err() != nil {
		return false
	}
	c.waits.Add(1)
	t := time.NewTimer(xcFlightWait)
	defer t.Stop()
	select {
	case <-fl.done:
		return true
	case <-ctx.Done():
	case <-t.C:
	}
	return false
}

// land ends fl, whether its batch was cached or not, and wakes its
// waiters.
func (c *xcache) land(fl *xcFlight) {
	c.mu.Lock()
	c.nflights.Add(-1)
	fs := c.flights[fl.key]
	if i := slices.Index(fs, fl); i >= 0 {
		fs = slices.Delete(fs, i, i+1)
	}
	if len(fs) == 0 {
		delete(c.flights, fl.key)
	} else {
		c.flights[fl.key] = fs
	}
	c.mu.Unlock()
	close(fl.done)
}
