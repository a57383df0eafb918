package timer

import (
	"reflect"
	"testing"
)

func phys(items []item) []int64 {
	out := make([]int64, len(items))
	for i, it := range items {
		out[i] = it.Phys
	}
	return out
}

// TestWheelLifecycle drives the wheel as the Service does, with a scripted
// clock: ingest, load within the lookahead, fire in due order, late
// arrivals into a loaded slot, done slots forgotten.
func TestWheelLifecycle(t *testing.T) {
	w := newWheel(1000, 2000)
	w.start(10_000)
	recs := w.plan([]Timer{{100, 15_500}, {101, 15_200}, {102, 20_000}, {103, 15_900}}, 4)
	if len(recs) != 2 || recs[0].slot != 15 || recs[1].slot != 20 || recs[0].ingestedTo != -1 || recs[1].ingestedTo != 4 {
		t.Fatalf("plan %+v", recs)
	}
	w.chained(recs, []int64{1000, 1100}, 4)
	if at, ok := w.nextWake(); !ok || at != 8_000 {
		t.Fatalf("wake %d %v", at, ok) // slot 10 loads at 8000; nextLoad skips empty slots
	}
	if _, ok := w.nextLoad(12_999); ok {
		t.Fatal("slot 15 loaded before its lookahead")
	}
	s, ok := w.nextLoad(13_000)
	if !ok || s != 15 || w.head(15) != 1000 {
		t.Fatalf("nextLoad %d %v", s, ok)
	}
	w.loaded(15, recs[0].timers)
	if at, _ := w.nextWake(); at != 14_000 {
		t.Fatalf("wake %d, want the next slot's load time", at)
	}
	if got := w.due(15_199, 10); got != nil {
		t.Fatalf("early: %v", got)
	}
	// A late timer for the loaded slot goes straight to the heap.
	late := w.plan([]Timer{{104, 15_300}}, 5)
	if late[0].prev != 1000 {
		t.Fatalf("late record not chained: %+v", late)
	}
	w.chained(late, []int64{1200}, 5)
	items := w.due(15_600, 10)
	if want := []int64{101, 104, 100}; !reflect.DeepEqual(phys(items), want) {
		t.Fatalf("fired %v, want %v", phys(items), want)
	}
	fs := w.firedPlan(items)
	if len(fs) != 1 || fs[0].done {
		t.Fatalf("plan %+v: slot 15 still has 103", fs)
	}
	w.firedDone(fs)
	items = w.due(16_000, 10)
	fs = w.firedPlan(items)
	if !reflect.DeepEqual(phys(items), []int64{103}) || !fs[0].done {
		t.Fatalf("fired %v plan %+v", phys(items), fs)
	}
	w.firedDone(fs)
	if _, ok := w.heads[15]; ok || w.pendingSlots() != 1 {
		t.Fatalf("slot 15 not forgotten: %v", w.heads)
	}
}

// TestWheelReplay rebuilds the state a restart sees from the records.
func TestWheelReplay(t *testing.T) {
	w := newWheel(1000, 2000)
	w.replayChain(chainRec{slot: 5, prev: -1, ingestedTo: -1}, 10)
	w.replayChain(chainRec{slot: 5, prev: 10, ingestedTo: 7}, 20)
	w.replayChain(chainRec{slot: 6, prev: -1, ingestedTo: 9}, 30)
	w.replayFired([]firedSlot{{slot: 5, phys: []int64{1, 2}}})
	w.replayChain(chainRec{slot: 4, prev: -1, ingestedTo: 8}, 40)
	w.replayFired([]firedSlot{{slot: 4, done: true}})
	if w.ingested != 9 || !reflect.DeepEqual(w.heads, map[int64]int64{5: 20, 6: 30}) {
		t.Fatalf("ingested %d heads %v", w.ingested, w.heads)
	}
	w.start(100_000) // down for a while: start at the oldest pending slot
	if s, ok := w.nextLoad(100_000); !ok || s != 5 {
		t.Fatalf("nextLoad %d %v", s, ok)
	}
	w.loaded(5, []Timer{{1, 5000}, {2, 5000}, {3, 5100}, {3, 5100}})
	items := w.due(100_000, 10)
	if !reflect.DeepEqual(phys(items), []int64{3}) {
		t.Fatalf("fired %v: want only the unfired timer, once", phys(items))
	}
	if !w.firedPlan(items)[0].done {
		t.Fatal("slot 5 should be done")
	}
}

func TestWheelSlotAllFiredIsForgotten(t *testing.T) {
	w := newWheel(1000, 0)
	w.replayChain(chainRec{slot: 3, prev: -1, ingestedTo: 1}, 10)
	w.replayFired([]firedSlot{{slot: 3, phys: []int64{1}}})
	w.start(3000)
	s, _ := w.nextLoad(3000)
	w.loaded(s, []Timer{{1, 3000}})
	if len(w.heap) != 0 || w.pendingSlots() != 0 {
		t.Fatalf("heap %v heads %v", w.heap, w.heads)
	}
	if _, ok := w.nextWake(); ok {
		t.Fatal("nothing should be pending")
	}
}

func TestRecordsRoundTrip(t *testing.T) {
	c := chainRec{slot: 17, prev: -1, ingestedTo: 99, timers: []Timer{{1, 2}, {3, 4}}}
	got, err := decodeChain(appendChain(nil, c))
	if err != nil || !reflect.DeepEqual(got, c) {
		t.Fatalf("chain %+v %v", got, err)
	}
	fs := []firedSlot{{slot: 1, done: true, phys: []int64{}}, {slot: 2, phys: []int64{5, 6}}}
	gotF, err := decodeFired(appendFired(nil, fs))
	if err != nil || !reflect.DeepEqual(gotF, fs) {
		t.Fatalf("fired %+v %v", gotF, err)
	}
}

func FuzzDecodeRecords(f *testing.F) {
	f.Add(appendChain(nil, chainRec{slot: 1, prev: -1, timers: []Timer{{1, 2}}}))
	f.Add(appendFired(nil, []firedSlot{{slot: 2, phys: []int64{5}}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		if c, err := decodeChain(b); err == nil {
			if got := appendChain(nil, c); string(got) != string(b) {
				t.Fatalf("chain re-encodes differently")
			}
		}
		if fs, err := decodeFired(b); err == nil {
			if got := appendFired(nil, fs); string(got) != string(b) {
				t.Fatalf("fired re-encodes differently")
			}
		}
	})
}
