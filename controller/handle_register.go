package controller

import (
	"strconv"

	"github.com/twinmq/twinmq/wire/remoting"
)

// Registration codes: CONTROLLER_GET_NEXT_BROKER_ID (1012),
// CONTROLLER_APPLY_BROKER_ID (1013), CONTROLLER_REGISTER_BROKER (1003);
// register.go says what each step does.

// SyncStateSetBody is the JSON body RocketMQ calls SyncStateSet.
type SyncStateSetBody struct {
	SyncStateSet      []int64 `json:"syncStateSet"`
	SyncStateSetEpoch int32   `json:"syncStateSetEpoch"`
}

func decodeGetNextBrokerID(req *remoting.Command) (cluster, name string, err error) {
	f := fields{ext: req.ExtFields}
	cluster, name = f.str("clusterName", false), f.str("brokerName", true)
	return cluster, name, f.err
}

func (c *Controller) handleGetNextBrokerID(req *remoting.Command) *remoting.Command {
	cluster, name, err := decodeGetNextBrokerID(req)
	if err != nil {
		return badRequest(req, err)
	}
	var next int64
	c.fsm.view(func(s *State) { next = s.NextBrokerID(name) })
	resp := respond(req, Success, "")
	resp.ExtFields["clusterName"], resp.ExtFields["brokerName"] = cluster, name
	resp.ExtFields["nextBrokerId"] = strconv.FormatInt(next, 10)
	return resp
}

func decodeApplyBrokerID(req *remoting.Command) (*ApplyBrokerID, error) {
	f := fields{ext: req.ExtFields}
	cmd := &ApplyBrokerID{Cluster: f.str("clusterName", false), BrokerName: f.str("brokerName", true),
		BrokerID: f.int64("appliedBrokerId", 0, true), CheckCode: f.str("registerCheckCode", true)}
	return cmd, f.err
}

func (c *Controller) handleApplyBrokerID(req *remoting.Command) *remoting.Command {
	cmd, err := decodeApplyBrokerID(req)
	if err != nil {
		return badRequest(req, err)
	}
	ctx, cancel := c.ctx()
	defer cancel()
	r, err := c.propose(ctx, cmd)
	resp := c.applyResult(req, r, err)
	resp.ExtFields["clusterName"], resp.ExtFields["brokerName"] = cmd.Cluster, cmd.BrokerName
	return resp
}

func decodeRegisterBroker(req *remoting.Command) (*RegisterBroker, error) {
	f := fields{ext: req.ExtFields}
	cmd := &RegisterBroker{Cluster: f.str("clusterName", false), BrokerName: f.str("brokerName", true),
		BrokerID: f.int64("brokerId", 0, true), Addr: f.str("brokerAddress", true)}
	return cmd, f.err
}

// handleRegisterBroker answers RegisterBrokerToControllerResponseHeader:
// the master's id, address and epochs when the group has a master that is
// alive, and the SyncStateSet as the body.
func (c *Controller) handleRegisterBroker(req *remoting.Command) *remoting.Command {
	cmd, err := decodeRegisterBroker(req)
	if err != nil {
		return badRequest(req, err)
	}
	ctx, cancel := c.ctx()
	defer cancel()
	r, err := c.propose(ctx, cmd)
	resp := c.applyResult(req, r, err)
	resp.ExtFields["clusterName"], resp.ExtFields["brokerName"] = cmd.Cluster, cmd.BrokerName
	if err != nil || r.Code != Success {
		return resp
	}
	g := r.Group
	c.mu.Lock()
	alive := c.live.MasterAlive(&g, c.cfg.Now())
	c.mu.Unlock()
	if alive {
		setMaster(resp, &g)
		resp.ExtFields["syncStateSetEpoch"] = strconv.Itoa(int(g.SyncStateSetEpoch))
	}
	return setJSON(resp, SyncStateSetBody{SyncStateSet: g.SyncStateSet, SyncStateSetEpoch: g.SyncStateSetEpoch})
}

// setMaster writes masterBrokerId, masterAddress and masterEpoch.
func setMaster(resp *remoting.Command, g *Group) {
	if g.HasMaster() {
		resp.ExtFields["masterBrokerId"] = strconv.FormatInt(g.MasterID, 10)
		resp.ExtFields["masterAddress"] = g.Addr(g.MasterID)
	}
	resp.ExtFields["masterEpoch"] = strconv.Itoa(int(g.MasterEpoch))
}
