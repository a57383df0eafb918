package halfmsg

import (
	"context"
	"errors"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"
)

func TestSnapshotRoundTrip(t *testing.T) {
	for _, sn := range []Snapshot{
		{Low: 0, Above: []int64{}, Checks: map[int64]int{}},
		{Low: 7, Above: []int64{9, 12}, Checks: map[int64]int{8: 3, 10: 1}},
	} {
		got, err := DecodeSnapshot(AppendSnapshot(nil, sn))
		if err != nil || !reflect.DeepEqual(got, sn) {
			t.Fatalf("%+v: got %+v, %v", sn, got, err)
		}
	}
	good := AppendSnapshot(nil, Snapshot{Low: 7, Above: []int64{9, 12}, Checks: map[int64]int{8: 3}})
	for name, bad := range map[string][]byte{
		"short":          good[:5],
		"truncated":      good[:len(good)-1],
		"trailing":       append(slices.Clone(good), 0),
		"not a snapshot": AppendOp(nil, Op{Action: ActionCommit}),
		"key below low":  AppendSnapshot(nil, Snapshot{Low: 7, Above: []int64{3}}),
		"keys unsorted":  AppendSnapshot(nil, Snapshot{Low: 1, Above: []int64{5, 4}}),
	} {
		if _, err := DecodeSnapshot(bad); !errors.Is(err, ErrCorruptOp) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func FuzzDecodeSnapshot(f *testing.F) {
	f.Add(AppendSnapshot(nil, Snapshot{Low: 7, Above: []int64{9, 12}, Checks: map[int64]int{8: 3}}))
	f.Add([]byte{1, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		sn, err := DecodeSnapshot(b)
		if err != nil {
			return
		}
		if again, err := DecodeSnapshot(AppendSnapshot(nil, sn)); err != nil || !reflect.DeepEqual(again, sn) {
			t.Fatalf("%+v re-decodes as %+v, %v", sn, again, err)
		}
	})
}

func TestResolvedSet(t *testing.T) {
	r := newResolvedSet(10)
	for _, k := range []int64{12, 5, 11, 14} {
		r.add(k)
	}
	if r.low != 10 || !r.has(5) || r.has(10) || !r.has(12) || r.has(13) {
		t.Fatalf("low %d above %v", r.low, r.above)
	}
	r.add(10) // 10, 11, 12 contiguous now
	if r.low != 13 || len(r.above) != 1 {
		t.Fatalf("after 10: low %d above %v", r.low, r.above)
	}
	r.raise(14) // 14 was above: low moves past it
	if r.low != 15 || len(r.above) != 0 {
		t.Fatalf("after raise: low %d above %v", r.low, r.above)
	}
}

// TestServiceRandomRestarts: from a logged seed, random prepares,
// commits, rollbacks, restarts and snapshots against a model (the set of
// pending keys and the committed payloads); after every restart the
// service's pending set is the model's, and nothing committed is lost or
// written twice. Snapshots keep the replay to the op records since the
// last one.
func TestServiceRandomRestarts(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	cfg := Config{Timeout: time.Hour, Interval: time.Hour, SnapshotEvery: 1 + rng.IntN(8)}
	h := newHarness(t, t.TempDir(), cfg)
	type half struct{ key, phys int64 }
	pending := map[string]half{}
	committed := map[string]bool{}
	ctx := context.Background()
	for step := range 300 {
		switch op := rng.IntN(10); {
		case op < 4 || len(pending) == 0:
			p := string(rune('a'+step%26)) + string(rune('0'+step/26%10)) + string(rune('0'+step/260))
			k, ph := h.prepare(p)
			pending[p] = half{k, ph}
		case op < 8:
			keys := slices.Sorted(mapsKeys(pending))
			p := keys[rng.IntN(len(keys))]
			action, build := ActionRollback, Build(noEntries)
			if rng.IntN(2) == 0 {
				action, build = ActionCommit, toReal
				committed[p] = true
			}
			if err := h.svc.Resolve(ctx, pending[p].key, pending[p].phys, action, build); err != nil {
				t.Fatalf("step %d: resolve %s: %v", step, p, err)
			}
			delete(pending, p)
		case op < 9:
			h.close()
			h.open(cfg)
			if got := h.svc.Pending(); got != len(pending) {
				t.Fatalf("step %d: %d pending after a restart, want %d", step, got, len(pending))
			}
			for p, hm := range pending {
				if _, ok := h.svc.core.items[hm.key]; !ok {
					t.Fatalf("step %d: %s (key %d) not pending after a restart", step, p, hm.key)
				}
			}
		default:
			if _, err := h.svc.snapshot(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	h.close()
	h.open(cfg)
	var want []string
	for p := range committed {
		want = append(want, p)
	}
	got := h.payloads("real")
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("committed %q, want %q", got, want)
	}
	if min, err := h.store.MinOffset(OpTopic, 0); err != nil || min == 0 {
		t.Fatalf("op topic starts at %d (%v): no snapshot trimmed it", min, err)
	}
	if got := h.svc.Pending(); got != len(pending) {
		t.Fatalf("%d pending at the end, want %d", got, len(pending))
	}
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// TestSnapshotKeepsChecks: check counts survive a snapshot and a restart.
func TestSnapshotKeepsChecks(t *testing.T) {
	h := newHarness(t, t.TempDir(), Config{Timeout: time.Millisecond, Interval: time.Hour, MaxChecks: 5, SnapshotEvery: 1})
	h.prepare("x")
	waitFor(t, "first check", func() bool { return h.checked("x") == 1 })
	waitFor(t, "snapshot", func() bool { m, _ := h.store.MinOffset(OpTopic, 0); return m > 0 })
	h.close()
	h.open(Config{Timeout: time.Hour, Interval: time.Hour, MaxChecks: 5})
	if n, ok := h.svc.core.Checks(0); !ok || n != 1 {
		t.Fatalf("checks %d (pending %v), want 1", n, ok)
	}
}
