package cluster

import (
	"testing"
)

func TestPartitionMap(t *testing.T) {
	v := &View{Self: "b2", Groups: []Group{{Name: "b1"}, {Name: "b2"}, {Name: "b3"}},
		Topics: map[string][]Placement{"t": {{Group: "b1", Queues: 3}, {Group: "b2", Queues: 1}, {Group: "b3", Queues: 2}}}}
	// The local share (4 queues, the registry being fresher) replaces the
	// name servers' one for b2.
	ps := v.Placements("t", 4)
	if got := Count(ps); got != 9 {
		t.Fatalf("count %d, want 9 (%v)", got, ps)
	}
	for _, c := range []struct {
		p     int32
		group string
		queue int32
		ok    bool
	}{
		{0, "b1", 0, true}, {2, "b1", 2, true}, {3, "b2", 0, true}, {6, "b2", 3, true},
		{7, "b3", 0, true}, {8, "b3", 1, true}, {9, "", 0, false}, {-1, "", 0, false},
	} {
		got, ok := Locate(ps, c.p)
		if ok != c.ok || got.Group != c.group || got.Queue != c.queue {
			t.Errorf("Locate(%d) = %+v %v, want %s/%d %v", c.p, got, ok, c.group, c.queue, c.ok)
		}
	}
	if b, ok := Base(ps, "b3"); !ok || b != 7 {
		t.Errorf("Base(b3) = %d %v, want 7", b, ok)
	}
	// Not here (local 0): the other groups' shares only.
	if got := Count(v.Placements("t", 0)); got != 5 {
		t.Errorf("without the local share: %d partitions, want 5", got)
	}
	// A topic only this broker has.
	if ps := v.Placements("new", 2); len(ps) != 1 || ps[0].Group != "b2" {
		t.Errorf("local-only topic: %v", ps)
	}
	if v.Multi() != true || (&View{Self: "b1", Groups: []Group{{Name: "b1"}}}).Multi() {
		t.Error("Multi: a view with other groups is multi, one with only self is not")
	}
}

func TestCoordinatorStable(t *testing.T) {
	a := &View{Groups: []Group{{Name: "b1"}, {Name: "b2", HasNode: true}}}
	b := &View{Groups: []Group{{Name: "b1", HasNode: true}, {Name: "b2"}}}
	spread := map[string]int{}
	for i := range 100 {
		key := "group-" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		ga, _ := a.Coordinator(key)
		gb, _ := b.Coordinator(key)
		if ga.Name != gb.Name {
			t.Fatalf("%s: %s in one view, %s in the other: a master going down must not move a coordinator", key, ga.Name, gb.Name)
		}
		spread[ga.Name]++
	}
	if spread["b1"] == 0 || spread["b2"] == 0 {
		t.Errorf("coordinators: %v, want both groups used", spread)
	}
	if _, ok := (&View{}).Coordinator("g"); ok {
		t.Error("a view without groups has no coordinator")
	}
}
