package halfmsg

import (
	"container/heap"
	"errors"
)

// Errors of a resolution the core refuses.
var (
	// ErrUnknown: no pending half message has this key and CommitLog
	// offset (never prepared, or already resolved or discarded).
	ErrUnknown = errors.New("halfmsg: no such pending half message")
	// ErrResolving: another resolution of the same half message is under
	// way (a second END_TRANSACTION, or the discard after the last check).
	ErrResolving = errors.New("halfmsg: half message is being resolved")
	// ErrTooMany: MaxPending half messages wait already.
	ErrTooMany = errors.New("halfmsg: too many pending half messages")
)

// Timing holds the check-back settings, in milliseconds.
type Timing struct {
	TimeoutMs  int64 // age of a half message before its first check
	IntervalMs int64 // time between two checks of one half message
	MaxChecks  int   // checks before the half message is discarded
}

// RetryMs is how long a failed check, discard or resolution waits before
// its half message is due again.
const RetryMs = 1000

// Event is an input of Core.Step.
type Event interface{ event() }

// EvPrepared adds a pending half message (a new one, or one replayed at
// start with the checks it already had).
type EvPrepared struct {
	Key, Phys, StoreMs int64
	Checks             int
}

// EvEnd asks to resolve the half message Key at CommitLog offset Phys
// (END_TRANSACTION); the answer is a Resolve or a Reject effect.
type EvEnd struct{ Key, Phys int64 }

// EvEnded says whether the Resolve of Key is durable.
type EvEnded struct {
	Key int64
	OK  bool
}

// EvTick says time has passed.
type EvTick struct{}

// EvChecked says whether a Check of Key was carried out and recorded.
type EvChecked struct {
	Key int64
	OK  bool
}

// EvDiscarded says whether a Discard of Key is durable.
type EvDiscarded struct {
	Key int64
	OK  bool
}

// EvGone says the half message Key is no longer stored (CommitLog
// retention removed it): it is dropped, whatever it was doing.
type EvGone struct{ Key int64 }

func (EvGone) event()      {}
func (EvPrepared) event()  {}
func (EvEnd) event()       {}
func (EvEnded) event()     {}
func (EvTick) event()      {}
func (EvChecked) event()   {}
func (EvDiscarded) event() {}

// Effect is an output of Core.Step.
type Effect interface{ effect() }

// Resolve: append the resolution of Key (its op record last).
type Resolve struct{ Key, Phys int64 }

// Reject: the EvEnd of Key is refused with Err.
type Reject struct {
	Key int64
	Err error
}

// Check: ask a producer for the state of Key's transaction and record
// that it is its Checks-th check.
type Check struct {
	Key, Phys int64
	Checks    int
}

// Discard: give Key up (copy it to CheckMaxTopic with its op record).
type Discard struct{ Key, Phys int64 }

// WakeAt: send an EvTick at AtMs (replaces any earlier WakeAt).
type WakeAt struct{ AtMs int64 }

func (Resolve) effect() {}
func (Reject) effect()  {}
func (Check) effect()   {}
func (Discard) effect() {}
func (WakeAt) effect()  {}

// phase of a pending half message.
type phase uint8

const (
	phaseWaiting    phase = iota // in the due heap
	phaseChecking                // a Check is out
	phaseEnding                  // a Resolve is out
	phaseDiscarding              // a Discard is out
)

type item struct {
	key, phys, storeMs int64
	checks             int
	dueMs              int64
	phase              phase
	idx                int // in the due heap while phaseWaiting
}

// Core is the set of pending half messages and their check schedule.
type Core struct {
	t     Timing
	items map[int64]*item
	due   dueHeap
}

// NewCore returns an empty core.
func NewCore(t Timing) *Core {
	return &Core{t: t, items: make(map[int64]*item)}
}

// Pending returns the number of pending half messages.
func (c *Core) Pending() int { return len(c.items) }

// Checks returns how many checks Key had, and whether it is pending.
func (c *Core) Checks(key int64) (int, bool) {
	it, ok := c.items[key]
	if !ok {
		return 0, false
	}
	return it.checks, true
}

// NextWake returns the earliest due time, if any half message waits.
func (c *Core) NextWake() (int64, bool) {
	if len(c.due) == 0 {
		return 0, false
	}
	return c.due[0].dueMs, true
}

// Step applies one event at nowMs and returns the effects to carry out.
func (c *Core) Step(ev Event, nowMs int64) []Effect {
	var out []Effect
	switch ev := ev.(type) {
	case EvPrepared:
		c.prepared(ev, nowMs)
	case EvEnd:
		out = append(out, c.end(ev))
	case EvEnded:
		if it := c.items[ev.Key]; it != nil && it.phase == phaseEnding {
			if ev.OK {
				delete(c.items, ev.Key)
			} else {
				c.wait(it, max(it.dueMs, nowMs+RetryMs))
			}
		}
	case EvTick:
		out = c.tick(out, nowMs)
	case EvGone:
		if it := c.items[ev.Key]; it != nil {
			c.unwait(it)
			delete(c.items, ev.Key)
		}
	case EvChecked:
		c.checked(ev, nowMs)
	case EvDiscarded:
		if it := c.items[ev.Key]; it != nil && it.phase == phaseDiscarding {
			if ev.OK {
				delete(c.items, ev.Key)
			} else {
				c.wait(it, nowMs+RetryMs)
			}
		}
	}
	if len(c.due) > 0 {
		out = append(out, WakeAt{AtMs: c.due[0].dueMs})
	}
	return out
}

// prepared adds a half message, due Timeout after it was stored, and one
// Interval later per check it already had (a replayed one).
func (c *Core) prepared(ev EvPrepared, nowMs int64) {
	if _, ok := c.items[ev.Key]; ok {
		return // replayed twice: the first one counts
	}
	it := &item{key: ev.Key, phys: ev.Phys, storeMs: ev.StoreMs, checks: ev.Checks}
	c.items[ev.Key] = it
	due := ev.StoreMs + c.t.TimeoutMs + int64(ev.Checks)*c.t.IntervalMs
	if ev.Checks > 0 {
		due = max(due, nowMs) // checked before a restart: not all at once later
	}
	c.wait(it, due)
}

// end starts the resolution of a pending half message that is not being
// resolved already. A Check in flight does not stop it: a producer's
// answer to it is an END_TRANSACTION like any other.
func (c *Core) end(ev EvEnd) Effect {
	it := c.items[ev.Key]
	switch {
	case it == nil || it.phys != ev.Phys:
		return Reject{Key: ev.Key, Err: ErrUnknown}
	case it.phase == phaseEnding || it.phase == phaseDiscarding:
		return Reject{Key: ev.Key, Err: ErrResolving}
	}
	c.unwait(it)
	it.phase = phaseEnding
	return Resolve{Key: it.key, Phys: it.phys}
}

// tick checks, or discards after MaxChecks, every half message due.
func (c *Core) tick(out []Effect, nowMs int64) []Effect {
	for len(c.due) > 0 && c.due[0].dueMs <= nowMs {
		it := c.due[0]
		c.unwait(it)
		if it.checks >= c.t.MaxChecks {
			it.phase = phaseDiscarding
			out = append(out, Discard{Key: it.key, Phys: it.phys})
			continue
		}
		it.phase = phaseChecking
		out = append(out, Check{Key: it.key, Phys: it.phys, Checks: it.checks + 1})
	}
	return out
}

// checked counts a check carried out; the next is one Interval later. A
// check that failed is retried after RetryMs without counting.
func (c *Core) checked(ev EvChecked, nowMs int64) {
	it := c.items[ev.Key]
	if it == nil {
		return // resolved meanwhile
	}
	if ev.OK {
		it.checks++
	}
	if it.phase != phaseChecking {
		return // being resolved meanwhile: the resolution decides
	}
	if ev.OK {
		c.wait(it, nowMs+c.t.IntervalMs)
	} else {
		c.wait(it, nowMs+RetryMs)
	}
}

func (c *Core) wait(it *item, dueMs int64) {
	it.phase, it.dueMs = phaseWaiting, dueMs
	heap.Push(&c.due, it)
}

func (c *Core) unwait(it *item) {
	if it.phase == phaseWaiting && it.idx >= 0 {
		heap.Remove(&c.due, it.idx)
	}
}

// dueHeap orders waiting half messages by due time, then key.
type dueHeap []*item

func (h dueHeap) Len() int { return len(h) }
func (h dueHeap) Less(i, j int) bool {
	if h[i].dueMs != h[j].dueMs {
		return h[i].dueMs < h[j].dueMs
	}
	return h[i].key < h[j].key
}
func (h dueHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].idx, h[j].idx = i, j
}
func (h *dueHeap) Push(x any) {
	it := x.(*item)
	it.idx = len(*h)
	*h = append(*h, it)
}
func (h *dueHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	old[len(old)-1] = nil
	it.idx = -1
	*h = old[:len(old)-1]
	return it
}
