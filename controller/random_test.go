package controller

import (
	"bytes"
	"flag"
	"math/rand/v2"
	"testing"
	"time"
)

var seedFlag = flag.Uint64("seed", 0, "seed of TestRandomOps (0: from the clock)")

// TestRandomOps applies seeded random commands, each through the log
// encoding, and checks after every step what the controller promises:
// epochs only grow, the master is always in the SyncStateSet, a request at
// a stale epoch or a refused one changes nothing, and a snapshot restores
// the same state. Rerun a failure with -seed.
func TestRandomOps(t *testing.T) {
	seed := *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	s := &State{}
	succeeded := map[kind]int{}
	for step := range 20000 {
		cmd := randomCommand(rng, s)
		enc, err := EncodeCommand(nil, cmd)
		if err != nil {
			t.Fatal(err)
		}
		dec, err := DecodeCommand(enc)
		if err != nil {
			t.Fatalf("step %d: %T does not decode: %v", step, cmd, err)
		}
		before := s.Clone()
		r := s.Apply(dec)
		if again := before.Clone().Apply(cmd); again.Code != r.Code {
			t.Fatalf("step %d: %T decoded applies as %v, encoded as %v", step, cmd, r.Code, again.Code)
		}
		checkStep(t, step, before, s, dec, r)
		if r.Code == Success {
			succeeded[dec.kind()]++
		}
		if step%500 == 0 {
			snap, err := EncodeState(nil, s)
			if err != nil {
				t.Fatal(err)
			}
			back, err := DecodeState(snap)
			if err != nil {
				t.Fatalf("step %d: snapshot does not decode: %v", step, err)
			}
			if snap2, _ := EncodeState(nil, back); !bytes.Equal(snap, snap2) {
				t.Fatalf("step %d: snapshot round trip differs", step)
			}
		}
	}
	t.Logf("successes by kind: %v", succeeded)
	for k := kindApplyBrokerID; k <= kindSetControllerAddr; k++ {
		if succeeded[k] == 0 {
			t.Errorf("no command of kind %d succeeded: the generator misses that path", k)
		}
	}
}

func checkStep(t *testing.T, step int, before, after *State, cmd Command, r Result) {
	t.Helper()
	for _, g := range after.Groups() {
		if err := g.check(); err != nil {
			t.Fatalf("step %d %T %+v: %v", step, cmd, cmd, err)
		}
		old, ok := before.Group(g.Name)
		if !ok {
			continue
		}
		if g.MasterEpoch < old.MasterEpoch || g.SyncStateSetEpoch < old.SyncStateSetEpoch {
			t.Fatalf("step %d %T: epochs went back: %+v -> %+v", step, cmd, old, g)
		}
	}
	unchanged := r.Code != Success && r.Code != ControllerMasterNotAvailable
	if a, ok := cmd.(*AlterSyncStateSet); ok {
		if g, exists := before.Group(a.BrokerName); exists && (a.MasterEpoch != g.MasterEpoch || a.SyncStateSetEpoch != g.SyncStateSetEpoch) {
			if r.Code == Success {
				t.Fatalf("step %d: a stale AlterSyncStateSet succeeded: %+v on %+v", step, a, g)
			}
			unchanged = true
		}
	}
	if unchanged {
		b1, _ := EncodeState(nil, before)
		b2, _ := EncodeState(nil, after)
		if !bytes.Equal(b1, b2) {
			t.Fatalf("step %d: refused %T (%v) changed the state:\n%s\n%s", step, cmd, r.Code, b1, b2)
		}
	}
}

// randomCommand is a command of any kind, with ids and epochs drawn near
// the group's current ones so that many succeed and many are stale.
func randomCommand(rng *rand.Rand, s *State) Command {
	name := []string{"a", "b", "c"}[rng.IntN(3)]
	g, _ := s.Group(name)
	id := func() int64 { return int64(rng.IntN(5)) + 1 }
	ids := func() []int64 {
		var out []int64
		for range rng.IntN(4) {
			out = append(out, id())
		}
		return out
	}
	near := func(e int32) int32 {
		if rng.IntN(3) != 0 {
			return e
		}
		return e + int32(rng.IntN(3)) - 1
	}
	alive := func() []int64 {
		if rng.IntN(2) == 0 {
			return []int64{1, 2, 3, 4, 5}
		}
		return ids()
	}
	switch rng.IntN(10) {
	case 0, 1:
		n := s.NextBrokerID(name)
		if rng.IntN(4) == 0 {
			n = id()
		}
		return &ApplyBrokerID{Cluster: "C", BrokerName: name, BrokerID: n, CheckCode: "h" + itoa(n) + ":1;" + itoa(int64(rng.IntN(2)))}
	case 2:
		return &RegisterBroker{Cluster: "C", BrokerName: name, BrokerID: id(), Addr: "h:" + itoa(int64(rng.IntN(3)))}
	case 3, 4, 5:
		master := g.MasterID
		if rng.IntN(5) == 0 {
			master = id()
		}
		set := append(ids(), master)
		return &AlterSyncStateSet{BrokerName: name, MasterID: master, MasterEpoch: near(g.MasterEpoch),
			SyncStateSetEpoch: near(g.SyncStateSetEpoch), SyncStateSet: set, Alive: alive()}
	case 6, 7, 8:
		broker := ControllerTrigger
		if rng.IntN(2) == 0 {
			broker = id()
		}
		return &ElectMaster{Cluster: "C", BrokerName: name, BrokerID: broker, Designate: rng.IntN(4) == 0,
			Alive: ids(), Unclean: rng.IntN(5) == 0}
	default:
		if rng.IntN(3) == 0 {
			return &SetControllerAddr{ID: "n" + itoa(id()), Addr: "h:9876"}
		}
		return &CleanBrokerData{Cluster: "C", BrokerName: name, BrokerIDs: ids(), CleanLiving: rng.IntN(8) == 0, Alive: ids()}
	}
}
