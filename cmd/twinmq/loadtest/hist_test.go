package loadtest

import (
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestHistogramBuckets: every value falls in a bucket whose lower bound
// is at most the value and within 1/64 of it, and buckets are in order.
func TestHistogramBuckets(t *testing.T) {
	prev := -1
	for _, v := range []int64{0, 1, 63, 64, 65, 127, 128, 129, 1000, 4095, 4096, 1 << 20, 1<<20 + 12345, 1 << 39, 1<<40 - 1} {
		b := bucketOf(v)
		lo := lowerBound(b)
		if lo > v || float64(v-lo) > float64(v)/64 {
			t.Errorf("value %d: bucket %d from %d", v, b, lo)
		}
		if b < prev {
			t.Errorf("value %d: bucket %d below the previous %d", v, b, prev)
		}
		prev = b
		if b+1 < buckets && lowerBound(b+1) <= v {
			t.Errorf("value %d: bucket %d, but bucket %d starts at %d", v, b, b+1, lowerBound(b+1))
		}
	}
	if b := bucketOf(1 << 50); b != buckets-1 {
		t.Errorf("a huge value went to bucket %d", b)
	}
}

// TestHistogramQuantiles: the quantiles of random durations recorded from
// several goroutines are within 1/64 of the exact ones.
func TestHistogramQuantiles(t *testing.T) {
	var h Histogram
	rng := rand.New(rand.NewPCG(1, 2))
	vals := make([]time.Duration, 20000)
	for i := range vals {
		vals[i] = time.Duration(rng.ExpFloat64()*5000) * time.Microsecond
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for _, v := range vals[g*5000 : (g+1)*5000] {
				h.Record(v)
			}
		})
	}
	wg.Wait()
	if h.Count() != int64(len(vals)) {
		t.Fatalf("count %d", h.Count())
	}
	slices.Sort(vals)
	for _, q := range []float64{0.5, 0.99, 0.999} {
		exact := vals[int(q*float64(len(vals)))-1].Microseconds()
		got := h.Quantile(q).Microseconds()
		if diff := exact - got; diff < -1 || float64(diff) > float64(exact)/64+1 {
			t.Errorf("p%v: %d µs, exact %d µs", q*100, got, exact)
		}
	}
	var empty Histogram
	if empty.Quantile(0.99) != 0 {
		t.Error("quantile of nothing")
	}
}
