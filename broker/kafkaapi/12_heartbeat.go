package kafkaapi

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/broker/groups"
)

// heartbeat answers key 12; REBALANCE_IN_PROGRESS tells a member to
// rejoin.
func (h *Handler) heartbeat(r *request, req *kmsg.HeartbeatRequest) {
	resp := req.ResponseKind().(*kmsg.HeartbeatResponse)
	ctx, cancel := groupContext()
	defer cancel()
	err := h.cfg.Groups.Heartbeat(ctx, req.Group, groups.HeartbeatRequest{
		MemberID: req.MemberID, InstanceID: optStr(req.InstanceID), Generation: req.Generation,
	})
	resp.ErrorCode = groupCode(err)
	r.reply(resp)
}
