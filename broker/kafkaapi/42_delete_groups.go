package kafkaapi

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

// deleteGroups answers key 42: only Empty groups go (NON_EMPTY_GROUP),
// with their committed offsets; unknown ones get GROUP_ID_NOT_FOUND.
func (h *Handler) deleteGroups(r *request, req *kmsg.DeleteGroupsRequest) {
	resp := req.ResponseKind().(*kmsg.DeleteGroupsResponse)
	ctx, cancel := groupContext()
	defer cancel()
	for _, id := range req.Groups {
		g := kmsg.NewDeleteGroupsResponseGroup()
		g.Group = id
		g.ErrorCode = groupCode(h.cfg.Groups.Delete(ctx, id))
		if g.ErrorCode == errGroupIDNotFound && h.share != nil {
			g.ErrorCode = h.deleteShareGroup(ctx, id) // share.go
		}
		resp.Groups = append(resp.Groups, g)
	}
	r.reply(resp)
}
