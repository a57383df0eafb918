package commitlog

import (
	"bytes"
	"testing"
	"time"

	"github.com/twinmq/twinmq/storage/vfs"
)

// TestZeroFillerKeepsAhead: once the first append has zero-filled, the
// filler goroutine keeps the zeros ahead of the appends, which then never
// fill inline, across pieces and a segment roll; the entries read back and
// recover as always.
func TestZeroFillerKeepsAhead(t *testing.T) {
	for _, mapped := range []bool{false, true} {
		fs := vfs.NewMem()
		opt := testOptions(fs, 8<<20)
		opt.ZeroAhead, opt.MappedWrites, opt.MappedMinUnflushed = 512<<10, mapped, -1
		l, err := Open(opt)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.Recover(0, func(int64, *Header) error { return nil }); err != nil {
			t.Fatal(err)
		}
		za, _ := l.zeroAhead()
		// caughtUp: no fill under way and more than za zeros ahead, so
		// the next append cannot need an inline fill.
		caughtUp := func() bool {
			l.mu.Lock()
			defer l.mu.Unlock()
			segEnd := l.active.start + opt.SegmentSize
			return l.zeroFill == nil && (l.zeroed > l.written.Load()+za || l.zeroed == segEnd)
		}
		payload := bytes.Repeat([]byte("z"), 8<<10)
		var n int
		for l.written.Load() < 20<<20 { // over two segment rolls
			if _, err := l.Append([]Entry{{Kind: KindRocketMQ, Topic: "T", Count: 1, Payload: payload}}, nil); err != nil {
				t.Fatal(err)
			}
			n++
			deadline := time.Now().Add(10 * time.Second)
			for !caughtUp() {
				if time.Now().After(deadline) {
					t.Fatalf("mapped %v: the filler did not catch up after append %d", mapped, n)
				}
				time.Sleep(100 * time.Microsecond)
			}
		}
		l.mu.Lock()
		inline := l.inlineFills
		l.mu.Unlock()
		// One inline fill at the start of each segment: the first append
		// into a new segment finds no zeros.
		if inline != 3 {
			t.Fatalf("mapped %v: %d inline zero-fills over %d appends, want 3 (one per segment)", mapped, inline, n)
		}
		if _, err := l.Flush(); err != nil {
			t.Fatal(err)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		l2, _, seen := openRecovered(t, fs, 8<<20, 0)
		l2.Close()
		if len(seen) != n {
			t.Fatalf("mapped %v: recovered %d entries, want %d", mapped, len(seen), n)
		}
	}
}
