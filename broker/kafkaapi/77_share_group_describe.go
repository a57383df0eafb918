package kafkaapi

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// shareGroupDescribe answers key 77: each group's members, their
// subscriptions and assignments. A group the coordinator never saw is
// GROUP_ID_NOT_FOUND.
func (h *Handler) shareGroupDescribe(r *request, req *kmsg.ShareGroupDescribeRequest) {
	resp := req.ResponseKind().(*kmsg.ShareGroupDescribeResponse)
	now := h.cfg.Now()
	for _, id := range req.GroupIDs {
		g := kmsg.NewShareGroupDescribeResponseGroup()
		g.GroupID = id
		if code := h.notCoordinator(id); code != errNone {
			g.ErrorCode = code
			resp.Groups = append(resp.Groups, g)
			continue
		}
		d, ok := h.cfg.ShareGroups.Describe(id, now)
		if !ok {
			if !slices.Contains(h.cfg.Pop.Groups(), id) {
				g.ErrorCode, g.ErrorMessage = errGroupIDNotFound, strp("no share group "+id)
				resp.Groups = append(resp.Groups, g)
				continue
			}
		}
		g.GroupState, g.GroupEpoch, g.AssignmentEpoch, g.Assignor = "Empty", d.Epoch, d.Epoch, "simple"
		if len(d.Members) > 0 {
			g.GroupState = "Stable"
		}
		for _, m := range d.Members {
			gm := kmsg.NewShareGroupDescribeResponseGroupMember()
			gm.MemberID, gm.RackID, gm.MemberEpoch, gm.ClientID, gm.ClientHost = m.ID, m.Rack, m.Epoch, m.ClientID, m.ClientHost
			gm.SubscribedTopicNames = m.Topics
			for _, t := range slices.Sorted(mapKeys(m.Assigned)) {
				c, ok := h.shareTopic(t)
				if !ok {
					continue
				}
				tp := kmsg.NewShareGroupDescribeResponseGroupMemberAssignmentTopicPartition()
				tp.TopicID, tp.Topic, tp.Partitions = c.ID, t, m.Assigned[t]
				gm.Assignment.TopicPartitions = append(gm.Assignment.TopicPartitions, tp)
			}
			g.Members = append(g.Members, gm)
		}
		resp.Groups = append(resp.Groups, g)
	}
	r.reply(resp)
}
