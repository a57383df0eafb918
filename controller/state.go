package controller

import (
	"cmp"
	"slices"
	"strconv"
)

// The replicated state: per broker group its members, its master and
// master epoch, its SyncStateSet and SyncStateSet epoch (RocketMQ's
// BrokerReplicaInfo and SyncStateInfo, kept together). Broker liveness is
// not here: heartbeats are leader-local (liveness.go), and a command that
// depends on them carries what the leader saw (the Alive lists), so that
// applying a command is the same on every node.

// FirstBrokerID is the id the first broker of a group applies for
// (MixAll.FIRST_BROKER_CONTROLLER_ID); ids count up from it.
const FirstBrokerID int64 = 1

// NoMaster is Group.MasterID while a group has no master (RocketMQ's null
// masterBrokerId).
const NoMaster int64 = -1

// Member is one broker of a group.
type Member struct {
	ID   int64  `json:"brokerId"`
	Addr string `json:"brokerAddress"`
	// CheckCode is the registerCheckCode of the broker that applied for the
	// id ("address;timestamp"): the same broker may apply again, another
	// may not.
	CheckCode string `json:"registerCheckCode,omitempty"`
}

// Group is one broker group (keyed by brokerName, as RocketMQ keys it: a
// brokerName is unique among the clusters one controller serves).
type Group struct {
	Cluster           string   `json:"clusterName"`
	Name              string   `json:"brokerName"`
	Members           []Member `json:"members"` // ascending by ID
	NextBrokerID      int64    `json:"nextBrokerId"`
	MasterID          int64    `json:"masterBrokerId"` // NoMaster if none
	MasterEpoch       int32    `json:"masterEpoch"`
	SyncStateSet      []int64  `json:"syncStateSet"` // ascending
	SyncStateSetEpoch int32    `json:"syncStateSetEpoch"`
}

// State is the whole replicated state. The zero value is empty and ready.
// It is not safe for concurrent use: the FSM guards it.
type State struct {
	groups map[string]*Group
	// controllers maps a controller's raft id to the remoting address it
	// serves brokers on, written by each leader when it takes office, so a
	// follower can tell a client where the leader answers.
	controllers map[string]string
}

// Group returns a copy of the group named brokerName.
func (s *State) Group(brokerName string) (Group, bool) {
	g, ok := s.groups[brokerName]
	if !ok {
		return Group{}, false
	}
	return g.clone(), true
}

// Groups returns copies of every group, ascending by name.
func (s *State) Groups() []Group {
	out := make([]Group, 0, len(s.groups))
	for _, g := range s.groups {
		out = append(out, g.clone())
	}
	slices.SortFunc(out, func(a, b Group) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// ControllerAddr is the remoting address the controller with raft id id
// announced, or "".
func (s *State) ControllerAddr(id string) string { return s.controllers[id] }

// NextBrokerID is the id a new broker of brokerName should apply for
// (CONTROLLER_GET_NEXT_BROKER_ID).
func (s *State) NextBrokerID(brokerName string) int64 {
	if g, ok := s.groups[brokerName]; ok {
		return g.NextBrokerID
	}
	return FirstBrokerID
}

// Clone returns a deep copy of s.
func (s *State) Clone() *State {
	c := &State{}
	for name, g := range s.groups {
		if c.groups == nil {
			c.groups = make(map[string]*Group, len(s.groups))
		}
		cg := g.clone()
		c.groups[name] = &cg
	}
	for id, addr := range s.controllers {
		if c.controllers == nil {
			c.controllers = make(map[string]string, len(s.controllers))
		}
		c.controllers[id] = addr
	}
	return c
}

func (g *Group) clone() Group {
	c := *g
	c.Members = slices.Clone(g.Members)
	c.SyncStateSet = slices.Clone(g.SyncStateSet)
	return c
}

// Member returns the member with id.
func (g *Group) Member(id int64) (Member, bool) {
	i, ok := slices.BinarySearchFunc(g.Members, id, func(m Member, id int64) int { return cmp.Compare(m.ID, id) })
	if !ok {
		return Member{}, false
	}
	return g.Members[i], true
}

// Addr is the address of member id, or "".
func (g *Group) Addr(id int64) string {
	m, _ := g.Member(id)
	return m.Addr
}

// InSyncStateSet reports whether id is in the SyncStateSet.
func (g *Group) InSyncStateSet(id int64) bool {
	_, ok := slices.BinarySearch(g.SyncStateSet, id)
	return ok
}

// HasMaster reports whether the group has a master.
func (g *Group) HasMaster() bool { return g.MasterID != NoMaster }

// putMember adds m or replaces the member with its id, keeping order.
func (g *Group) putMember(m Member) {
	i, ok := slices.BinarySearchFunc(g.Members, m.ID, func(x Member, id int64) int { return cmp.Compare(x.ID, id) })
	if ok {
		g.Members[i] = m
		return
	}
	g.Members = slices.Insert(g.Members, i, m)
	g.NextBrokerID = max(g.NextBrokerID, m.ID+1)
}

func (g *Group) removeMember(id int64) {
	g.Members = slices.DeleteFunc(g.Members, func(m Member) bool { return m.ID == id })
	g.SyncStateSet = slices.DeleteFunc(g.SyncStateSet, func(x int64) bool { return x == id })
}

// setIDs returns ids sorted and without duplicates, as a new slice.
func setIDs(ids []int64) []int64 {
	out := slices.Clone(ids)
	slices.Sort(out)
	return slices.Compact(out)
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }
