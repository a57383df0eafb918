package controller

import (
	"strconv"
	"time"

	"github.com/twinmq/twinmq/wire/remoting"
)

// Liveness and election codes: BROKER_HEARTBEAT (904),
// CONTROLLER_ELECT_MASTER (1002), CLEAN_BROKER_DATA (1011).

func decodeHeartbeat(req *remoting.Command) (Heartbeat, error) {
	f := fields{ext: req.ExtFields}
	hb := Heartbeat{Cluster: f.str("clusterName", true), BrokerName: f.str("brokerName", true),
		Addr: f.str("brokerAddr", true), BrokerID: f.int64("brokerId", 0, true),
		Epoch: f.int32("epoch", -1, false), MaxOffset: f.int64("maxOffset", -1, false),
		ConfirmOffset: f.int64("confirmOffset", -1, false), ElectionPriority: f.int32("electionPriority", 1<<31-1, false)}
	if ms := f.int64("heartbeatTimeoutMills", 0, false); ms > 0 && ms < int64(24*time.Hour/time.Millisecond) {
		hb.Timeout = time.Duration(ms) * time.Millisecond
	}
	return hb, f.err
}

// handleHeartbeat records a BROKER_HEARTBEAT in the leader's liveness
// table. Only the leader takes them: a broker that heartbeats a follower
// learns it from CONTROLLER_NOT_LEADER rather than being counted dead.
func (c *Controller) handleHeartbeat(req *remoting.Command) *remoting.Command {
	hb, err := decodeHeartbeat(req)
	if err != nil {
		return badRequest(req, err)
	}
	c.mu.Lock()
	c.live.Beat(hb, c.cfg.Now())
	c.mu.Unlock()
	return respond(req, Success, "Heart beat success")
}

func decodeElectMaster(req *remoting.Command) (*ElectMaster, error) {
	f := fields{ext: req.ExtFields}
	cmd := &ElectMaster{Cluster: f.str("clusterName", false), BrokerName: f.str("brokerName", true),
		BrokerID: f.int64("brokerId", ControllerTrigger, false), Designate: f.bool("designateElect")}
	return cmd, f.err
}

// handleElectMaster answers ElectMasterResponseHeader and
// ElectMasterResponseBody (the group's members and the new SyncStateSet).
// CONTROLLER_MASTER_STILL_EXIST carries the current master the same way.
func (c *Controller) handleElectMaster(req *remoting.Command) *remoting.Command {
	cmd, err := decodeElectMaster(req)
	if err != nil {
		return badRequest(req, err)
	}
	cmd.Unclean = c.cfg.ElectUncleanMaster
	c.fillAlive(cmd.BrokerName, &cmd.Alive)
	ctx, cancel := c.ctx()
	defer cancel()
	r, err := c.propose(ctx, cmd)
	resp := c.applyResult(req, r, err)
	if err != nil || !r.HasGroup {
		return resp
	}
	g := r.Group
	setMaster(resp, &g)
	resp.ExtFields["syncStateSetEpoch"] = strconv.Itoa(int(g.SyncStateSetEpoch))
	addrs := make(map[string]string, len(g.Members))
	for _, m := range g.Members {
		addrs[strconv.FormatInt(m.ID, 10)] = m.Addr
	}
	return setJSON(resp, ElectMasterBody{
		BrokerMemberGroup: &BrokerMemberGroup{Cluster: g.Cluster, BrokerName: g.Name, BrokerAddrs: addrs},
		SyncStateSet:      g.SyncStateSet,
	})
}

// fillAlive sets *alive to the group's alive members, best first.
func (c *Controller) fillAlive(brokerName string, alive *[]int64) {
	var g Group
	var ok bool
	c.fsm.view(func(s *State) { g, ok = s.Group(brokerName) })
	if !ok {
		return
	}
	c.mu.Lock()
	*alive = c.live.Ranked(&g, c.cfg.Now())
	c.mu.Unlock()
}

// BrokerMemberGroup is RocketMQ's body type of that name; brokerAddrs maps
// broker ids (decimal strings) to addresses.
type BrokerMemberGroup struct {
	Cluster     string            `json:"cluster"`
	BrokerName  string            `json:"brokerName"`
	BrokerAddrs map[string]string `json:"brokerAddrs"`
}

// ElectMasterBody is ElectMasterResponseBody.
type ElectMasterBody struct {
	BrokerMemberGroup *BrokerMemberGroup `json:"brokerMemberGroup,omitempty"`
	SyncStateSet      []int64            `json:"syncStateSet"`
}

func decodeCleanBrokerData(req *remoting.Command) (*CleanBrokerData, error) {
	f := fields{ext: req.ExtFields}
	cmd := &CleanBrokerData{Cluster: f.str("clusterName", false), BrokerName: f.str("brokerName", true),
		BrokerIDs: setIDs(f.ids("brokerControllerIdsToClean")), CleanLiving: f.bool("isCleanLivingBroker")}
	return cmd, f.err
}

func (c *Controller) handleCleanBrokerData(req *remoting.Command) *remoting.Command {
	cmd, err := decodeCleanBrokerData(req)
	if err != nil {
		return badRequest(req, err)
	}
	c.fillAlive(cmd.BrokerName, &cmd.Alive)
	ctx, cancel := c.ctx()
	defer cancel()
	r, err := c.propose(ctx, cmd)
	return c.applyResult(req, r, err)
}
