package quota

import (
	"math"
	"testing"
	"time"
)

func name(s string) *string { return &s }

func TestResolveAndDurable(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	alice := []Component{{User, name("alice")}}
	if err := s.Alter(alice, []Op{{Key: ProducerByteRate, Value: 1000}}, false); err != nil {
		t.Fatal(err)
	}
	if err := s.Alter([]Component{{User, nil}}, []Op{{Key: ProducerByteRate, Value: 50}}, false); err != nil {
		t.Fatal(err)
	}
	if err := s.Alter([]Component{{ClientID, name("c1")}}, []Op{{Key: ConsumerByteRate, Value: 7}}, true); err != nil {
		t.Fatal(err) // validate only: nothing stored
	}
	for _, bad := range [][]Op{{{Key: "nope", Value: 1}}, {{Key: ProducerByteRate, Value: 0}},
		{{Key: ProducerByteRate, Value: math.NaN()}}, {{Key: ProducerByteRate, Value: math.Inf(1)}}} {
		if err := s.Alter(alice, bad, false); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	if err := s.Alter([]Component{{User, nil}, {User, nil}}, []Op{{Key: ProducerByteRate, Value: 1}}, false); err == nil {
		t.Error("an entity naming user twice was accepted")
	}
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		user string
		want float64
	}{{"alice", 1000}, {"bob", 50}} {
		if q, _, ok := r.resolveLocked(tc.user, "any", ProducerByteRate); !ok || q != tc.want {
			t.Errorf("%s: %v %v", tc.user, q, ok)
		}
	}
	if _, _, ok := r.resolveLocked("alice", "c1", ConsumerByteRate); ok {
		t.Error("a validate-only quota was stored")
	}
	if got := r.Describe([]Match{{Type: User, Kind: 0, Name: "alice"}}, true); len(got) != 1 || got[0].Values[ProducerByteRate] != 1000 {
		t.Errorf("describe alice: %+v", got)
	}
	if got := r.Describe([]Match{{Type: User, Kind: 2}}, false); len(got) != 2 {
		t.Errorf("describe any user: %+v", got)
	}
	if got := r.Describe([]Match{{Type: User, Kind: 1}}, false); len(got) != 1 || got[0].Entity[0].Name != nil {
		t.Errorf("describe the default user: %+v", got)
	}
	if err := r.Alter(alice, []Op{{Key: ProducerByteRate, Remove: true}}, false); err != nil {
		t.Fatal(err)
	}
	if q, _, _ := r.resolveLocked("alice", "", ProducerByteRate); q != 50 {
		t.Errorf("after removing alice's own quota: %v, want the default 50", q)
	}
}

// TestThrottle: at 1,000 B/s, 20,000 bytes at once over the 10 s minimum
// window is a rate of 2,000 B/s: (2000-1000)/1000 x 10 s = 10 s of
// throttle; 11 s later the window has forgotten them.
func TestThrottle(t *testing.T) {
	s, _ := Open("")
	if err := s.Alter([]Component{{User, name("alice")}}, []Op{{Key: ProducerByteRate, Value: 1000}}, false); err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(1000, 0)
	if d := s.Throttle("alice", "c", ProducerByteRate, 5000, t0); d != 0 {
		t.Errorf("within the quota: %v", d)
	}
	if d := s.Throttle("alice", "c", ProducerByteRate, 15000, t0.Add(100*time.Millisecond)); d != 10*time.Second {
		t.Errorf("twice the quota: %v, want 10s", d)
	}
	if d := s.Throttle("bob", "c", ProducerByteRate, 1<<30, t0); d != 0 {
		t.Errorf("no quota: %v", d)
	}
	// Another client of alice shares her meter.
	if d := s.Throttle("alice", "other", ProducerByteRate, 0, t0.Add(200*time.Millisecond)); d == 0 {
		t.Error("alice's other client is not throttled")
	}
	if d := s.Throttle("alice", "c", ProducerByteRate, 100, t0.Add(12*time.Second)); d != 0 {
		t.Errorf("after the window: %v", d)
	}
}
