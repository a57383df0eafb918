package log

import (
	"context"
	"slices"
	"time"
)

// Single flight for Cache. Consumer groups started together read the same
// offsets at the same moment; each missed the cache and converted the
// same entries (about 40% of the records of 4 Kafka groups,
// docs/cross-protocol.md). A reader that misses claims the range it is
// about to convert; a reader that misses inside a claimed range waits for
// that conversion to land and then looks again. A waiter gives up (and
// converts for itself) when its context is done or after FlightWait, so a
// slow or failed conversion never holds other readers up for long; a
// failed one lands like any other.

// Flight is a conversion under way of the offsets [first, end) of a
// queue; done is closed when it has landed (cached or not).
type Flight struct {
	key        QueueKey
	first, end int64
	done       chan struct{}
}

// First and End are the offsets the flight converts.
func (f *Flight) First() int64 { return f.first }
func (f *Flight) End() int64   { return f.end }

// Claim is called after a miss at pos, before converting [pos, stop). It
// returns a flight the caller now owns and must Land (mine), or another
// reader's flight overlapping the range to Wait for, or nil if an item
// holding pos was cached since the miss (look again).
func (c *Cache[V]) Claim(key QueueKey, pos, stop int64) (fl *Flight, mine bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, f := range c.flights[key] {
		if f.first < stop && pos < f.end {
			return f, false
		}
	}
	bs := c.items[key]
	if i := c.searchLocked(bs, pos); i > 0 && pos < bs[i-1].End {
		return nil, false
	}
	fl = &Flight{key: key, first: pos, end: stop, done: make(chan struct{})}
	c.flights[key] = append(c.flights[key], fl)
	c.nflights.Add(1)
	c.converts.Add(1)
	return fl, true
}

// Wait waits for fl to land, at most until ctx is done or FlightWait has
// passed; it reports whether fl landed.
func (c *Cache[V]) Wait(ctx context.Context, fl *Flight) bool {
	if ctx.Err() != nil {
		return false
	}
	c.waits.Add(1)
	t := time.NewTimer(c.cfg.FlightWait)
	defer t.Stop()
	select {
	case <-fl.done:
		return true
	case <-ctx.Done():
	case <-t.C:
	}
	return false
}

// Land ends fl, whether its conversion was cached or not, and wakes its
// waiters. Call it once, also when the conversion failed.
func (c *Cache[V]) Land(fl *Flight) {
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

// WaitAt waits (as Wait) for a conversion under way that covers offset
// off of key, so a reader that follows a read-ahead or another reader
// still converting is served from the cache without reading the store
// for it; it reports whether it waited for one.
func (c *Cache[V]) WaitAt(ctx context.Context, key QueueKey, off int64) bool {
	if c.nflights.Load() == 0 {
		return false
	}
	c.mu.Lock()
	var fl *Flight
	for _, f := range c.flights[key] {
		if f.first <= off && off < f.end {
			fl = f
			break
		}
	}
	c.mu.Unlock()
	return fl != nil && c.Wait(ctx, fl)
}
