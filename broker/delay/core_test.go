package delay

import (
	"reflect"
	"testing"
)

func TestCoreStartReadsEveryLevel(t *testing.T) {
	c := NewCore(3, []int64{5, 0, 7})
	got := c.Step(EvStart{}, 0)
	want := []Effect{Read{1, 5}, Read{2, 0}, Read{3, 7}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

// TestCoreWalk drives one level through a scripted sequence of events.
func TestCoreWalk(t *testing.T) {
	items := []Item{{0, 1, 1000}, {1, 2, 1500}, {2, 3, 3000}}
	steps := []struct {
		name string
		ev   Event
		now  int64
		want []Effect
	}{
		{"start", EvStart{}, 0, []Effect{Read{1, 0}}},
		{"nothing due: wait for the head", EvRead{1, 0, items}, 900, []Effect{WakeAt{1000}}},
		{"early tick does nothing", EvTick{}, 999, []Effect{WakeAt{1000}}},
		{"appended while waiting for time is ignored", EvAppended{1}, 999, []Effect{WakeAt{1000}}},
		{"tick at due time reads", EvTick{}, 1000, []Effect{Read{1, 0}}},
		{"due prefix delivered", EvRead{1, 0, items}, 1600, []Effect{Deliver{1, items[:2], 2}}},
		{"delivered: read on", EvDelivered{1, 2}, 1600, []Effect{Read{1, 2}}},
		{"head not due", EvRead{1, 2, items[2:]}, 1601, []Effect{WakeAt{3000}}},
		{"tick", EvTick{}, 3500, []Effect{Read{1, 2}}},
		{"last one due", EvRead{1, 2, items[2:]}, 3500, []Effect{Deliver{1, items[2:], 3}}},
		{"failed delivery backs off", EvFailed{1}, 3500, []Effect{WakeAt{3500 + RetryMs}}},
		{"retry", EvTick{}, 4500, []Effect{Read{1, 2}}},
		{"deliver again", EvRead{1, 2, items[2:]}, 4500, []Effect{Deliver{1, items[2:], 3}}},
		{"done", EvDelivered{1, 3}, 4500, []Effect{Read{1, 3}}},
		{"empty: watch", EvRead{1, 3, nil}, 4500, []Effect{Watch{1, 3}}},
		{"tick while watching does nothing", EvTick{}, 9999, nil},
		{"appended: read", EvAppended{1}, 9999, []Effect{Read{1, 3}}},
	}
	c := NewCore(1, nil)
	for _, st := range steps {
		got := c.Step(st.ev, st.now)
		if !reflect.DeepEqual(got, st.want) {
			t.Fatalf("%s: got %#v, want %#v", st.name, got, st.want)
		}
	}
	if c.Next(1) != 3 {
		t.Fatalf("next %d, want 3", c.Next(1))
	}
}

func TestCoreRetentionSkipMovesForward(t *testing.T) {
	c := NewCore(1, []int64{2})
	c.Step(EvStart{}, 0)
	got := c.Step(EvRead{1, 10, []Item{{10, 11, 0}}}, 5)
	if want := []Effect{Deliver{1, []Item{{10, 11, 0}}, 11}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestCoreIgnoresStrayEvents(t *testing.T) {
	c := NewCore(2, nil)
	for _, ev := range []Event{EvRead{1, 0, []Item{{0, 1, 0}}}, EvDelivered{1, 9}, EvFailed{2}, EvAppended{2}, EvAppended{7}, EvRead{0, 0, nil}, EvDelivered{-1, 3}} {
		if got := c.Step(ev, 100); got != nil {
			t.Fatalf("%#v before start: got %v", ev, got)
		}
	}
	if c.Next(1) != 0 {
		t.Fatal("a stray delivery moved progress")
	}
}

func TestCoreWakeAtIsEarliestLevel(t *testing.T) {
	c := NewCore(3, nil)
	c.Step(EvStart{}, 0)
	c.Step(EvRead{1, 0, []Item{{0, 1, 5000}}}, 0)
	c.Step(EvRead{2, 0, []Item{{0, 1, 2000}}}, 0)
	got := c.Step(EvRead{3, 0, []Item{{0, 1, 9000}}}, 0)
	if want := []Effect{WakeAt{2000}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	got = c.Step(EvTick{}, 5000)
	if want := []Effect{Read{1, 0}, Read{2, 0}, WakeAt{9000}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}
