package controller

import (
	"fmt"
	"slices"
)

// CleanBrokerData is CLEAN_BROKER_DATA (an admin's cleanBrokerMetadata):
// forget brokers of a group, or the whole group. Without CleanLiving only
// brokers that are not alive may be forgotten, and a whole group only once
// it has no master.
type CleanBrokerData struct {
	Cluster    string `json:"clusterName"`
	BrokerName string `json:"brokerName"`
	// BrokerIDs to forget; none means the whole group
	// (brokerControllerIdsToClean, ';'-separated on the wire).
	BrokerIDs   []int64 `json:"brokerIds"`
	CleanLiving bool    `json:"cleanLivingBroker"`
	Alive       []int64 `json:"alive"`
}

func (*CleanBrokerData) kind() kind { return kindCleanBrokerData }

func (s *State) cleanBrokerData(c *CleanBrokerData) Result {
	g, exists := s.groups[c.BrokerName]
	if !exists {
		return refuse(ControllerInvalidCleanBrokerMetadata, "broker group "+c.BrokerName+" is not registered")
	}
	if !c.CleanLiving {
		if len(c.BrokerIDs) == 0 && g.HasMaster() {
			return refuseIn(g, ControllerInvalidCleanBrokerMetadata, "broker group "+c.BrokerName+" still has a master")
		}
		for _, id := range c.BrokerIDs {
			if slices.Contains(c.Alive, id) {
				return refuseIn(g, ControllerInvalidCleanBrokerMetadata, fmt.Sprintf("broker %d is still alive", id))
			}
		}
	}
	if len(c.BrokerIDs) == 0 {
		delete(s.groups, c.BrokerName)
		return Result{Code: Success}
	}
	before := len(g.SyncStateSet)
	for _, id := range c.BrokerIDs {
		if id == g.MasterID {
			// The master leaves: there is no master, in a new epoch, so
			// the SyncStateSet never lacks the master it names.
			g.MasterID = NoMaster
			g.MasterEpoch++
		}
		g.removeMember(id)
	}
	if len(g.SyncStateSet) != before {
		g.SyncStateSetEpoch++ // a master holding the old set is fenced
	}
	if len(g.Members) == 0 {
		delete(s.groups, c.BrokerName)
		return Result{Code: Success}
	}
	return ok(g)
}
