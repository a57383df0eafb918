package controller

import (
	"slices"
	"testing"
)

// apply runs cmds on s and returns the last result.
func apply(t *testing.T, s *State, cmds ...Command) Result {
	t.Helper()
	var r Result
	for _, c := range cmds {
		r = s.Apply(c)
	}
	return r
}

// twoBrokers is a group "b" with brokers 1 (master, epoch 1) and 2, both
// in the SyncStateSet (epoch 2).
func twoBrokers(t *testing.T) *State {
	t.Helper()
	s := &State{}
	for _, c := range []Command{
		&ApplyBrokerID{Cluster: "C", BrokerName: "b", BrokerID: 1, CheckCode: "10.0.0.1:10911;1"},
		&ApplyBrokerID{Cluster: "C", BrokerName: "b", BrokerID: 2, CheckCode: "10.0.0.2:10911;1"},
		&ElectMaster{Cluster: "C", BrokerName: "b", BrokerID: 1},
		&AlterSyncStateSet{BrokerName: "b", MasterID: 1, MasterEpoch: 1, SyncStateSetEpoch: 1, SyncStateSet: []int64{1, 2}, Alive: []int64{1, 2}},
	} {
		if r := s.Apply(c); r.Code != Success {
			t.Fatalf("%T: %v %s", c, r.Code, r.Remark)
		}
	}
	return s
}

func TestRegistration(t *testing.T) {
	cases := []struct {
		name string
		cmds []Command
		code Code
		next int64 // NextBrokerID after
	}{
		{"first id", []Command{&ApplyBrokerID{BrokerName: "b", BrokerID: 1, CheckCode: "a:1;1"}}, Success, 2},
		{"first must be 1", []Command{&ApplyBrokerID{BrokerName: "b", BrokerID: 2, CheckCode: "a:1;1"}}, ControllerBrokerIDInvalid, 1},
		{"no check code", []Command{&ApplyBrokerID{BrokerName: "b", BrokerID: 1}}, ControllerInvalidRequest, 1},
		{"same broker again", []Command{
			&ApplyBrokerID{BrokerName: "b", BrokerID: 1, CheckCode: "a:1;1"},
			&ApplyBrokerID{BrokerName: "b", BrokerID: 1, CheckCode: "a:1;1"}}, Success, 2},
		{"id taken", []Command{
			&ApplyBrokerID{BrokerName: "b", BrokerID: 1, CheckCode: "a:1;1"},
			&ApplyBrokerID{BrokerName: "b", BrokerID: 1, CheckCode: "a:2;1"}}, ControllerBrokerIDInvalid, 2},
		{"second id", []Command{
			&ApplyBrokerID{BrokerName: "b", BrokerID: 1, CheckCode: "a:1;1"},
			&ApplyBrokerID{BrokerName: "b", BrokerID: 2, CheckCode: "a:2;1"}}, Success, 3},
		{"register unknown group", []Command{&RegisterBroker{BrokerName: "b", BrokerID: 1, Addr: "a:1"}}, ControllerBrokerNeedToBeRegistered, 1},
		{"register unknown id", []Command{
			&ApplyBrokerID{BrokerName: "b", BrokerID: 1, CheckCode: "a:1;1"},
			&RegisterBroker{BrokerName: "b", BrokerID: 2, Addr: "a:2"}}, ControllerBrokerNeedToBeRegistered, 2},
		{"register", []Command{
			&ApplyBrokerID{BrokerName: "b", BrokerID: 1, CheckCode: "a:1;1"},
			&RegisterBroker{BrokerName: "b", BrokerID: 1, Addr: "a:9"}}, Success, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := &State{}
			if r := apply(t, s, c.cmds...); r.Code != c.code {
				t.Fatalf("code %v (%s), want %v", r.Code, r.Remark, c.code)
			}
			if got := s.NextBrokerID("b"); got != c.next {
				t.Fatalf("next id %d, want %d", got, c.next)
			}
		})
	}
	s := &State{}
	apply(t, s, &ApplyBrokerID{BrokerName: "b", BrokerID: 1, CheckCode: "a:1;1"}, &RegisterBroker{BrokerName: "b", BrokerID: 1, Addr: "a:9"})
	if g, _ := s.Group("b"); g.Addr(1) != "a:9" {
		t.Fatalf("address after register: %q", g.Addr(1))
	}
}

func TestAlterSyncStateSet(t *testing.T) {
	cases := []struct {
		name string
		cmd  AlterSyncStateSet
		code Code
	}{
		{"shrink", AlterSyncStateSet{MasterID: 1, MasterEpoch: 1, SyncStateSetEpoch: 2, SyncStateSet: []int64{1}, Alive: []int64{1, 2}}, Success},
		{"not the master", AlterSyncStateSet{MasterID: 2, MasterEpoch: 1, SyncStateSetEpoch: 2, SyncStateSet: []int64{1}, Alive: []int64{1, 2}}, ControllerInvalidMaster},
		{"stale master epoch", AlterSyncStateSet{MasterID: 1, MasterEpoch: 0, SyncStateSetEpoch: 2, SyncStateSet: []int64{1}, Alive: []int64{1, 2}}, ControllerFencedMasterEpoch},
		{"future master epoch", AlterSyncStateSet{MasterID: 1, MasterEpoch: 2, SyncStateSetEpoch: 2, SyncStateSet: []int64{1}, Alive: []int64{1, 2}}, ControllerFencedMasterEpoch},
		{"stale set epoch", AlterSyncStateSet{MasterID: 1, MasterEpoch: 1, SyncStateSetEpoch: 1, SyncStateSet: []int64{1}, Alive: []int64{1, 2}}, ControllerFencedSyncStateSetEpoch},
		{"unchanged", AlterSyncStateSet{MasterID: 1, MasterEpoch: 1, SyncStateSetEpoch: 2, SyncStateSet: []int64{2, 1}, Alive: []int64{1, 2}}, ControllerAlterSyncStateSetFailed},
		{"without master", AlterSyncStateSet{MasterID: 1, MasterEpoch: 1, SyncStateSetEpoch: 2, SyncStateSet: []int64{2}, Alive: []int64{1, 2}}, ControllerAlterSyncStateSetFailed},
		{"non-member", AlterSyncStateSet{MasterID: 1, MasterEpoch: 1, SyncStateSetEpoch: 2, SyncStateSet: []int64{1, 7}, Alive: []int64{1, 2, 7}}, ControllerInvalidReplicas},
		{"dead replica", AlterSyncStateSet{MasterID: 1, MasterEpoch: 1, SyncStateSetEpoch: 2, SyncStateSet: []int64{1, 2, 3}, Alive: []int64{1, 2}}, ControllerInvalidReplicas},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := twoBrokers(t)
			before, _ := s.Group("b")
			c.cmd.BrokerName = "b"
			r := s.Apply(&c.cmd)
			if r.Code != c.code {
				t.Fatalf("code %v (%s), want %v", r.Code, r.Remark, c.code)
			}
			after, _ := s.Group("b")
			if c.code != Success && !groupsEqual(before, after) {
				t.Fatalf("a refused request changed the group: %+v -> %+v", before, after)
			}
			if c.code == Success && (after.SyncStateSetEpoch != before.SyncStateSetEpoch+1 || !slices.Equal(after.SyncStateSet, setIDs(c.cmd.SyncStateSet))) {
				t.Fatalf("after: %+v", after)
			}
		})
	}
	s := twoBrokers(t)
	apply(t, s, &ApplyBrokerID{BrokerName: "b", BrokerID: 3, CheckCode: "c:1;1"})
	r := s.Apply(&AlterSyncStateSet{BrokerName: "b", MasterID: 1, MasterEpoch: 1, SyncStateSetEpoch: 2, SyncStateSet: []int64{1, 2, 3}, Alive: []int64{1, 2}})
	if r.Code != ControllerBrokerNotAlive {
		t.Fatalf("dead member joining: %v", r.Code)
	}
}

func TestElectMaster(t *testing.T) {
	cases := []struct {
		name     string
		prep     []Command
		cmd      ElectMaster
		code     Code
		master   int64
		epoch    int32
		sssEpoch int32
	}{
		{"master alive stays", nil, ElectMaster{BrokerID: ControllerTrigger, Alive: []int64{1, 2}}, ControllerMasterStillExist, 1, 1, 2},
		{"master dead, slave in set", nil, ElectMaster{BrokerID: ControllerTrigger, Alive: []int64{2}}, Success, 2, 2, 3},
		{"nobody alive, controller", nil, ElectMaster{BrokerID: ControllerTrigger}, ControllerMasterNotAvailable, NoMaster, 2, 2},
		{"nobody alive, broker asks", nil, ElectMaster{BrokerID: 2}, ControllerElectMasterFailed, 1, 1, 2},
		{"designate slave", nil, ElectMaster{BrokerID: 2, Designate: true, Alive: []int64{1, 2}}, Success, 2, 2, 3},
		{"designate dead", nil, ElectMaster{BrokerID: 2, Designate: true, Alive: []int64{1}}, ControllerElectMasterFailed, 1, 1, 2},
		{"out of set is not clean", []Command{
			&AlterSyncStateSet{BrokerName: "b", MasterID: 1, MasterEpoch: 1, SyncStateSetEpoch: 2, SyncStateSet: []int64{1}, Alive: []int64{1, 2}},
		}, ElectMaster{BrokerID: ControllerTrigger, Alive: []int64{2}}, ControllerMasterNotAvailable, NoMaster, 2, 3},
		{"unclean", []Command{
			&AlterSyncStateSet{BrokerName: "b", MasterID: 1, MasterEpoch: 1, SyncStateSetEpoch: 2, SyncStateSet: []int64{1}, Alive: []int64{1, 2}},
		}, ElectMaster{BrokerID: ControllerTrigger, Alive: []int64{2}, Unclean: true}, Success, 2, 2, 4},
		{"best candidate first", []Command{
			&ApplyBrokerID{BrokerName: "b", BrokerID: 3, CheckCode: "c:1;1"},
			&AlterSyncStateSet{BrokerName: "b", MasterID: 1, MasterEpoch: 1, SyncStateSetEpoch: 2, SyncStateSet: []int64{1, 2, 3}, Alive: []int64{1, 2, 3}},
		}, ElectMaster{BrokerID: ControllerTrigger, Alive: []int64{3, 2}}, Success, 3, 2, 4},
		{"unknown group", []Command{&CleanBrokerData{BrokerName: "b", CleanLiving: true}}, ElectMaster{BrokerID: 1}, ControllerBrokerNeedToBeRegistered, 0, 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := twoBrokers(t)
			for _, p := range c.prep {
				if r := s.Apply(p); r.Code != Success {
					t.Fatalf("prep %T: %v %s", p, r.Code, r.Remark)
				}
			}
			c.cmd.BrokerName = "b"
			r := s.Apply(&c.cmd)
			if r.Code != c.code {
				t.Fatalf("code %v (%s), want %v", r.Code, r.Remark, c.code)
			}
			g, ok := s.Group("b")
			if !ok {
				return
			}
			if g.MasterID != c.master || g.MasterEpoch != c.epoch || g.SyncStateSetEpoch != c.sssEpoch {
				t.Fatalf("master %d epoch %d sssEpoch %d, want %d %d %d", g.MasterID, g.MasterEpoch, g.SyncStateSetEpoch, c.master, c.epoch, c.sssEpoch)
			}
			if c.code == Success && !slices.Equal(g.SyncStateSet, []int64{c.master}) {
				t.Fatalf("syncStateSet %v after electing %d", g.SyncStateSet, c.master)
			}
		})
	}
}

func TestFirstElection(t *testing.T) {
	s := &State{}
	apply(t, s, &ApplyBrokerID{BrokerName: "b", BrokerID: 1, CheckCode: "a:1;1"}, &ApplyBrokerID{BrokerName: "b", BrokerID: 2, CheckCode: "a:2;1"})
	if r := s.Apply(&ElectMaster{BrokerName: "b", BrokerID: 9}); r.Code != ControllerElectMasterFailed {
		t.Fatalf("non-member first master: %v", r.Code)
	}
	// The first broker to ask becomes master, with no liveness needed.
	if r := s.Apply(&ElectMaster{BrokerName: "b", BrokerID: 2}); r.Code != Success || r.Group.MasterID != 2 || r.Group.MasterEpoch != 1 {
		t.Fatalf("first election: %+v", r)
	}
	if r := s.Apply(&ElectMaster{BrokerName: "b", BrokerID: 1, Alive: []int64{1, 2}}); r.Code != ControllerMasterStillExist {
		t.Fatalf("second ask: %v", r.Code)
	}
}

func TestCleanBrokerData(t *testing.T) {
	cases := []struct {
		name    string
		cmd     CleanBrokerData
		code    Code
		members int // -1: the group is gone
		master  int64
	}{
		{"whole group with a master", CleanBrokerData{}, ControllerInvalidCleanBrokerMetadata, 2, 1},
		{"whole group, living", CleanBrokerData{CleanLiving: true}, Success, -1, 0},
		{"alive slave", CleanBrokerData{BrokerIDs: []int64{2}, Alive: []int64{2}}, ControllerInvalidCleanBrokerMetadata, 2, 1},
		{"dead slave", CleanBrokerData{BrokerIDs: []int64{2}, Alive: []int64{1}}, Success, 1, 1},
		{"dead master", CleanBrokerData{BrokerIDs: []int64{1}, Alive: []int64{2}}, Success, 1, NoMaster},
		{"everyone", CleanBrokerData{BrokerIDs: []int64{1, 2}}, Success, -1, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := twoBrokers(t)
			c.cmd.BrokerName = "b"
			if r := s.Apply(&c.cmd); r.Code != c.code {
				t.Fatalf("code %v (%s), want %v", r.Code, r.Remark, c.code)
			}
			g, ok := s.Group("b")
			if c.members < 0 {
				if ok {
					t.Fatalf("group still there: %+v", g)
				}
				return
			}
			if len(g.Members) != c.members || g.MasterID != c.master {
				t.Fatalf("after: %+v", g)
			}
			if err := g.check(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func groupsEqual(a, b Group) bool {
	return a.Cluster == b.Cluster && a.Name == b.Name && slices.Equal(a.Members, b.Members) &&
		a.NextBrokerID == b.NextBrokerID && a.MasterID == b.MasterID && a.MasterEpoch == b.MasterEpoch &&
		slices.Equal(a.SyncStateSet, b.SyncStateSet) && a.SyncStateSetEpoch == b.SyncStateSetEpoch
}
