package timer

import (
	"container/heap"
	"slices"
)

// wheel is the timer state with no I/O and no clock (STYLE.md habit 8):
// the driver (Service) feeds it what it read and appended, and asks it
// what to load, what to fire and when to wake.
//
// Pending timers live on disk, in chains of records per slot (slotMs
// wide); memory holds one chain head per pending slot, which a maximum
// delay bounds (3 days of 1 s slots), whatever the number of timers. A
// slot is loaded into the heap lookaheadMs before it starts; the heap fires
// each timer at its own DueMs. A timer that arrives for a slot already
// loaded goes straight to the heap (and to the slot's chain, for restart).
type wheel struct {
	slotMs, lookaheadMs int64

	heads       map[int64]int64              // slot -> newest chain record (CommitLog offset)
	fired       map[int64]map[int64]struct{} // slot -> timers fired, until the slot is done
	pending     map[int64]int                // loaded slot -> timers still in the heap
	loadedUntil int64                        // first slot not loaded
	ingested    int64                        // TimerTopic offset ingested through
	heap        timerHeap
}

// item is a timer in the heap with the slot whose chain holds it.
type item struct {
	Timer
	slot int64
}

type timerHeap []item

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	return h[i].DueMs < h[j].DueMs || h[i].DueMs == h[j].DueMs && h[i].Phys < h[j].Phys
}
func (h timerHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *timerHeap) Push(x any)   { *h = append(*h, x.(item)) }
func (h *timerHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}

func newWheel(slotMs, lookaheadMs int64) *wheel {
	return &wheel{
		slotMs: slotMs, lookaheadMs: lookaheadMs,
		heads: map[int64]int64{}, fired: map[int64]map[int64]struct{}{}, pending: map[int64]int{},
	}
}

func (w *wheel) slotOf(dueMs int64) int64 {
	if dueMs < 0 {
		return -1
	}
	return dueMs / w.slotMs
}

// replayChain applies a chain record found at phys at start.
func (w *wheel) replayChain(c chainRec, phys int64) {
	w.heads[c.slot] = phys
	w.ingested = max(w.ingested, c.ingestedTo)
}

// replayFired applies a fired record at start.
func (w *wheel) replayFired(fs []firedSlot) {
	for _, f := range fs {
		if f.done {
			delete(w.heads, f.slot)
			delete(w.fired, f.slot)
			continue
		}
		w.markFired(f.slot, f.phys)
	}
}

func (w *wheel) markFired(slot int64, phys []int64) {
	set := w.fired[slot]
	if set == nil {
		set = map[int64]struct{}{}
		w.fired[slot] = set
	}
	for _, p := range phys {
		set[p] = struct{}{}
	}
}

// snapshot is the durable state: chain heads, fired sets, ingest cursor.
func (w *wheel) snapshot() snapRec {
	r := snapRec{ingestedTo: w.ingested, heads: make(map[int64]int64, len(w.heads)), fired: make(map[int64][]int64, len(w.fired))}
	for s, p := range w.heads {
		r.heads[s] = p
	}
	for s, set := range w.fired {
		for p := range set {
			r.fired[s] = append(r.fired[s], p)
		}
	}
	return r
}

// replaySnapshot resets the durable state to a snapshot found at start.
func (w *wheel) replaySnapshot(r snapRec) {
	w.heads, w.fired = r.heads, map[int64]map[int64]struct{}{}
	for s, phys := range r.fired {
		w.markFired(s, phys)
	}
	w.ingested = max(w.ingested, r.ingestedTo)
}

// start sets the first slot to load: the oldest pending slot, or now's.
func (w *wheel) start(nowMs int64) {
	w.loadedUntil = w.slotOf(nowMs)
	for s := range w.heads {
		w.loadedUntil = min(w.loadedUntil, s)
	}
}

// plan groups ingested timers into chain records, one per slot, linked to
// the slot's chain; the last record carries ingestedTo.
func (w *wheel) plan(timers []Timer, ingestedTo int64) []chainRec {
	bySlot := map[int64][]Timer{}
	for _, t := range timers {
		s := w.slotOf(t.DueMs)
		bySlot[s] = append(bySlot[s], t)
	}
	slots := make([]int64, 0, len(bySlot))
	for s := range bySlot {
		slots = append(slots, s)
	}
	slices.Sort(slots)
	recs := make([]chainRec, len(slots))
	for i, s := range slots {
		prev, ok := w.heads[s]
		if !ok {
			prev = -1
		}
		recs[i] = chainRec{slot: s, prev: prev, ingestedTo: -1, timers: bySlot[s]}
	}
	if len(recs) > 0 {
		recs[len(recs)-1].ingestedTo = ingestedTo
	}
	return recs
}

// chained records that the planned records are durable at phys[i]; timers
// of slots already loaded go to the heap at once.
func (w *wheel) chained(recs []chainRec, phys []int64, ingestedTo int64) {
	for i, c := range recs {
		w.heads[c.slot] = phys[i]
		if c.slot < w.loadedUntil {
			for _, t := range c.timers {
				heap.Push(&w.heap, item{t, c.slot})
			}
			w.pending[c.slot] += len(c.timers)
		}
	}
	w.ingested = max(w.ingested, ingestedTo)
}

// nextLoad returns the next slot to load by nowMs: one with a chain whose
// start is within the lookahead. Empty slots on the way are skipped.
func (w *wheel) nextLoad(nowMs int64) (int64, bool) {
	for (w.loadedUntil)*w.slotMs <= nowMs+w.lookaheadMs {
		if _, ok := w.heads[w.loadedUntil]; ok {
			return w.loadedUntil, true
		}
		w.loadedUntil++
	}
	return 0, false
}

// head returns a slot's newest chain record.
func (w *wheel) head(slot int64) int64 { return w.heads[slot] }

// loaded puts a slot's timers (read from its chain) into the heap, less
// the ones fired before a restart and duplicates.
func (w *wheel) loaded(slot int64, timers []Timer) {
	w.loadedUntil = max(w.loadedUntil, slot+1)
	fired := w.fired[slot]
	seen := make(map[int64]struct{}, len(timers))
	n := 0
	for _, t := range timers {
		if _, ok := fired[t.Phys]; ok {
			continue
		}
		if _, ok := seen[t.Phys]; ok {
			continue // ingested twice across a crash
		}
		seen[t.Phys] = struct{}{}
		heap.Push(&w.heap, item{t, slot})
		n++
	}
	if n == 0 {
		w.forget(slot)
		return
	}
	w.pending[slot] = n
}

func (w *wheel) forget(slot int64) {
	delete(w.heads, slot)
	delete(w.fired, slot)
	delete(w.pending, slot)
}

// due pops up to max timers due by nowMs.
func (w *wheel) due(nowMs int64, max int) []item {
	var out []item
	for len(w.heap) > 0 && w.heap[0].DueMs <= nowMs && len(out) < max {
		out = append(out, heap.Pop(&w.heap).(item))
	}
	return out
}

// unpop returns timers whose delivery failed.
func (w *wheel) unpop(items []item) {
	for _, it := range items {
		heap.Push(&w.heap, it)
	}
}

// firedPlan is the fired record of a batch: per slot, the timers, and
// done when the batch empties a loaded slot.
func (w *wheel) firedPlan(items []item) []firedSlot {
	idx := map[int64]int{}
	var out []firedSlot
	for _, it := range items {
		i, ok := idx[it.slot]
		if !ok {
			i = len(out)
			idx[it.slot] = i
			out = append(out, firedSlot{slot: it.slot})
		}
		out[i].phys = append(out[i].phys, it.Phys)
	}
	for i := range out {
		out[i].done = w.pending[out[i].slot] == len(out[i].phys)
	}
	return out
}

// fired applies a durable fired record.
func (w *wheel) firedDone(fs []firedSlot) {
	for _, f := range fs {
		if f.done {
			w.forget(f.slot)
			continue
		}
		w.pending[f.slot] -= len(f.phys)
		w.markFired(f.slot, f.phys)
	}
}

// nextWake is when the driver must act next: the heap's first timer or the
// next slot's load time, whichever is first (ok false: neither).
func (w *wheel) nextWake() (int64, bool) {
	at, ok := int64(0), false
	if len(w.heap) > 0 {
		at, ok = w.heap[0].DueMs, true
	}
	// Some slot is not loaded yet: wake at the next slot's load time
	// (nextLoad skips empty slots then).
	if len(w.heads) > len(w.pending) {
		if t := w.loadedUntil*w.slotMs - w.lookaheadMs; !ok || t < at {
			at, ok = t, true
		}
	}
	return at, ok
}

// pendingSlots is the number of chain heads held (the memory bound).
func (w *wheel) pendingSlots() int { return len(w.heads) }
