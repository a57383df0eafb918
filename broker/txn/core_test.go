package txn

import (
	"errors"
	"math"
	"reflect"
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
	p := []Partition{{"b", 1}, {"a", 0}, {"b", 1}}
	m1, err := AddPartitions(&m0, 101, 0, p, 5)
	if err != nil || m1.State != Ongoing || m1.StartMs != 5 || !reflect.DeepEqual(m1.Partitions, []Partition{{"a", 0}, {"b", 1}}) {
		t.Fatalf("add: %+v %v", m1, err)
	}
	if err := Verify(&m1, 101, 0, []Partition{{"a", 0}}); err != nil {
		t.Fatal(err)
	}
	if err := Verify(&m1, 101, 0, []Partition{{"c", 0}}); !errors.Is(err, ErrInvalidState) {
		t.Fatalf("verify unknown partition: %v", err)
	}
	if _, err := CommitOffsets(&m1, 101, 0, "g", []Offset{{Topic: "a", Offset: 3}}, 6); !errors.Is(err, ErrInvalidState) {
		t.Fatalf("offsets for a group not added: %v", err)
	}
	m2, err := AddOffsets(&m1, 101, 0, "g", 6)
	if err != nil {
		t.Fatal(err)
	}
	m3, err := CommitOffsets(&m2, 101, 0, "g", []Offset{{Topic: "a", Offset: 3}, {Topic: "a", Offset: 4}}, 7)
	if err != nil || len(m3.Offsets) != 1 || m3.Offsets[0].Offset != 4 || m3.Offsets[0].Group != "g" {
		t.Fatalf("offsets: %+v %v", m3.Offsets, err)
	}
	for _, bad := range []struct {
		pid   int64
		epoch int16
		want  error
	}{{101, 1, ErrFenced}, {102, 0, ErrInvalidMapping}} {
		if _, _, err := End(&m3, bad.pid, bad.epoch, true, 8); !errors.Is(err, bad.want) {
			t.Fatalf("end %d/%d: %v, want %v", bad.pid, bad.epoch, err, bad.want)
		}
	}
	m4, markers, err := End(&m3, 101, 0, true, 8)
	if err != nil || !markers || m4.State != PrepareCommit {
		t.Fatalf("end: %+v %v %v", m4, markers, err)
	}
	if _, err := AddPartitions(&m4, 101, 0, p, 9); !errors.Is(err, ErrConcurrent) {
		t.Fatalf("add while preparing: %v", err)
	}
	m5 := Complete(&m4, 9)
	if m5.State != CompleteCommit || m5.Partitions != nil || m5.Offsets != nil {
		t.Fatalf("complete: %+v", m5)
	}
	if _, markers, err := End(&m5, 101, 0, true, 10); err != nil || markers {
		t.Fatalf("retried end: %v %v", markers, err)
	}
	if _, _, err := End(&m5, 101, 0, false, 10); !errors.Is(err, ErrInvalidState) {
		t.Fatalf("abort after commit: %v", err)
	}
}

// TestInitFencesOpenTransaction: a second producer with the same id aborts
// the first one's transaction with a bumped epoch, then gets a newer one.
func TestInitFencesOpenTransaction(t *testing.T) {
	alloc := allocFrom(0)
	m0, _, _ := Init(nil, "t", InitRequest{TimeoutMs: 1000, ProducerID: -1, Epoch: -1}, 60000, 1, alloc)
	m1, _ := AddPartitions(&m0, m0.ProducerID, 0, []Partition{{"a", 0}}, 2)
	m2, abort, err := Init(&m1, "t", InitRequest{TimeoutMs: 1000, ProducerID: -1, Epoch: -1}, 60000, 3, alloc)
	if err != nil || !abort || m2.State != PrepareAbort || m2.Epoch != 1 || len(m2.Partitions) != 1 {
		t.Fatalf("fence: %+v %v %v", m2, abort, err)
	}
	m3 := Complete(&m2, 4)
	m4, abort, err := Init(&m3, "t", InitRequest{TimeoutMs: 1000, ProducerID: -1, Epoch: -1}, 60000, 5, alloc)
	if err != nil || abort || m4.Epoch != 2 || m4.State != Empty || m4.ProducerID != m0.ProducerID {
		t.Fatalf("re-init: %+v %v %v", m4, abort, err)
	}
	if _, err := AddPartitions(&m4, m0.ProducerID, 0, []Partition{{"a", 0}}, 6); !errors.Is(err, ErrFenced) {
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
		Partitions: []Partition{{"a", 0}, {"b", 7}}, Groups: []string{"g"},
		Offsets: []Offset{{Group: "g", Topic: "a", Partition: 0, Offset: 42, LeaderEpoch: -1, Metadata: "m"}}}
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

// FuzzDecodeMeta: a record never panics the decoder, and one that
// decodes encodes back to the same bytes.
func FuzzDecodeMeta(f *testing.F) {
	f.Add(AppendMeta(nil, &Meta{State: Ongoing, Partitions: []Partition{{"t", 1}}, Groups: []string{"g"},
		Offsets: []Offset{{Group: "g", Topic: "t", Offset: 1}}}))
	f.Add([]byte{1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeMeta("f", b)
		if err != nil {
			return
		}
		if again := AppendMeta(nil, &m); string(again) != string(b) {
			t.Fatalf("re-encode differs")
		}
	})
}
