package index

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

// TestConcurrentQuery runs queries while the writer puts, rolls, flushes,
// truncates and deletes files (run with -race). Every answer must be in
// newest-first order without repeats.
func TestConcurrentQuery(t *testing.T) {
	x := mustOpen(t, vfsMem(), "i", 8, 20)
	var done atomic.Bool
	var wg sync.WaitGroup
	for r := range 4 {
		wg.Go(func() {
			for i := 0; !done.Load(); i++ {
				got, err := x.Query(fmt.Sprintf("t#%d", (i+r)%10), 50, 0, 1<<40)
				if err != nil {
					t.Errorf("Query: %v", err)
					return
				}
				for j := 1; j < len(got); j++ {
					if got[j] >= got[j-1] {
						t.Errorf("Query answer %v not strictly decreasing", got)
						return
					}
				}
				_ = x.EndPhyOffset()
			}
		})
	}
	phy := int64(0)
	for i := range 3000 {
		phy += int64(i % 2)
		if err := x.Put(fmt.Sprintf("t#%d", i%10), phy, int64(i)); err != nil {
			t.Fatal(err)
		}
		var err error
		switch {
		case i%97 == 0:
			err = x.Flush()
		case i%503 == 0:
			phy -= 10
			err = x.Truncate(phy)
		case i%701 == 0:
			err = x.DeleteBefore(phy - 200)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	done.Store(true)
	wg.Wait()
}
