package consumequeue

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
)

// TestConcurrentReaders runs one writer (appends that roll files, min
// moves that delete them, truncations that re-append the same units) with
// readers that check every unit they get. Run it with -race.
func TestConcurrentReaders(t *testing.T) {
	for _, fsc := range fileSystems() {
		t.Run(fsc.name, func(t *testing.T) {
			fsys, dir := fsc.new(t)
			q := mustOpen(t, fsys, dir, 4)
			var done atomic.Bool
			var wg sync.WaitGroup
			errc := make(chan error, 8)
			for r := range 4 {
				wg.Go(func() {
					if err := readLoop(q, uint64(r), &done); err != nil {
						errc <- err
					}
				})
			}
			n := int64(3000)
			if fsc.name == "os" {
				n = 400 // every roll and truncation fsyncs
			}
			writeLoop(t, q, n)
			done.Store(true)
			wg.Wait()
			close(errc)
			for err := range errc {
				t.Error(err)
			}
			if err := q.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func writeLoop(t *testing.T, q *Queue, n int64) {
	rng := rand.New(rand.NewPCG(7, 7))
	for q.MaxOffset() < n {
		hi := q.MaxOffset()
		var err error
		switch rng.IntN(10) {
		case 0:
			err = q.SetMinOffset(q.MinOffset() + rng.Int64N(hi-q.MinOffset()+1))
		case 1:
			err = q.TruncateAfterCommitLogOffset(unitAt(max(q.MinOffset(), hi-rng.Int64N(6))).CommitLogOffset)
		case 2:
			err = q.Flush()
		default:
			err = q.Append(hi, unitsFrom(hi, 1+rng.Int64N(9)))
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func readLoop(q *Queue, seed uint64, done *atomic.Bool) error {
	rng := rand.New(rand.NewPCG(seed, 0))
	buf := make([]Unit, 0, 7)
	for !done.Load() {
		lo, hi := q.MinOffset(), q.MaxOffset()
		if lo > hi+6 { // max can move back by a truncation, min only forward
			return fmt.Errorf("bounds [%d, %d)", lo, hi)
		}
		o := lo + rng.Int64N(hi-lo+1)
		u, err := q.Get(o)
		if err == nil && u != unitAt(o) {
			return fmt.Errorf("Get(%d) = %+v, want %+v", o, u, unitAt(o))
		}
		if err != nil && !errors.Is(err, ErrOffsetOutOfRange) {
			return err
		}
		got, err := q.Read(o, buf)
		if err != nil && !errors.Is(err, ErrOffsetOutOfRange) {
			return err
		}
		for i, u := range got {
			if u != unitAt(o+int64(i)) {
				return fmt.Errorf("Read(%d)[%d] = %+v, want %+v", o, i, u, unitAt(o+int64(i)))
			}
		}
		if _, err := q.SearchOffset(int64(rng.IntN(3000)), func(u Unit) (int64, error) { return u.CommitLogOffset, nil }); err != nil && !errors.Is(err, ErrOffsetOutOfRange) {
			return err
		}
	}
	return nil
}
