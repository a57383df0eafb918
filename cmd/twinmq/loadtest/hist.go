package loadtest

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// Histogram counts durations in log-linear buckets, HdrHistogram's layout
// with 2 significant digits: values below 2^subBits µs have a bucket each,
// above that every power of two is split into 2^subBits buckets, so a
// quantile is within 1/64 (1.6 %) of the true value. Record and Quantile
// are safe to call concurrently (atomic counters, no lock), which is what
// a progress line needs while producers and consumers record.
// (github.com/HdrHistogram/hdrhistogram-go is not in the module set this
// project builds with; this is the part of it the load tools need.)
type Histogram struct {
	counts [buckets]atomic.Int64
	total  atomic.Int64
}

const (
	subBits = 6  // 64 buckets per power of two
	maxExp  = 40 // up to 2^40 µs (12.7 days); more is clamped
	buckets = (maxExp + 1) << subBits
)

// bucketOf is the bucket of v microseconds.
func bucketOf(v int64) int {
	if v < 1<<subBits {
		return int(max(v, 0))
	}
	exp := bits.Len64(uint64(v)) - 1 - subBits // v >> exp has subBits+1 bits
	if exp >= maxExp {
		return buckets - 1
	}
	return (exp+1)<<subBits + int(v>>exp) - 1<<subBits
}

// lowerBound is the smallest value, in µs, of bucket i.
func lowerBound(i int) int64 {
	if i < 1<<subBits {
		return int64(i)
	}
	exp := i>>subBits - 1
	return (int64(i&(1<<subBits-1)) + 1<<subBits) << exp
}

// Record counts d.
func (h *Histogram) Record(d time.Duration) {
	h.counts[bucketOf(d.Microseconds())].Add(1)
	h.total.Add(1)
}

// Count is how many durations were recorded.
func (h *Histogram) Count() int64 { return h.total.Load() }

// Quantile returns the q-quantile (0 < q <= 1) of what was recorded, the
// lower bound of its bucket; 0 when nothing was.
func (h *Histogram) Quantile(q float64) time.Duration {
	n := h.total.Load()
	if n == 0 {
		return 0
	}
	rank := int64(q*float64(n) + 0.5)
	rank = min(max(rank, 1), n)
	var seen int64
	for i := range h.counts {
		if seen += h.counts[i].Load(); seen >= rank {
			return time.Duration(lowerBound(i)) * time.Microsecond
		}
	}
	return time.Duration(lowerBound(buckets-1)) * time.Microsecond
}
