package kafkaapi

import (
	"bytes"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/broker/groups"
)

// joinGroup answers key 11. The reply waits for the rebalance (the group
// core parks the call); the worker is not held meanwhile. v0 has no
// rebalance timeout (the session timeout is used); from v4 a new member
// first gets MEMBER_ID_REQUIRED (KIP-394); v5 adds group.instance.id
// (KIP-345); v9 SkipAssignment (KIP-814).
func (h *Handler) joinGroup(r *request, req *kmsg.JoinGroupRequest) {
	jr := groups.JoinRequest{
		MemberID: req.MemberID, InstanceID: optStr(req.InstanceID),
		ClientID: r.clientID(), ClientHost: r.clientHost(), ProtocolType: req.ProtocolType,
		SessionTimeout:       time.Duration(req.SessionTimeoutMillis) * time.Millisecond,
		RebalanceTimeout:     time.Duration(req.RebalanceTimeoutMillis) * time.Millisecond,
		RequireKnownMemberID: req.Version >= 4,
	}
	if req.Version == 0 {
		jr.RebalanceTimeout = jr.SessionTimeout
	}
	// Copies: the request's bytes alias the frame, which is reused.
	for _, p := range req.Protocols {
		jr.Protocols = append(jr.Protocols, groups.Protocol{Name: p.Name, Metadata: bytes.Clone(p.Metadata)})
	}
	if code := h.notCoordinator(req.Group); code != errNone {
		resp := req.ResponseKind().(*kmsg.JoinGroupResponse)
		resp.ErrorCode, resp.Generation = code, -1
		if req.Version < 7 {
			resp.Protocol = strp("")
		}
		r.reply(resp)
		return
	}
	ctx, cancel := groupContext()
	defer cancel()
	h.cfg.Groups.Join(ctx, req.Group, jr, func(res groups.JoinResult) {
		resp := req.ResponseKind().(*kmsg.JoinGroupResponse)
		resp.ErrorCode = groupCode(res.Err)
		resp.Generation, resp.MemberID, resp.LeaderID = res.Generation, res.MemberID, res.Leader
		if res.Err == nil {
			resp.ProtocolType, resp.Protocol = strp(res.ProtocolType), strp(res.Protocol)
			resp.SkipAssignment = res.SkipAssignment
		} else if req.Version < 7 {
			resp.Protocol = strp("")
		}
		for _, m := range res.Members {
			rm := kmsg.NewJoinGroupResponseMember()
			rm.MemberID, rm.ProtocolMetadata = m.ID, m.Metadata
			if m.InstanceID != "" {
				rm.InstanceID = strp(m.InstanceID)
			}
			resp.Members = append(resp.Members, rm)
		}
		r.reply(resp)
	})
}
