package kafkaapi

import (
	"context"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/broker/groups"
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
		if cd, err := h.cfg.Groups.DescribeConsumer(id); err == nil && (len(cd.Members) > 0 || !h.classicKnown(ctx, id)) {
			resp.Groups = append(resp.Groups, h.describedConsumerGroup(cd))
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

// classicKnown says whether a classic group of that id has members.
func (h *Handler) classicKnown(ctx context.Context, id string) bool {
	d, err := h.cfg.Groups.Describe(ctx, id)
	return err == nil && len(d.Members) > 0
}

// describedConsumerGroup describes a KIP-848 group in DescribeGroups'
// classic shape, as Kafka does (ConsumerGroup.asDescribedGroup): protocol
// type "consumer", the assignor as protocol, each member's subscription
// and assignment in the consumer protocol's encodings.
func (h *Handler) describedConsumerGroup(d groups.ConsumerDescription) kmsg.DescribeGroupsResponseGroup {
	g := kmsg.NewDescribeGroupsResponseGroup()
	g.Group, g.ProtocolType, g.Protocol = d.Group, "consumer", d.Assignor
	g.State = strings.ToUpper(d.State[:1]) + d.State[1:]
	g.AuthorizedOperations = -2147483648
	for _, m := range d.Members {
		rm := kmsg.NewDescribeGroupsResponseGroupMember()
		rm.MemberID, rm.ClientID, rm.ClientHost = m.ID, m.ClientID, m.ClientHost
		if m.InstanceID != "" {
			rm.InstanceID = strp(m.InstanceID)
		}
		md := kmsg.NewConsumerMemberMetadata()
		md.Version, md.Topics = 3, m.Topics
		rm.ProtocolMetadata = md.AppendTo(nil)
		as := kmsg.NewConsumerMemberAssignment()
		as.Version = 3
		for _, t := range sortedKeys(m.Assigned) {
			at := kmsg.NewConsumerMemberAssignmentTopic()
			at.Topic, at.Partitions = t, m.Assigned[t]
			as.Topics = append(as.Topics, at)
		}
		rm.MemberAssignment = as.AppendTo(nil)
		g.Members = append(g.Members, rm)
	}
	return g
}
