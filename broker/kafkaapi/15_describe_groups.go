package kafkaapi

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

// describeGroups answers key 15. An unknown group is described as Dead
// (v0-v5) or gets GROUP_ID_NOT_FOUND (v6+, KIP-1043).
func (h *Handler) describeGroups(r *request, req *kmsg.DescribeGroupsRequest) {
	resp := req.ResponseKind().(*kmsg.DescribeGroupsResponse)
	ctx, cancel := groupContext()
	defer cancel()
	for _, id := range req.Groups {
		g := kmsg.NewDescribeGroupsResponseGroup()
		g.Group = id
		if id == "" {
			g.ErrorCode = errInvalidGroupID
			resp.Groups = append(resp.Groups, g)
			continue
		}
		d, err := h.cfg.Groups.Describe(ctx, id)
		g.ErrorCode = groupCode(err)
		g.State, g.ProtocolType, g.Protocol = d.State.String(), d.ProtocolType, d.Protocol
		if err == nil && d.State.String() == "Dead" && req.Version >= 6 {
			g.ErrorCode = errGroupIDNotFound
		}
		for _, m := range d.Members {
			rm := kmsg.NewDescribeGroupsResponseGroupMember()
			rm.MemberID, rm.ClientID, rm.ClientHost = m.ID, m.ClientID, m.ClientHost
			rm.ProtocolMetadata, rm.MemberAssignment = m.Metadata, m.Assignment
			if m.InstanceID != "" {
				rm.InstanceID = strp(m.InstanceID)
			}
			g.Members = append(g.Members, rm)
		}
		g.AuthorizedOperations = -2147483648 // not requested / not computed
		resp.Groups = append(resp.Groups, g)
	}
	r.reply(resp)
}
