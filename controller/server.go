package controller

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"

	"github.com/twinmq/twinmq/wire/remoting"
)

// The remoting adapter: RocketMQ 5's controller request codes (codes.go),
// with RocketMQ's header field names, answered from the FSM and raft. A
// host (the name server) routes the codes here with Route; the handlers
// block on raft for at most ApplyTimeout, so the host must call them off
// its event loop (netio's OnFrame is).
//
// Writes and the reads a broker acts on are served by the leader only;
// every other node answers CONTROLLER_NOT_LEADER with the leader's id and
// address in the extFields controllerLeaderId and controllerLeaderAddress
// (RocketMQ answers without them and lets the broker ask
// CONTROLLER_GET_METADATA_INFO, which any node answers).

// Route returns the handler of a controller request code, or nil.
func (c *Controller) Route(code int32) remoting.Handler {
	switch code {
	case CodeControllerGetMetadataInfo:
		return c.handleGetMetadata
	case CodeControllerGetNextBrokerID:
		return c.leaderOnly(c.handleGetNextBrokerID)
	case CodeControllerApplyBrokerID:
		return c.leaderOnly(c.handleApplyBrokerID)
	case CodeControllerRegisterBroker:
		return c.leaderOnly(c.handleRegisterBroker)
	case CodeBrokerHeartbeat:
		return c.leaderOnly(c.handleHeartbeat)
	case CodeControllerAlterSyncStateSet:
		return c.leaderOnly(c.handleAlterSyncStateSet)
	case CodeControllerElectMaster:
		return c.leaderOnly(c.handleElectMaster)
	case CodeControllerGetReplicaInfo:
		return c.leaderOnly(c.handleGetReplicaInfo)
	case CodeControllerGetSyncStateData:
		return c.leaderOnly(c.handleGetSyncStateData)
	case CodeCleanBrokerData:
		return c.leaderOnly(c.handleCleanBrokerData)
	}
	return nil
}

// leaderOnly answers CONTROLLER_NOT_LEADER on a node that does not lead.
func (c *Controller) leaderOnly(h remoting.Handler) remoting.Handler {
	return func(req *remoting.Command) *remoting.Command {
		if !c.IsLeader() {
			return c.notLeader(req)
		}
		return h(req)
	}
}

func (c *Controller) notLeader(req *remoting.Command) *remoting.Command {
	id, addr := c.Leader()
	resp := respond(req, ControllerNotLeader, "the controller is not the leader; the leader is "+id+" at "+addr)
	resp.ExtFields["controllerLeaderId"] = id
	resp.ExtFields["controllerLeaderAddress"] = addr
	return resp
}

// handleGetMetadata is CONTROLLER_GET_METADATA_INFO
// (GetMetaDataResponseHeader), answered by every node.
func (c *Controller) handleGetMetadata(req *remoting.Command) *remoting.Command {
	id, addr := c.Leader()
	resp := respond(req, Success, "")
	resp.ExtFields["group"] = "twinmq-controller"
	resp.ExtFields["controllerLeaderId"] = id
	resp.ExtFields["controllerLeaderAddress"] = addr
	resp.ExtFields["isLeader"] = strconv.FormatBool(c.IsLeader())
	resp.ExtFields["peers"] = FormatPeers(c.peers)
	return resp
}

// applyResult turns a propose outcome into a response: NOT_LEADER when
// leadership moved meanwhile, SYSTEM_ERROR when raft failed, else the
// step's code and remark.
func (c *Controller) applyResult(req *remoting.Command, r Result, err error) *remoting.Command {
	switch {
	case errors.Is(err, ErrNotLeader):
		return c.notLeader(req)
	case err != nil:
		return respond(req, SystemError, err.Error())
	}
	return respond(req, r.Code, r.Remark)
}

func (c *Controller) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), c.cfg.ApplyTimeout)
}

func respond(req *remoting.Command, code Code, remark string) *remoting.Command {
	resp := remoting.NewResponse(req, int32(code), remark)
	if resp.ExtFields == nil {
		resp.ExtFields = map[string]string{}
	}
	return resp
}

func badRequest(req *remoting.Command, err error) *remoting.Command {
	return respond(req, ControllerInvalidRequest, err.Error())
}

func setJSON(resp *remoting.Command, v any) *remoting.Command {
	b, err := json.Marshal(v)
	if err != nil {
		resp.Code, resp.Remark = int32(SystemError), err.Error()
		return resp
	}
	resp.Body = b
	return resp
}

// fields reads a request's extFields, keeping the first error (as a kbin
// reader does), checked once by the caller.
type fields struct {
	ext map[string]string
	err error
}

func (f *fields) fail(name, why string) {
	if f.err == nil {
		f.err = errors.New("header field " + name + ": " + why)
	}
}

func (f *fields) str(name string, required bool) string {
	v := f.ext[name]
	if v == "" && required {
		f.fail(name, "required")
	}
	return v
}

func (f *fields) int64(name string, def int64, required bool) int64 {
	v, ok := f.ext[name]
	if !ok || v == "" {
		if required {
			f.fail(name, "required")
		}
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		f.fail(name, "not an integer")
	}
	return n
}

func (f *fields) int32(name string, def int32, required bool) int32 {
	n := f.int64(name, int64(def), required)
	if n != int64(int32(n)) {
		f.fail(name, "out of range")
	}
	return int32(n)
}

func (f *fields) bool(name string) bool {
	v := f.ext[name]
	if v != "" && v != "true" && v != "false" {
		f.fail(name, "not a boolean")
	}
	return v == "true"
}

// ids parses "1;2;3" (brokerControllerIdsToClean).
func (f *fields) ids(name string) []int64 {
	var out []int64
	for _, s := range strings.Split(f.ext[name], ";") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			f.fail(name, "not ';'-separated integers")
			return nil
		}
		out = append(out, n)
	}
	return out
}
