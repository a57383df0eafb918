package log

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twinmq/twinmq/storage"
)

func openStore(t *testing.T) *storage.Store {
	t.Helper()
	s, err := storage.Open(context.Background(), storage.Config{Dir: t.TempDir(), SegmentSize: 1 << 20,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func appendOne(t *testing.T, s *storage.Store, topic string, queue int32) {
	t.Helper()
	e := storage.Entry{Kind: storage.KindRocketMQ, Topic: topic, QueueID: queue, Count: 1, Payload: []byte("x")}
	if _, err := s.Append(context.Background(), []storage.Entry{e}); err != nil {
		t.Fatal(err)
	}
}

// answers collects the reasons a test's holds were answered with.
type answers struct {
	mu  sync.Mutex
	got map[string][]Reason
	ch  chan string
}

func newAnswers() *answers { return &answers{got: map[string][]Reason{}, ch: make(chan string, 100)} }

func (a *answers) fn(name string) func(Reason) {
	return func(r Reason) {
		a.mu.Lock()
		a.got[name] = append(a.got[name], r)
		a.mu.Unlock()
		a.ch <- name
	}
}

// wait returns the next answered hold's name and reason.
func (a *answers) wait(t *testing.T) (string, Reason) {
	t.Helper()
	select {
	case name := <-a.ch:
		a.mu.Lock()
		defer a.mu.Unlock()
		rs := a.got[name]
		return name, rs[len(rs)-1]
	case <-time.After(20 * time.Second):
		t.Fatal("no hold answered")
		return "", 0
	}
}

func (a *answers) none(t *testing.T) {
	t.Helper()
	select {
	case name := <-a.ch:
		t.Fatalf("%s answered", name)
	default:
	}
}

// holdObs counts observed hold times and keeps the last, in ms (rounded
// up).
type holdObs struct{ n, last atomic.Int64 }

func (o *holdObs) Observe(s float64) {
	o.n.Add(1)
	o.last.Store(int64(s*1000 + 0.999))
}

// TestHolds: a parked read is answered once, for the first of: its queue
// grows past its offset, its wait ends, its owner is cut, the holds
// drain; and only the owner's reads are cut.
func TestHolds(t *testing.T) {
	for _, workers := range []int{0, 2} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			s := openStore(t)
			appendOne(t, s, "T", 0) // queue T/0 at max offset 1
			h := NewHolds(s, HoldsConfig{Workers: workers})
			defer h.Close()
			var held [numReasons]holdObs
			h.SetObserver(func(r Reason) Observer { return &held[r] })
			a := newAnswers()
			long := time.Hour

			// Already past its offset: answered at once, not on Park's
			// goroutine (Park returns first: the answer would deadlock
			// on the hold's lock otherwise).
			h.Park("c1", []Watch{{"T", 0, 0}}, long, a.fn("grown"))
			if name, r := a.wait(t); name != "grown" || r != Woken {
				t.Fatalf("%s %v, want grown woken", name, r)
			}

			// Woken by an append to one of its queues, not another.
			h.Park("c1", []Watch{{"T", 0, 1}, {"U", 3, 0}}, long, a.fn("append"))
			appendOne(t, s, "T", 1)
			a.none(t)
			appendOne(t, s, "U", 3)
			if name, r := a.wait(t); name != "append" || r != Woken {
				t.Fatalf("%s %v, want append woken", name, r)
			}

			// Timeout.
			h.Park("c1", []Watch{{"T", 0, 5}}, time.Millisecond, a.fn("timeout"))
			if name, r := a.wait(t); name != "timeout" || r != Timeout {
				t.Fatalf("%s %v, want timeout", name, r)
			}

			// Cut answers the owner's holds only.
			h.Park("c1", []Watch{{"T", 0, 5}}, long, a.fn("c1-a"))
			h.Park("c1", []Watch{{"T", 0, 5}}, long, a.fn("c1-b"))
			h.Park("c2", []Watch{{"T", 0, 5}}, long, a.fn("c2"))
			h.Park(nil, []Watch{{"T", 0, 5}}, long, a.fn("nobody"))
			h.Cut("c1")
			cut := map[string]bool{}
			for range 2 {
				name, r := a.wait(t)
				if r != Cut {
					t.Fatalf("%s %v, want cut", name, r)
				}
				cut[name] = true
			}
			if !cut["c1-a"] || !cut["c1-b"] {
				t.Fatalf("cut %v, want c1's two", cut)
			}
			a.none(t)

			// Drain answers the rest, and later holds at once.
			h.Drain()
			for range 2 {
				if name, r := a.wait(t); r != Cut || (name != "c2" && name != "nobody") {
					t.Fatalf("%s %v after Drain", name, r)
				}
			}
			h.Park("c3", []Watch{{"T", 0, 5}}, long, a.fn("late"))
			if name, r := a.wait(t); name != "late" || r != Cut {
				t.Fatalf("%s %v, want late cut", name, r)
			}
			// Appends after all that wake nobody twice.
			appendOne(t, s, "T", 0)
			a.none(t)
			for name, rs := range a.got {
				if len(rs) != 1 {
					t.Errorf("%s answered %d times: %v", name, len(rs), rs)
				}
			}
			// Each answer's hold time went to its reason's observer.
			for r, want := range [numReasons]int64{Woken: 2, Timeout: 1, Cut: 5} {
				if got := held[r].n.Load(); got != want {
					t.Errorf("%v: %d hold times observed, want %d", Reason(r), got, want)
				}
			}
			if ms := held[Timeout].last.Load(); ms < 1 {
				t.Errorf("a 1 ms timeout observed as %d ms", ms)
			}
			h.mu.Lock()
			defer h.mu.Unlock()
			if len(h.byOwner) != 0 {
				t.Errorf("%d owners still recorded", len(h.byOwner))
			}
		})
	}
}

// TestHoldsOnceUnderRaces: appends, timers, cuts and a drain racing over
// many holds answer each exactly once (run with -race).
func TestHoldsOnceUnderRaces(t *testing.T) {
	s := openStore(t)
	h := NewHolds(s, HoldsConfig{Workers: 2, Queue: 4})
	const n = 400
	var answered [n]atomic.Int32
	var wg, appends sync.WaitGroup
	wg.Add(n)
	for i := range n {
		owner := i % 7
		h.Park(owner, []Watch{{"R", int32(i % 3), int64(i % 5)}}, time.Duration(i%4)*time.Millisecond, func(Reason) {
			answered[i].Add(1)
			wg.Done()
		})
		switch i % 50 {
		case 10:
			appends.Add(1)
			go func() { // t.Fatal is for the test's goroutine
				defer appends.Done()
				e := storage.Entry{Kind: storage.KindRocketMQ, Topic: "R", QueueID: int32(i % 3), Count: 1, Payload: []byte("x")}
				if _, err := s.Append(context.Background(), []storage.Entry{e}); err != nil {
					t.Error(err)
				}
			}()
		case 20:
			go h.Cut(owner)
		}
	}
	go h.Close()
	wg.Wait()
	appends.Wait() // before the store closes (the test's cleanup)
	for i := range n {
		if got := answered[i].Load(); got != 1 {
			t.Fatalf("hold %d answered %d times", i, got)
		}
	}
}
