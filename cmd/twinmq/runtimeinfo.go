package main

import (
	"encoding/json"
	"strconv"
)

// The replication keys of GET_BROKER_RUNTIME_INFO (28), added to the
// adapter's table (broker/remotingapi/runtime_info.go) through
// remotingapi.Config.RuntimeInfo; `twinmq cluster info` reads them back.
// Names follow RocketMQ 5's HARuntimeInfo (GET_BROKER_HA_STATUS), which
// carries the same facts:
//
//	twinmqVersion        the build's version (brokerVersionDesc is the
//	                     RocketMQ version twinmq speaks as)
//	master:
//	  inSyncSlaveNums    slaves in sync (ha.Master.Slaves InSync)
//	  haConnectionInfo   JSON list of haConnection, one per connected slave
//	  slaveFallBehindMuch  bytes the most advanced slave is behind
//	                     (RocketMQ: max offset minus push2SlaveMaxOffset);
//	                     absent without slaves
//	  masterEpoch        controller mode: the epoch it is master of
//	  syncStateSet       controller mode: JSON list of the SyncStateSet
//	                     it acknowledges with (broker ids)
//	controllerBrokerId   controller mode: the id the controller assigned
//	                     (a master registers with the name servers as 0)
//	slave:
//	  masterAddr         the master's HA address it streams from
//	  haClientInfo       JSON haClient
//	  slaveFallBehindMuch  the master's offset at the last frame minus
//	                     the slave's written end

// haConnection is a master's view of one slave (RocketMQ 5's
// HAConnectionRuntimeInfo, plus the brokerId twinmq's handshake carries).
type haConnection struct {
	BrokerID       int64  `json:"brokerId"`
	Addr           string `json:"addr"`
	SlaveAckOffset int64  `json:"slaveAckOffset"`
	Diff           int64  `json:"diff"`
	InSync         bool   `json:"inSync"`
}

// haClient is a slave's view of its stream (RocketMQ 5's
// HAClientRuntimeInfo: masterAddr, maxOffset, isActivated; twinmq adds the
// master's offset and the last error).
type haClient struct {
	MasterAddr   string `json:"masterAddr"`
	IsActivated  bool   `json:"isActivated"`
	MaxOffset    int64  `json:"maxOffset"`
	MasterOffset int64  `json:"masterOffset"`
	LastError    string `json:"lastError,omitempty"`
}

// runtimeInfo is remotingapi.Config.RuntimeInfo for a broker with
// replication r (nil for `twinmq serve`).
func runtimeInfo(r *replication) func() map[string]string {
	return func() map[string]string {
		t := map[string]string{"twinmqVersion": buildVersion()}
		if r == nil {
			return t
		}
		master, slave := r.current()
		t["brokerRole"] = r.currentRole() // a promotion changes it
		if r.controllerID >= 0 && r.epochPath != "" {
			t["controllerBrokerId"] = strconv.FormatInt(r.controllerID, 10)
		}
		if e := r.masterEpoch.Load(); e > 0 && master != nil {
			t["masterEpoch"] = strconv.Itoa(int(e))
			t["syncStateSet"] = mustJSON(master.SyncStateSet())
		}
		switch {
		case master != nil:
			slaves := master.Slaves()
			conns := make([]haConnection, len(slaves))
			inSync, behind := 0, int64(-1)
			for i, s := range slaves {
				conns[i] = haConnection{BrokerID: s.BrokerID, Addr: s.Addr, SlaveAckOffset: s.Acked, Diff: s.Lag, InSync: s.InSync}
				if s.InSync {
					inSync++
				}
				if behind < 0 || s.Lag < behind {
					behind = s.Lag
				}
			}
			t["inSyncSlaveNums"] = strconv.Itoa(inSync)
			t["haConnectionInfo"] = mustJSON(conns)
			if behind >= 0 {
				t["slaveFallBehindMuch"] = strconv.FormatInt(behind, 10)
			}
		case slave != nil:
			st := slave.Status()
			t["masterAddr"] = st.MasterAddr
			t["haClientInfo"] = mustJSON(haClient{MasterAddr: st.MasterAddr, IsActivated: st.Connected,
				MaxOffset: st.Written, MasterOffset: st.MasterOffset, LastError: st.LastError})
			t["slaveFallBehindMuch"] = strconv.FormatInt(max(st.MasterOffset-st.Written, 0), 10)
		}
		return t
	}
}

// mustJSON encodes v, which holds only strings, numbers and booleans.
func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "" // unreachable for the types above
	}
	return string(b)
}
