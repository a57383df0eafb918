package halfmsg

import (
	"errors"
	"reflect"
	"testing"
)

var testTiming = Timing{TimeoutMs: 6000, IntervalMs: 30000, MaxChecks: 2}

func TestCoreChecksThenDiscards(t *testing.T) {
	c := NewCore(testTiming)
	steps := []struct {
		ev   Event
		now  int64
		want []Effect
	}{
		{EvPrepared{Key: 0, Phys: 100, StoreMs: 1000}, 1000, []Effect{WakeAt{7000}}},
		{EvTick{}, 6999, []Effect{WakeAt{7000}}}, // not yet
		{EvTick{}, 7000, []Effect{Check{Key: 0, Phys: 100, Checks: 1}}},
		{EvChecked{Key: 0, OK: true}, 7100, []Effect{WakeAt{37100}}},
		{EvTick{}, 37100, []Effect{Check{Key: 0, Phys: 100, Checks: 2}}},
		{EvChecked{Key: 0, OK: false}, 37200, []Effect{WakeAt{37200 + RetryMs}}}, // not recorded: again, same count
		{EvTick{}, 38200, []Effect{Check{Key: 0, Phys: 100, Checks: 2}}},
		{EvChecked{Key: 0, OK: true}, 38300, []Effect{WakeAt{68300}}},
		{EvTick{}, 68300, []Effect{Discard{Key: 0, Phys: 100}}},
		{EvDiscarded{Key: 0, OK: true}, 68400, nil},
	}
	for i, s := range steps {
		if got := c.Step(s.ev, s.now); !reflect.DeepEqual(got, s.want) {
			t.Fatalf("step %d %#v: got %#v, want %#v", i, s.ev, got, s.want)
		}
	}
	if c.Pending() != 0 {
		t.Fatalf("pending %d after discard", c.Pending())
	}
}

func TestCoreEnd(t *testing.T) {
	c := NewCore(testTiming)
	c.Step(EvPrepared{Key: 3, Phys: 300, StoreMs: 0}, 0)
	c.Step(EvPrepared{Key: 4, Phys: 400, StoreMs: 10}, 10)
	cases := []struct {
		name string
		ev   Event
		want Effect
	}{
		{"unknown key", EvEnd{Key: 9, Phys: 300}, Reject{Key: 9, Err: ErrUnknown}},
		{"offset of another message", EvEnd{Key: 3, Phys: 400}, Reject{Key: 3, Err: ErrUnknown}},
		{"first end", EvEnd{Key: 3, Phys: 300}, Resolve{Key: 3, Phys: 300}},
		{"second end while the first runs", EvEnd{Key: 3, Phys: 300}, Reject{Key: 3, Err: ErrResolving}},
	}
	for _, tc := range cases {
		got := c.Step(tc.ev, 20)
		if len(got) == 0 || !reflect.DeepEqual(got[0], tc.want) {
			t.Fatalf("%s: got %#v, want %#v first", tc.name, got, tc.want)
		}
	}
	// The failed append puts it back; the next end resolves it.
	c.Step(EvEnded{Key: 3, OK: false}, 30)
	if got := c.Step(EvEnd{Key: 3, Phys: 300}, 40); !reflect.DeepEqual(got[0], Resolve{Key: 3, Phys: 300}) {
		t.Fatalf("after a failed resolution: %#v", got)
	}
	c.Step(EvEnded{Key: 3, OK: true}, 50)
	got := c.Step(EvEnd{Key: 3, Phys: 300}, 60)
	if r, ok := got[0].(Reject); !ok || !errors.Is(r.Err, ErrUnknown) {
		t.Fatalf("end after resolution: %#v", got)
	}
	if c.Pending() != 1 {
		t.Fatalf("pending %d, want 1", c.Pending())
	}
	// Only key 4 is left to check.
	if got := c.Step(EvTick{}, 100000); !reflect.DeepEqual(got, []Effect{Check{Key: 4, Phys: 400, Checks: 1}}) {
		t.Fatalf("tick: %#v", got)
	}
}

// An END_TRANSACTION during a check resolves the message; the check's
// late answer changes nothing.
func TestCoreEndDuringCheck(t *testing.T) {
	c := NewCore(testTiming)
	c.Step(EvPrepared{Key: 1, Phys: 10, StoreMs: 0}, 0)
	c.Step(EvTick{}, 6000) // Check out
	if got := c.Step(EvEnd{Key: 1, Phys: 10}, 6001); !reflect.DeepEqual(got, []Effect{Resolve{Key: 1, Phys: 10}}) {
		t.Fatalf("end during check: %#v", got)
	}
	if got := c.Step(EvChecked{Key: 1, OK: true}, 6002); got != nil {
		t.Fatalf("check answer during resolution: %#v", got)
	}
	c.Step(EvEnded{Key: 1, OK: true}, 6003)
	if got := c.Step(EvChecked{Key: 1, OK: true}, 6004); got != nil || c.Pending() != 0 {
		t.Fatalf("late check answer: %#v, pending %d", got, c.Pending())
	}
}

// A half message replayed with checks behind it is due no earlier than
// now, and keeps its count.
func TestCoreReplayedChecks(t *testing.T) {
	c := NewCore(testTiming)
	got := c.Step(EvPrepared{Key: 7, Phys: 70, StoreMs: 0, Checks: 1}, 500000)
	if !reflect.DeepEqual(got, []Effect{WakeAt{500000}}) {
		t.Fatalf("replayed: %#v", got)
	}
	if got := c.Step(EvTick{}, 500000); !reflect.DeepEqual(got, []Effect{Check{Key: 7, Phys: 70, Checks: 2}}) {
		t.Fatalf("tick: %#v", got)
	}
	// A duplicate replay is ignored.
	c.Step(EvPrepared{Key: 7, Phys: 71, StoreMs: 0}, 500001)
	if n, _ := c.Checks(7); n != 1 || c.Pending() != 1 {
		t.Fatalf("checks %d, pending %d", n, c.Pending())
	}
}

// Due times order the checks, and the wake-up is the earliest.
func TestCoreDueOrder(t *testing.T) {
	c := NewCore(testTiming)
	for _, k := range []int64{5, 2, 8} {
		c.Step(EvPrepared{Key: k, Phys: k * 10, StoreMs: 100 * k}, 0)
	}
	if at, ok := c.NextWake(); !ok || at != 6200 {
		t.Fatalf("next wake %d %v, want 6200", at, ok)
	}
	got := c.Step(EvTick{}, 6500)
	want := []Effect{Check{Key: 2, Phys: 20, Checks: 1}, Check{Key: 5, Phys: 50, Checks: 1}, WakeAt{6800}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("tick: %#v, want %#v", got, want)
	}
}

func TestOpRoundTrip(t *testing.T) {
	for _, op := range []Op{{ActionCommit, 0, 0}, {ActionRollback, 1 << 40, 3}, {ActionChecked, 5, 15}, {ActionDiscarded, 9, 65535}} {
		got, err := DecodeOp(AppendOp(nil, op))
		if err != nil || got != op {
			t.Fatalf("%+v: got %+v, %v", op, got, err)
		}
	}
	for _, bad := range [][]byte{nil, {1}, AppendOp(nil, Op{Action: 9})[:12], append(AppendOp(nil, Op{Action: 1}), 0), {2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}} {
		if _, err := DecodeOp(bad); !errors.Is(err, ErrCorruptOp) {
			t.Fatalf("%x: %v", bad, err)
		}
	}
}

func FuzzDecodeOp(f *testing.F) {
	f.Add(AppendOp(nil, Op{Action: ActionCommit, Key: 42, Checks: 1}))
	f.Add([]byte{1, 3, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		op, err := DecodeOp(b)
		if err != nil {
			return
		}
		if again, err := DecodeOp(AppendOp(nil, op)); err != nil || again != op {
			t.Fatalf("%+v re-decodes as %+v, %v", op, again, err)
		}
	})
}

// A half message removed by retention is dropped, whatever it was doing.
func TestCoreGone(t *testing.T) {
	c := NewCore(testTiming)
	c.Step(EvPrepared{Key: 1, Phys: 10, StoreMs: 0}, 0)
	c.Step(EvPrepared{Key: 2, Phys: 20, StoreMs: 0}, 0)
	c.Step(EvTick{}, 6000) // both checking
	c.Step(EvGone{Key: 1}, 6001)
	if got := c.Step(EvChecked{Key: 1, OK: false}, 6002); len(got) != 0 || c.Pending() != 1 {
		t.Fatalf("after gone: %#v, pending %d", got, c.Pending())
	}
	c.Step(EvChecked{Key: 2, OK: true}, 6003)
	c.Step(EvGone{Key: 2}, 6004) // waiting in the heap
	if _, ok := c.NextWake(); ok || c.Pending() != 0 {
		t.Fatalf("pending %d after both gone", c.Pending())
	}
}
