package controller

import (
	"encoding/json"
	"errors"
	"strconv"

	"github.com/twinmq/twinmq/wire/remoting"
)

// SyncStateSet codes: CONTROLLER_ALTER_SYNC_STATE_SET (1001),
// CONTROLLER_GET_REPLICA_INFO (1004), CONTROLLER_GET_SYNC_STATE_DATA
// (1006).

// maxBrokerNames bounds a GET_SYNC_STATE_DATA request.
const maxBrokerNames = 10000

func decodeAlterSyncStateSet(req *remoting.Command) (*AlterSyncStateSet, error) {
	f := fields{ext: req.ExtFields}
	cmd := &AlterSyncStateSet{BrokerName: f.str("brokerName", true), MasterID: f.int64("masterBrokerId", 0, true),
		MasterEpoch: f.int32("masterEpoch", 0, true)}
	if f.err != nil {
		return nil, f.err
	}
	var body SyncStateSetBody
	if err := json.Unmarshal(req.Body, &body); err != nil {
		return nil, errors.New("body: not a SyncStateSet: " + err.Error())
	}
	cmd.SyncStateSet, cmd.SyncStateSetEpoch = setIDs(body.SyncStateSet), body.SyncStateSetEpoch
	return cmd, nil
}

// handleAlterSyncStateSet answers AlterSyncStateSetResponseHeader
// (newSyncStateSetEpoch) with the new SyncStateSet as the body.
func (c *Controller) handleAlterSyncStateSet(req *remoting.Command) *remoting.Command {
	cmd, err := decodeAlterSyncStateSet(req)
	if err != nil {
		return badRequest(req, err)
	}
	now := c.cfg.Now()
	c.mu.Lock()
	for _, id := range cmd.SyncStateSet {
		if c.live.Alive(cmd.BrokerName, id, now) {
			cmd.Alive = append(cmd.Alive, id)
		}
	}
	c.mu.Unlock()
	ctx, cancel := c.ctx()
	defer cancel()
	r, err := c.propose(ctx, cmd)
	resp := c.applyResult(req, r, err)
	if err != nil || r.Code != Success {
		return resp
	}
	resp.ExtFields["newSyncStateSetEpoch"] = strconv.Itoa(int(r.Group.SyncStateSetEpoch))
	return setJSON(resp, SyncStateSetBody{SyncStateSet: r.Group.SyncStateSet, SyncStateSetEpoch: r.Group.SyncStateSetEpoch})
}

func decodeGetReplicaInfo(req *remoting.Command) (string, error) {
	f := fields{ext: req.ExtFields}
	name := f.str("brokerName", true)
	return name, f.err
}

// handleGetReplicaInfo answers GetReplicaInfoResponseHeader with the
// SyncStateSet as the body, or CONTROLLER_BROKER_METADATA_NOT_EXIST.
func (c *Controller) handleGetReplicaInfo(req *remoting.Command) *remoting.Command {
	name, err := decodeGetReplicaInfo(req)
	if err != nil {
		return badRequest(req, err)
	}
	var g Group
	var ok bool
	c.fsm.view(func(s *State) { g, ok = s.Group(name) })
	if !ok {
		return respond(req, ControllerBrokerMetadataNotExist, "broker group "+name+" is not registered")
	}
	resp := respond(req, Success, "")
	setMaster(resp, &g)
	return setJSON(resp, SyncStateSetBody{SyncStateSet: g.SyncStateSet, SyncStateSetEpoch: g.SyncStateSetEpoch})
}

// ReplicaIdentity, ReplicasInfo and BrokerReplicasInfo are RocketMQ's
// BrokerReplicasInfo body of GET_SYNC_STATE_DATA.
type ReplicaIdentity struct {
	BrokerName    string `json:"brokerName"`
	BrokerID      int64  `json:"brokerId"`
	BrokerAddress string `json:"brokerAddress"`
	Alive         bool   `json:"alive"`
}

// ReplicasInfo is one group of BrokerReplicasInfo.
type ReplicasInfo struct {
	MasterBrokerID    *int64            `json:"masterBrokerId,omitempty"`
	MasterAddress     string            `json:"masterAddress,omitempty"`
	MasterEpoch       int32             `json:"masterEpoch"`
	SyncStateSetEpoch int32             `json:"syncStateSetEpoch"`
	InSyncReplicas    []ReplicaIdentity `json:"inSyncReplicas"`
	NotInSyncReplicas []ReplicaIdentity `json:"notInSyncReplicas"`
}

// BrokerReplicasInfo is the body of a GET_SYNC_STATE_DATA response.
type BrokerReplicasInfo struct {
	ReplicasInfoTable map[string]ReplicasInfo `json:"replicasInfoTable"`
}

func decodeGetSyncStateData(req *remoting.Command) ([]string, error) {
	var names []string
	if err := json.Unmarshal(req.Body, &names); err != nil {
		return nil, errors.New("body: not a JSON list of brokerNames: " + err.Error())
	}
	if len(names) > maxBrokerNames {
		return nil, errors.New("body: too many brokerNames")
	}
	return names, nil
}

func (c *Controller) handleGetSyncStateData(req *remoting.Command) *remoting.Command {
	names, err := decodeGetSyncStateData(req)
	if err != nil {
		return badRequest(req, err)
	}
	out := BrokerReplicasInfo{ReplicasInfoTable: map[string]ReplicasInfo{}}
	var groups []Group
	c.fsm.view(func(s *State) {
		for _, n := range names {
			if g, ok := s.Group(n); ok {
				groups = append(groups, g)
			}
		}
	})
	now := c.cfg.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, g := range groups {
		ri := ReplicasInfo{MasterEpoch: g.MasterEpoch, SyncStateSetEpoch: g.SyncStateSetEpoch,
			InSyncReplicas: []ReplicaIdentity{}, NotInSyncReplicas: []ReplicaIdentity{}}
		if g.HasMaster() {
			id := g.MasterID
			ri.MasterBrokerID, ri.MasterAddress = &id, g.Addr(id)
		}
		for _, m := range g.Members {
			r := ReplicaIdentity{BrokerName: g.Name, BrokerID: m.ID, BrokerAddress: m.Addr, Alive: c.live.Alive(g.Name, m.ID, now)}
			if g.InSyncStateSet(m.ID) {
				ri.InSyncReplicas = append(ri.InSyncReplicas, r)
			} else {
				ri.NotInSyncReplicas = append(ri.NotInSyncReplicas, r)
			}
		}
		out.ReplicasInfoTable[g.Name] = ri
	}
	return setJSON(respond(req, Success, ""), out)
}
