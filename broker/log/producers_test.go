package log

import (
	"errors"
	"math"
	"testing"
	"time"
)

// TestProducerStateCheck: the idempotence decision, step by step, as
// Kafka's ProducerStateManager makes it (KIP-98, KIP-360).
func TestProducerStateCheck(t *testing.T) {
	type step struct {
		name string
		b    ProducerBatch
		want Verdict
		dup  int64 // the Duplicate's original base offset
	}
	const pid = 7
	batch := func(epoch int16, seq, n int32) ProducerBatch {
		return ProducerBatch{ProducerID: pid, Epoch: epoch, BaseSequence: seq, Count: n}
	}
	steps := []step{
		{name: "unknown producer, any sequence", b: batch(0, 40, 5), want: Accept},
		{name: "next in sequence", b: batch(0, 45, 5), want: Accept},
		{name: "retry of the last batch", b: batch(0, 45, 5), want: Duplicate, dup: 105},
		{name: "retry of the first batch", b: batch(0, 40, 5), want: Duplicate, dup: 100},
		{name: "same start, other length", b: batch(0, 45, 3), want: OutOfOrder},
		{name: "gap", b: batch(0, 51, 1), want: OutOfOrder},
		{name: "older epoch", b: batch(-1, 50, 1), want: StaleEpoch},
		{name: "new epoch not at 0", b: batch(1, 50, 1), want: OutOfOrder},
		{name: "new epoch at 0", b: batch(1, 0, 2), want: Accept},
		{name: "old epoch after the bump", b: batch(0, 50, 1), want: StaleEpoch},
		{name: "after the bump", b: batch(1, 2, 1), want: Accept},
	}
	var s ProducerState
	next := int64(100)
	for _, st := range steps {
		v, at := s.Check(st.b)
		if v != st.want || (v == Duplicate && at.BaseOffset != st.dup) {
			t.Fatalf("%s: %v at %d, want %v (%d)", st.name, v, at.BaseOffset, st.want, st.dup)
		}
		if v == Accept {
			s.Record(st.b, Appended{BaseOffset: next, AppendTime: 1})
			next += 5
		}
	}
}

// TestProducerStateWindow: only the last MaxBatchCache batches are
// duplicates; sequences wrap from MaxInt32 to 0.
func TestProducerStateWindow(t *testing.T) {
	var s ProducerState
	seq := int32(math.MaxInt32 - 2)
	var sent []ProducerBatch
	for i := range 8 {
		b := ProducerBatch{ProducerID: 1, Epoch: 3, BaseSequence: seq, Count: 2}
		if v, _ := s.Check(b); v != Accept {
			t.Fatalf("batch %d at sequence %d: %v", i, seq, v)
		}
		s.Record(b, Appended{BaseOffset: int64(i)})
		sent = append(sent, b)
		seq = nextSeq(lastSeq(seq, 2))
	}
	for i, b := range sent {
		v, at := s.Check(b)
		inWindow := i >= len(sent)-MaxBatchCache
		if inWindow && (v != Duplicate || at.BaseOffset != int64(i)) {
			t.Errorf("batch %d: %v at %d, want a duplicate at %d", i, v, at.BaseOffset, i)
		}
		if !inWindow && v != OutOfOrder {
			t.Errorf("batch %d, out of the window: %v, want out of order", i, v)
		}
	}
}

// TestProducersAppend: check, append and record are one step per
// partition; a refused or duplicate batch runs no append, a failed append
// records nothing, and a partition's state is rebuilt from its log by the
// protocol's loader before the first decision. TryAppend declines until
// then.
func TestProducersAppend(t *testing.T) {
	s := openStore(t)
	appendOne(t, s, "P", 0) // a stored "batch": the loader says pid 9, epoch 0, sequence 0..0
	for max, _ := s.MaxOffset("P", 0); max < 1; max, _ = s.MaxOffset("P", 0) {
		time.Sleep(time.Millisecond) // visible once dispatched
	}
	loads := 0
	load := func(*Entry) (ProducerBatch, bool) {
		loads++
		return ProducerBatch{ProducerID: 9, Epoch: 0, BaseSequence: 0, Count: 1}, true
	}
	p := NewProducers(s, time.Now, 1000, load)
	k := PartKey{TopicID: [16]byte{1}, Queue: 0}
	ran := 0
	appendFn := func() (Appended, error) { ran++; return Appended{BaseOffset: int64(10 + ran)}, nil }

	if ok, _, _, _ := p.TryAppend(k, ProducerBatch{ProducerID: 9, BaseSequence: 1, Count: 1}, appendFn); ok {
		t.Fatal("TryAppend decided before the partition's state was rebuilt")
	}
	// Rebuilt from the log: sequence 0 is a duplicate of offset 0.
	v, at, err := p.Append(k, "P", ProducerBatch{ProducerID: 9, BaseSequence: 0, Count: 1}, appendFn)
	if err != nil || v != Duplicate || at.BaseOffset != 0 || ran != 0 || loads != 1 {
		t.Fatalf("after rebuild: %v at %d, %v; %d appends, %d loads", v, at.BaseOffset, err, ran, loads)
	}
	ok, v, at, err := p.TryAppend(k, ProducerBatch{ProducerID: 9, BaseSequence: 1, Count: 1}, appendFn)
	if !ok || err != nil || v != Accept || at.BaseOffset != 11 || ran != 1 {
		t.Fatalf("TryAppend: %v %v at %d, %v; %d appends", ok, v, at.BaseOffset, err, ran)
	}
	if v, _, _ := p.Append(k, "P", ProducerBatch{ProducerID: 9, BaseSequence: 5, Count: 1}, appendFn); v != OutOfOrder || ran != 1 {
		t.Fatalf("gap: %v, %d appends", v, ran)
	}
	boom := errors.New("disk")
	if _, _, err := p.Append(k, "P", ProducerBatch{ProducerID: 9, BaseSequence: 2, Count: 1},
		func() (Appended, error) { return Appended{}, boom }); !errors.Is(err, boom) {
		t.Fatalf("failed append: %v", err)
	}
	// Not recorded: the retry is appended, not a duplicate.
	if v, at, _ := p.Append(k, "P", ProducerBatch{ProducerID: 9, BaseSequence: 2, Count: 1}, appendFn); v != Accept || at.BaseOffset != 12 {
		t.Fatalf("retry after a failed append: %v at %d", v, at.BaseOffset)
	}
	p.Forget([16]byte{1})
	if ok, _, _, _ := p.TryAppend(k, ProducerBatch{ProducerID: 9, BaseSequence: 3, Count: 1}, appendFn); ok {
		t.Fatal("a forgotten partition's state was still loaded")
	}
	if a, b := p.Allocate(), p.Allocate(); b != a+1 {
		t.Fatalf("producer ids %d, %d", a, b)
	}
}
