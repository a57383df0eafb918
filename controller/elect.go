package controller

import (
	"fmt"
	"slices"
)

// ControllerTrigger is ElectMaster.BrokerID when the controller itself
// asks for an election, because the master stopped heartbeating
// (ElectMasterRequestHeader.ofControllerTrigger: brokerId -1).
const ControllerTrigger int64 = -1

// ElectMaster is CONTROLLER_ELECT_MASTER, from a broker (BrokerID is the
// asking broker) or from the leader's heartbeat scan (ControllerTrigger).
//
// The policy is RocketMQ's DefaultElectPolicy: the first election of a
// group makes the asking broker master; after that the candidates are the
// alive members of the SyncStateSet (all alive members if Unclean), the
// old master is kept while it is a candidate, a designated broker is taken
// only if it is a candidate, and otherwise the best candidate in Alive's
// order wins (the leader orders Alive by the heartbeats' epoch, maxOffset
// and electionPriority). A new master starts a new masterEpoch with the
// SyncStateSet {itself}.
type ElectMaster struct {
	Cluster    string `json:"clusterName"`
	BrokerName string `json:"brokerName"`
	BrokerID   int64  `json:"brokerId"`
	// Designate asks for BrokerID to become master (designateElect).
	Designate bool `json:"designateElect"`
	// Alive lists the members the leader saw alive, best candidate first.
	Alive []int64 `json:"alive"`
	// Unclean allows a master from outside the SyncStateSet
	// (enableElectUncleanMaster); it can lose acknowledged messages.
	Unclean bool `json:"unclean"`
}

func (*ElectMaster) kind() kind { return kindElectMaster }

func (s *State) electMaster(c *ElectMaster) Result {
	g, exists := s.groups[c.BrokerName]
	if !exists {
		return refuse(ControllerBrokerNeedToBeRegistered, "broker group "+c.BrokerName+" is not registered")
	}
	next := NoMaster
	if g.MasterEpoch == 0 && c.BrokerID != ControllerTrigger {
		if _, ok := g.Member(c.BrokerID); !ok {
			return refuseIn(g, ControllerElectMasterFailed, fmt.Sprintf("broker %d is not a member", c.BrokerID))
		}
		next = c.BrokerID // the first master of the group
	} else {
		next = g.candidate(c)
	}
	if next != NoMaster && next == g.MasterID {
		return refuseIn(g, ControllerMasterStillExist, fmt.Sprintf("master %d is still alive", next))
	}
	if next != NoMaster {
		g.MasterID = next
		g.MasterEpoch++
		g.SyncStateSet = []int64{next}
		g.SyncStateSetEpoch++
		return ok(g)
	}
	if c.BrokerID == ControllerTrigger && g.HasMaster() {
		// The master is gone and no one may replace it: record that there
		// is no master, in a new epoch, so the old one is fenced. The
		// SyncStateSet stays, so its members may be elected when they
		// return (ReplicasInfoManager.handleElectMaster).
		g.MasterID = NoMaster
		g.MasterEpoch++
		return refuseIn(g, ControllerMasterNotAvailable, "the master is down and no alive broker of the SyncStateSet can replace it")
	}
	return refuseIn(g, ControllerElectMasterFailed, "no alive broker of the SyncStateSet can be master")
}

// candidate picks the new master by the policy of ElectMaster, or NoMaster.
func (g *Group) candidate(c *ElectMaster) int64 {
	if id := g.candidateIn(c, g.SyncStateSet); id != NoMaster {
		return id
	}
	if !c.Unclean {
		return NoMaster
	}
	all := make([]int64, len(g.Members))
	for i, m := range g.Members {
		all[i] = m.ID
	}
	return g.candidateIn(c, all)
}

func (g *Group) candidateIn(c *ElectMaster, set []int64) int64 {
	var alive []int64 // in Alive's order
	for _, id := range c.Alive {
		if slices.Contains(set, id) && !slices.Contains(alive, id) {
			alive = append(alive, id)
		}
	}
	if len(alive) == 0 {
		return NoMaster
	}
	prefer := NoMaster
	if c.Designate {
		prefer = c.BrokerID
	}
	if g.HasMaster() && slices.Contains(alive, g.MasterID) && (prefer == NoMaster || prefer == g.MasterID) {
		return g.MasterID
	}
	if prefer != NoMaster {
		if slices.Contains(alive, prefer) {
			return prefer
		}
		return NoMaster
	}
	return alive[0]
}
