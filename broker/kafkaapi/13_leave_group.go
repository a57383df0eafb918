package kafkaapi

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/broker/groups"
)

// leaveGroup answers key 13: v0-v2 name one member; v3+ a batch, each by
// member id or group.instance.id (KIP-345), each with its own error.
func (h *Handler) leaveGroup(r *request, req *kmsg.LeaveGroupRequest) {
	resp := req.ResponseKind().(*kmsg.LeaveGroupResponse)
	ms := []groups.LeaveMember{{MemberID: req.MemberID}}
	if req.Version >= 3 {
		ms = ms[:0]
		for _, m := range req.Members {
			ms = append(ms, groups.LeaveMember{MemberID: m.MemberID, InstanceID: optStr(m.InstanceID)})
		}
	}
	ctx, cancel := groupContext()
	defer cancel()
	errs, err := h.cfg.Groups.Leave(ctx, req.Group, ms)
	if err != nil || req.Version < 3 {
		if err == nil && len(errs) == 1 {
			err = errs[0]
		}
		resp.ErrorCode = groupCode(err)
		r.reply(resp)
		return
	}
	for i, m := range req.Members {
		rm := kmsg.NewLeaveGroupResponseMember()
		rm.MemberID, rm.InstanceID, rm.ErrorCode = m.MemberID, m.InstanceID, groupCode(errs[i])
		resp.Members = append(resp.Members, rm)
	}
	r.reply(resp)
}
