package controller

import (
	"fmt"
	"slices"
)

// AlterSyncStateSet is CONTROLLER_ALTER_SYNC_STATE_SET: the master reports
// which replicas are in sync (it shrinks the set when a slave falls behind,
// grows it when one catches up). Only the current master, at the current
// masterEpoch and syncStateSetEpoch, may change it; anything else is a
// stale view and is fenced.
type AlterSyncStateSet struct {
	BrokerName        string  `json:"brokerName"`
	MasterID          int64   `json:"masterBrokerId"`
	MasterEpoch       int32   `json:"masterEpoch"`
	SyncStateSet      []int64 `json:"syncStateSet"`
	SyncStateSetEpoch int32   `json:"syncStateSetEpoch"`
	// Alive lists the members the leader saw alive when it proposed this.
	Alive []int64 `json:"alive"`
}

func (*AlterSyncStateSet) kind() kind { return kindAlterSyncStateSet }

func (s *State) alterSyncStateSet(c *AlterSyncStateSet) Result {
	g, exists := s.groups[c.BrokerName]
	if !exists {
		return refuse(ControllerAlterSyncStateSetFailed, "broker group "+c.BrokerName+" is not registered")
	}
	if !g.HasMaster() || g.MasterID != c.MasterID {
		return refuseIn(g, ControllerInvalidMaster, fmt.Sprintf("the master is %d, not %d", g.MasterID, c.MasterID))
	}
	if c.MasterEpoch != g.MasterEpoch {
		return refuseIn(g, ControllerFencedMasterEpoch, fmt.Sprintf("masterEpoch is %d, not %d", g.MasterEpoch, c.MasterEpoch))
	}
	if c.SyncStateSetEpoch != g.SyncStateSetEpoch {
		return refuseIn(g, ControllerFencedSyncStateSetEpoch,
			fmt.Sprintf("syncStateSetEpoch is %d, not %d", g.SyncStateSetEpoch, c.SyncStateSetEpoch))
	}
	next := setIDs(c.SyncStateSet)
	if slices.Equal(next, g.SyncStateSet) {
		return refuseIn(g, ControllerAlterSyncStateSetFailed, "the SyncStateSet is unchanged")
	}
	for _, id := range next {
		if _, ok := g.Member(id); !ok {
			return refuseIn(g, ControllerInvalidReplicas, fmt.Sprintf("replica %d is not a member", id))
		}
		if !slices.Contains(c.Alive, id) {
			return refuseIn(g, ControllerBrokerNotAlive, fmt.Sprintf("replica %d is not alive", id))
		}
	}
	if !slices.Contains(next, g.MasterID) {
		return refuseIn(g, ControllerAlterSyncStateSetFailed, fmt.Sprintf("the SyncStateSet must hold the master %d", g.MasterID))
	}
	g.SyncStateSet = next
	g.SyncStateSetEpoch++
	return ok(g)
}
