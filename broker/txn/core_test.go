package txn

import (
	"errors"
	"math"
	"reflect"
	"slices"
	"testing"
)

func allocFrom(n int64) func() int64 {
	return func() int64 { n++; return n }
}

// TestLifecycle walks one transactional id through Init, a committed and
// an aborted transaction, and checks each state and the fencing of an
// old epoch at every request.
func TestLifecycle(t *testing.T) {
	alloc := allocFrom(100)
	m0, abort, err := Init(nil, "t", InitRequest{TimeoutMs: 1000, ProducerID: -1, Epoch: -1}, 60000, 1, alloc)
	if err != nil || abort || m0.ProducerID != 101 || m0.Epoch != 0 || m0.State != Empty {
		t.Fatalf("init: %+v %v %v", m0, abort, err)
	}
	p := []Partition{{Topic: "b", Partition: 1}, {Topic: "a", Partition: 0}, {Topic: "b", Partition: 1}}
	m1, err := AddPartitions(&m0, 101, 0, p, false, 5)
	if err != nil || m1.State != Ongoing || m1.StartMs != 5 || !reflect.DeepEqual(m1.Partitions, []Partition{{Topic: "a", Partition: 0}, {Topic: "b", Partition: 1}}) {
		t.Fatalf("add: %+v %v", m1, err)
	}
	if err := Verify(&m1, 101, 0, []Partition{{Topic: "a", Partition: 0}}); err != nil {
		t.Fatal(err)
	}
	if err := Verify(&m1, 101, 0, []Partition{{Topic: "c", Partition: 0}}); !errors.Is(err, ErrInvalidState) {
		t.Fatalf("verify unknown partition: %v", err)
	}
	if _, err := CommitOffsets(&m1, 101, 0, "g", []Offset{{Topic: "a", Offset: 3}}, false, 6); !errors.Is(err, ErrInvalidState) {
		t.Fatalf("offsets for a group not added: %v", err)
	}
	m2, err := AddOffsets(&m1, 101, 0, "g", 6)
	if err != nil {
		t.Fatal(err)
	}
	m3, err := CommitOffsets(&m2, 101, 0, "g", []Offset{{Topic: "a", Offset: 3}, {Topic: "a", Offset: 4}}, false, 7)
	if err != nil || len(m3.Offsets) != 1 || m3.Offsets[0].Offset != 4 || m3.Offsets[0].Group != "g" {
		t.Fatalf("offsets: %+v %v", m3.Offsets, err)
	}
	for _, bad := range []struct {
		pid   int64
		epoch int16
		want  error
	}{{101, 1, ErrFenced}, {102, 0, ErrInvalidMapping}} {
		if _, _, err := End(&m3, bad.pid, bad.epoch, true, false, 8, nil); !errors.Is(err, bad.want) {
			t.Fatalf("end %d/%d: %v, want %v", bad.pid, bad.epoch, err, bad.want)
		}
	}
	m4, markers, err := End(&m3, 101, 0, true, false, 8, nil)
	if err != nil || !markers || m4.State != PrepareCommit {
		t.Fatalf("end: %+v %v %v", m4, markers, err)
	}
	if _, err := AddPartitions(&m4, 101, 0, p, false, 9); !errors.Is(err, ErrConcurrent) {
		t.Fatalf("add while preparing: %v", err)
	}
	m5 := Complete(&m4, 9)
	if m5.State != CompleteCommit || m5.Partitions != nil || m5.Offsets != nil {
		t.Fatalf("complete: %+v", m5)
	}
	if _, markers, err := End(&m5, 101, 0, true, false, 10, nil); err != nil || markers {
		t.Fatalf("retried end: %v %v", markers, err)
	}
	if _, _, err := End(&m5, 101, 0, false, false, 10, nil); !errors.Is(err, ErrInvalidState) {
		t.Fatalf("abort after commit: %v", err)
	}
}

// TestInitFencesOpenTransaction: a second producer with the same id aborts
// the first one's transaction with a bumped epoch, then gets a newer one.
func TestInitFencesOpenTransaction(t *testing.T) {
	alloc := allocFrom(0)
	m0, _, _ := Init(nil, "t", InitRequest{TimeoutMs: 1000, ProducerID: -1, Epoch: -1}, 60000, 1, alloc)
	m1, _ := AddPartitions(&m0, m0.ProducerID, 0, []Partition{{Topic: "a", Partition: 0}}, false, 2)
	m2, abort, err := Init(&m1, "t", InitRequest{TimeoutMs: 1000, ProducerID: -1, Epoch: -1}, 60000, 3, alloc)
	if err != nil || !abort || m2.State != PrepareAbort || m2.Epoch != 1 || len(m2.Partitions) != 1 {
		t.Fatalf("fence: %+v %v %v", m2, abort, err)
	}
	m3 := Complete(&m2, 4)
	m4, abort, err := Init(&m3, "t", InitRequest{TimeoutMs: 1000, ProducerID: -1, Epoch: -1}, 60000, 5, alloc)
	if err != nil || abort || m4.Epoch != 2 || m4.State != Empty || m4.ProducerID != m0.ProducerID {
		t.Fatalf("re-init: %+v %v %v", m4, abort, err)
	}
	if _, err := AddPartitions(&m4, m0.ProducerID, 0, []Partition{{Topic: "a", Partition: 0}}, false, 6); !errors.Is(err, ErrFenced) {
		t.Fatalf("zombie add: %v", err)
	}
	if _, _, err := Init(&m4, "t", InitRequest{TimeoutMs: 1000, ProducerID: m0.ProducerID, Epoch: 0}, 60000, 7, alloc); !errors.Is(err, ErrFenced) {
		t.Fatalf("zombie KIP-360 init: %v", err)
	}
	if _, _, err := Init(&m4, "t", InitRequest{TimeoutMs: 70000, ProducerID: -1, Epoch: -1}, 60000, 7, alloc); !errors.Is(err, ErrInvalidTimeout) {
		t.Fatalf("timeout over max: %v", err)
	}
	exhausted := m4
	exhausted.Epoch = math.MaxInt16 - 1
	m5, _, err := Init(&exhausted, "t", InitRequest{TimeoutMs: 1000, ProducerID: -1, Epoch: -1}, 60000, 8, alloc)
	if err != nil || m5.ProducerID == m4.ProducerID || m5.Epoch != 0 {
		t.Fatalf("epoch overflow: %+v %v", m5, err)
	}
}

// TestExpire: only an open transaction past its timeout is aborted.
func TestExpire(t *testing.T) {
	m := Meta{ID: "t", ProducerID: 7, Epoch: 3, TimeoutMs: 100, State: Ongoing, StartMs: 1000}
	if _, ok := Expire(&m, 1100); ok {
		t.Fatal("expired at its timeout")
	}
	n, ok := Expire(&m, 1101)
	if !ok || n.State != PrepareAbort || n.Epoch != 4 {
		t.Fatalf("expire: %+v %v", n, ok)
	}
	if Idle(&m, 1<<40, 10) {
		t.Fatal("an open transaction's id is idle")
	}
	m.State, m.UpdateMs = CompleteCommit, 1000
	if _, ok := Expire(&m, 99999); ok {
		t.Fatal("expired a completed transaction")
	}
	if Idle(&m, 1010, 10) || !Idle(&m, 1011, 10) {
		t.Fatal("idle at the wrong time")
	}
}

func TestMetaRoundTrip(t *testing.T) {
	m := Meta{ID: "x", ProducerID: 1 << 40, Epoch: 9, TimeoutMs: 60000, State: PrepareCommit, StartMs: 5, UpdateMs: 6,
		Partitions: []Partition{{Topic: "a", Partition: 0}, {Topic: "a", Partition: 1, Group: "b2"}, {Topic: "b", Partition: 7}},
		Groups:     []string{"g"},
		Offsets: []Offset{{Group: "g", Topic: "a", Partition: 0, Offset: 42, LeaderEpoch: -1, Metadata: "m"},
			{Group: "g", Topic: "a", Partition: 1, Offset: 7, LeaderEpoch: 3, Owner: "b2"}},
		V2: true, NextProducerID: 77, PrevProducerID: -1}
	got, err := DecodeMeta("x", AppendMeta(nil, &m))
	if err != nil || !reflect.DeepEqual(got, m) {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	b := AppendMeta(nil, &m)
	for i := range len(b) {
		if _, err := DecodeMeta("x", b[:i]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("truncated at %d: %v", i, err)
		}
	}
}

// TestMetaVersion1: a record written before KIP-890 part 2 (version 1,
// the same fields without the tail) still reads, as a classic
// transaction with no producer id to move to.
func TestMetaVersion1(t *testing.T) {
	m := Meta{ID: "x", ProducerID: 5, Epoch: 2, TimeoutMs: 1000, State: Ongoing, StartMs: 1, UpdateMs: 2,
		Partitions: []Partition{{Topic: "a", Partition: 1}}, NextProducerID: -1, PrevProducerID: -1}
	b := v1Record(&m)
	got, err := DecodeMeta("x", b)
	if err != nil || !reflect.DeepEqual(got, m) {
		t.Fatalf("version 1: %+v %v", got, err)
	}
	if _, err := DecodeMeta("x", append(b, 0)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("version 1 with a tail: %v", err)
	}
}

// v1Record is m as a version 1 record: version 2 without its tail (m has
// no other group's partitions or offsets).
func v1Record(m *Meta) []byte {
	b := AppendMeta(nil, m)
	b = b[:len(b)-25]
	b[0] = recordVersion1
	return b
}

// FuzzDecodeMeta: a record never panics the decoder, and one that
// decodes encodes back to the same bytes (a version 1 record to the
// same bytes as version 1).
func FuzzDecodeMeta(f *testing.F) {
	m := Meta{State: Ongoing, Partitions: []Partition{{Topic: "t", Partition: 1}}, Groups: []string{"g"},
		Offsets: []Offset{{Group: "g", Topic: "t", Offset: 1}}, NextProducerID: -1, PrevProducerID: -1}
	f.Add(AppendMeta(nil, &m))
	f.Add(v1Record(&m))
	f.Add([]byte{1, 0})
	f.Add([]byte{2, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeMeta("f", b)
		if err != nil {
			return
		}
		again := AppendMeta(nil, &m)
		if !slices.IsSortedFunc(m.Partitions, comparePartition) {
			t.Fatalf("partitions out of order: %+v", m.Partitions)
		}
		if b[0] == recordVersion1 {
			if m.V2 || m.NextProducerID != -1 || m.PrevProducerID != -1 {
				t.Fatalf("version 1 read with version 2 fields: %+v", m)
			}
			again = v1Record(&m)
		}
		if string(again) != string(b) {
			t.Fatalf("re-encode differs")
		}
	})
}

// TestEndV2 walks KIP-890 part 2 (EndTxn v5+): every commit and abort
// bumps the epoch (the markers carry the bumped one), a retry of the same
// outcome is answered again, of the other INVALID_TXN_STATE, an abort
// with nothing open is legal and bumps, a commit with nothing open is not.
func TestEndV2(t *testing.T) {
	alloc := allocFrom(200)
	m0, _, _ := Init(nil, "t", InitRequest{TimeoutMs: 1000, ProducerID: -1, Epoch: -1}, 60000, 1, alloc)
	pid := m0.ProducerID
	// Produce v12 adds its partition itself; TxnOffsetCommit v5 its group.
	m1, err := AddPartitions(&m0, pid, 0, []Partition{{Topic: "a", Partition: 0}}, true, 2)
	if err != nil || !m1.V2 || m1.State != Ongoing {
		t.Fatalf("implicit add: %+v %v", m1, err)
	}
	m1, err = CommitOffsets(&m1, pid, 0, "g", []Offset{{Topic: "in", Offset: 5}}, true, 3)
	if err != nil || len(m1.Groups) != 1 || len(m1.Offsets) != 1 {
		t.Fatalf("implicit group: %+v %v", m1, err)
	}
	m2, markers, err := End(&m1, pid, 0, true, true, 4, alloc)
	if err != nil || !markers || m2.State != PrepareCommit || m2.Epoch != 1 || m2.ProducerID != pid {
		t.Fatalf("commit: %+v %v %v", m2, markers, err)
	}
	// A retry while the markers are written finishes them.
	if n, markers, err := End(&m2, pid, 0, true, true, 5, alloc); err != nil || !markers || n.State != PrepareCommit {
		t.Fatalf("retry while preparing: %+v %v %v", n, markers, err)
	}
	m3 := Complete(&m2, 5)
	if m3.State != CompleteCommit || m3.Epoch != 1 || m3.ProducerID != pid {
		t.Fatalf("complete: %+v", m3)
	}
	for _, c := range []struct {
		name   string
		epoch  int16
		commit bool
		want   error
	}{
		{"retry, same outcome", 0, true, nil},
		{"retry, other outcome", 0, false, ErrInvalidState},
		{"commit with nothing open", 1, true, ErrInvalidState},
		{"an epoch never given", 2, true, ErrFenced},
	} {
		n, markers, err := End(&m3, pid, c.epoch, c.commit, true, 6, alloc)
		if !errors.Is(err, c.want) || (err == nil && (markers || n.Epoch != 1)) {
			t.Fatalf("%s: %+v %v %v, want %v", c.name, n, markers, err, c.want)
		}
	}
	// An abort with nothing open bumps the epoch and writes no marker.
	m4, markers, err := End(&m3, pid, 1, false, true, 7, alloc)
	if err != nil || !markers || m4.State != PrepareAbort || m4.Epoch != 2 || len(m4.Partitions) != 0 {
		t.Fatalf("empty abort: %+v %v %v", m4, markers, err)
	}
	// A late batch of the committed transaction (epoch 0) cannot reopen it.
	m5 := Complete(&m4, 8)
	if _, err := AddPartitions(&m5, pid, 0, []Partition{{Topic: "a", Partition: 0}}, true, 9); !errors.Is(err, ErrFenced) {
		t.Fatalf("late batch of an old epoch: %v", err)
	}
	if _, _, err := End(&m5, pid+1, 2, true, true, 9, alloc); !errors.Is(err, ErrInvalidMapping) {
		t.Fatalf("another producer id: %v", err)
	}
}

// TestEndV2Overflow: the bump that exhausts the epoch writes the markers
// at MaxInt16 and moves the producer to a new id at epoch 0; a retry
// with the old id and epoch is still recognized.
func TestEndV2Overflow(t *testing.T) {
	m := Meta{ID: "t", ProducerID: 9, Epoch: math.MaxInt16 - 1, TimeoutMs: 1000, State: Ongoing, V2: true,
		Partitions: []Partition{{Topic: "a", Partition: 0}}, NextProducerID: -1, PrevProducerID: -1}
	p, markers, err := End(&m, 9, math.MaxInt16-1, false, true, 1, allocFrom(40))
	if err != nil || !markers || p.Epoch != math.MaxInt16 || p.ProducerID != 9 || p.NextProducerID != 41 {
		t.Fatalf("prepare: %+v %v %v", p, markers, err)
	}
	c := Complete(&p, 2)
	if c.ProducerID != 41 || c.Epoch != 0 || c.PrevProducerID != 9 || c.NextProducerID != -1 {
		t.Fatalf("complete: %+v", c)
	}
	if n, markers, err := End(&c, 9, math.MaxInt16-1, false, true, 3, nil); err != nil || markers || n.ProducerID != 41 {
		t.Fatalf("retry with the old id: %+v %v %v", n, markers, err)
	}
	got, err := DecodeMeta("t", AppendMeta(nil, &p))
	if err != nil || !reflect.DeepEqual(got, p) {
		t.Fatalf("prepare state round trip: %+v %v", got, err)
	}
}
