package kafkaapi

import (
	"bytes"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/broker/groups"
)

// syncGroup answers key 14. Followers' calls wait for the leader's; the
// leader's stores the assignment durably before anyone gets an answer.
func (h *Handler) syncGroup(r *request, req *kmsg.SyncGroupRequest) {
	sr := groups.SyncRequest{
		MemberID: req.MemberID, InstanceID: optStr(req.InstanceID), Generation: req.Generation,
		ProtocolType: optStr(req.ProtocolType), Protocol: optStr(req.Protocol),
	}
	if len(req.GroupAssignment) > 0 {
		sr.Assignments = make(map[string][]byte, len(req.GroupAssignment))
		for _, a := range req.GroupAssignment {
			sr.Assignments[a.MemberID] = bytes.Clone(a.MemberAssignment)
		}
	}
	ctx, cancel := groupContext()
	defer cancel()
	h.cfg.Groups.Sync(ctx, req.Group, sr, func(res groups.SyncResult) {
		resp := req.ResponseKind().(*kmsg.SyncGroupResponse)
		resp.ErrorCode = groupCode(res.Err)
		if res.Err == nil {
			resp.ProtocolType, resp.Protocol = strp(res.ProtocolType), strp(res.Protocol)
			resp.MemberAssignment = res.Assignment
		}
		if resp.MemberAssignment == nil {
			resp.MemberAssignment = []byte{}
		}
		r.reply(resp)
	})
}
