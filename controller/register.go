package controller

import "strings"

// Registration, RocketMQ 5.1's three steps (ReplicasManager on the broker,
// ReplicasInfoManager on the controller):
//
//  1. CONTROLLER_GET_NEXT_BROKER_ID: a broker without an id asks which id
//     is next (a read: State.NextBrokerID).
//  2. CONTROLLER_APPLY_BROKER_ID: it applies for that id with a
//     registerCheckCode "address;timestamp"; the id is granted if free, or
//     if the same check code holds it already (the broker retrying). A
//     broker that loses the race asks for the next id again.
//  3. CONTROLLER_REGISTER_BROKER: with its id, on every start, it
//     registers its current address and learns the master and the
//     SyncStateSet.
//
// A broker that knows its id (it keeps it on disk) starts at step 3.

// ApplyBrokerID is step 2.
type ApplyBrokerID struct {
	Cluster    string `json:"clusterName"`
	BrokerName string `json:"brokerName"`
	BrokerID   int64  `json:"appliedBrokerId"`
	CheckCode  string `json:"registerCheckCode"`
}

func (*ApplyBrokerID) kind() kind { return kindApplyBrokerID }

// CheckCodeAddr is the broker address in a registerCheckCode.
func CheckCodeAddr(checkCode string) string {
	addr, _, _ := strings.Cut(checkCode, ";")
	return addr
}

func (s *State) applyBrokerID(c *ApplyBrokerID) Result {
	if c.BrokerName == "" || c.BrokerID < FirstBrokerID || CheckCodeAddr(c.CheckCode) == "" {
		return refuse(ControllerInvalidRequest, "brokerName, a brokerId >= 1 and a registerCheckCode are required")
	}
	m := Member{ID: c.BrokerID, Addr: CheckCodeAddr(c.CheckCode), CheckCode: c.CheckCode}
	g, exists := s.groups[c.BrokerName]
	if !exists {
		// The first broker of a group must take the first id, so that
		// two brokers starting at once cannot both create the group.
		if c.BrokerID != FirstBrokerID {
			return refuse(ControllerBrokerIDInvalid, "broker group "+c.BrokerName+" is not registered; the first id is 1")
		}
		g = &Group{Cluster: c.Cluster, Name: c.BrokerName, NextBrokerID: FirstBrokerID, MasterID: NoMaster}
		if s.groups == nil {
			s.groups = make(map[string]*Group)
		}
		s.groups[c.BrokerName] = g
		g.putMember(m)
		return ok(g)
	}
	if held, taken := g.Member(c.BrokerID); taken {
		if held.CheckCode != c.CheckCode {
			return refuseIn(g, ControllerBrokerIDInvalid, "brokerId "+itoa(c.BrokerID)+" of "+c.BrokerName+" is held by another broker")
		}
		return ok(g) // the same broker again: nothing changes
	}
	g.putMember(m)
	return ok(g)
}

// RegisterBroker is step 3: the broker's current address.
type RegisterBroker struct {
	Cluster    string `json:"clusterName"`
	BrokerName string `json:"brokerName"`
	BrokerID   int64  `json:"brokerId"`
	Addr       string `json:"brokerAddress"`
}

func (*RegisterBroker) kind() kind { return kindRegisterBroker }

func (s *State) registerBroker(c *RegisterBroker) Result {
	g, exists := s.groups[c.BrokerName]
	if !exists {
		return refuse(ControllerBrokerNeedToBeRegistered, "broker group "+c.BrokerName+" is not registered")
	}
	m, ok2 := g.Member(c.BrokerID)
	if !ok2 {
		return refuseIn(g, ControllerBrokerNeedToBeRegistered, "brokerId "+itoa(c.BrokerID)+" is not registered in "+c.BrokerName)
	}
	if c.Addr != "" && c.Addr != m.Addr {
		m.Addr = c.Addr
		g.putMember(m)
	}
	return ok(g)
}
