package kafkaapi

import (
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/broker/groups"
)

// listGroups answers key 16. v4 filters by state (KIP-518), v5 by group
// type (KIP-848): "classic" or "consumer".
func (h *Handler) listGroups(r *request, req *kmsg.ListGroupsRequest) {
	resp := req.ResponseKind().(*kmsg.ListGroupsResponse)
	var states []groups.State
	for _, s := range req.StatesFilter {
		st, ok := groups.ParseState(s)
		if !ok {
			continue
		}
		states = append(states, st)
	}
	if len(req.StatesFilter) > 0 && len(states) == 0 {
		r.reply(resp) // only unknown states: nothing matches
		return
	}
	ctx, cancel := groupContext()
	defer cancel()
	for _, l := range h.cfg.Groups.List(ctx, states) {
		if len(req.TypesFilter) > 0 && !containsFold(req.TypesFilter, l.Type) {
			continue
		}
		g := kmsg.NewListGroupsResponseGroup()
		g.Group, g.ProtocolType, g.GroupState, g.GroupType = l.Group, l.ProtocolType, l.StateName, l.Type
		resp.Groups = append(resp.Groups, g)
	}
	if h.share != nil {
		resp.Groups = append(resp.Groups, h.listShareGroups(req, resp.Groups)...) // share.go
	}
	r.reply(resp)
}

func containsFold(ss []string, s string) bool {
	for _, x := range ss {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
