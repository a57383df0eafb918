package netio

import (
	"context"
	"sync"
	"sync/atomic"
)

// Budget is a broker-wide bound on memory, in bytes, that several Servers
// (the Kafka and the RocketMQ listener) and the adapters share: Kafka's
// queued.max.request.bytes. netio charges it for every request byte it
// holds outside gnet's read buffer, from the moment it copies the first
// byte of a frame until the handler calls done: frames being assembled,
// frames waiting in a connection's read-ahead queue, frames in flight.
// A connection that cannot charge its next bytes stops taking them and
// waits; Release wakes it.
//
// A charge that would pass the limit is refused unless nothing is
// charged at all, so that one request larger than the whole budget
// still goes through (alone). The zero value has no limit; a nil *Budget
// charges nothing. Its methods are safe from any goroutine.
type Budget struct {
	limit      int64
	used       atomic.Int64
	peak       atomic.Int64
	periodPeak atomic.Int64 // since the last TakePeak

	// nwait counts waiters so that Release looks at mu only when one
	// may be there.
	nwait atomic.Int32
	mu    sync.Mutex
	wait  []func() // guarded by mu
}

// NewBudget returns a Budget of limit bytes; limit <= 0 means no limit.
func NewBudget(limit int64) *Budget { return &Budget{limit: limit} }

// Limit is the budget's size in bytes (0: none).
func (b *Budget) Limit() int64 {
	if b == nil {
		return 0
	}
	return b.limit
}

// Used is the bytes charged now.
func (b *Budget) Used() int64 {
	if b == nil {
		return 0
	}
	return b.used.Load()
}

// Peak is the most bytes ever charged at once.
func (b *Budget) Peak() int64 {
	if b == nil {
		return 0
	}
	return b.peak.Load()
}

// TakePeak returns the most bytes charged at once since the last
// TakePeak (or since the start) and starts a new period at what is
// charged now. Peak is not affected.
func (b *Budget) TakePeak() int64 {
	if b == nil {
		return 0
	}
	return b.periodPeak.Swap(b.used.Load())
}

// TryCharge charges n bytes if they fit, and reports whether it did.
func (b *Budget) TryCharge(n int64) bool {
	if b == nil || n <= 0 {
		return true
	}
	for {
		used := b.used.Load()
		if b.limit > 0 && used > 0 && used+n > b.limit {
			return false
		}
		if b.used.CompareAndSwap(used, used+n) {
			// A lost race only understates a peak.
			if p := b.peak.Load(); used+n > p {
				b.peak.CompareAndSwap(p, used+n)
			}
			if p := b.periodPeak.Load(); used+n > p {
				b.periodPeak.CompareAndSwap(p, used+n)
			}
			return true
		}
	}
}

// ChargeOrWait charges n bytes if they fit and reports true; otherwise it
// arranges for wake to be called once, after some bytes were released,
// and reports false: the caller tries again then. wake must not block.
func (b *Budget) ChargeOrWait(n int64, wake func()) bool {
	if b.TryCharge(n) {
		return true
	}
	b.mu.Lock()
	b.wait = append(b.wait, wake)
	b.nwait.Add(1)
	b.mu.Unlock()
	// A Release between the failed charge and the registration saw no
	// waiter: look again now that it would see us.
	if b.TryCharge(n) {
		// Registered anyway: the wake-up will find nothing to do.
		return true
	}
	return false
}

// Charge charges n bytes, waiting for room until ctx ends (then it
// returns ctx's error, having charged nothing). For callers off the event
// loop that hold no other charge while they wait, so waiting cannot
// deadlock: the decompression of a batch waits here for its whole limit.
func (b *Budget) Charge(ctx context.Context, n int64) error {
	for {
		ready := make(chan struct{}, 1)
		if b.ChargeOrWait(n, func() {
			select {
			case ready <- struct{}{}:
			default:
			}
		}) {
			return nil
		}
		select {
		case <-ready:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Release gives back n bytes charged before and wakes every waiter.
func (b *Budget) Release(n int64) {
	if b == nil || n <= 0 {
		return
	}
	b.used.Add(-n)
	if b.nwait.Load() == 0 {
		return
	}
	b.mu.Lock()
	wait := b.wait
	b.wait = nil
	b.nwait.Store(0)
	b.mu.Unlock()
	for _, wake := range wait {
		wake()
	}
}
