package kafkaapi

import (
	"errors"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/broker/groups"
)

// consumerGroupDescribe answers key 69 (KIP-848): a consumer group's
// epochs, assignor and members with their current and target assignments.
// An unknown group gets GROUP_ID_NOT_FOUND, a classic one too (it is not a
// consumer group), as Kafka answers.
func (h *Handler) consumerGroupDescribe(r *request, req *kmsg.ConsumerGroupDescribeRequest) {
	resp := req.ResponseKind().(*kmsg.ConsumerGroupDescribeResponse)
	for _, id := range req.Groups {
		g := kmsg.NewConsumerGroupDescribeResponseGroup()
		g.Group = id
		g.AuthorizedOperations = -2147483648
		d, err := h.cfg.Groups.DescribeConsumer(id)
		switch {
		case id == "":
			g.ErrorCode = errInvalidGroupID
		case errors.Is(err, groups.ErrGroupNotFound):
			g.ErrorCode = errGroupIDNotFound
			g.ErrorMessage = strp("group " + id + " not found")
		case err != nil:
			g.ErrorCode = groupCode(err)
		default:
			// Kafka's ConsumerGroupState names: "Stable", "Reconciling", ...
			g.State = strings.ToUpper(d.State[:1]) + d.State[1:]
			g.Epoch, g.AssignmentEpoch, g.AssignorName = d.Epoch, d.AssignmentEpoch, d.Assignor
			for _, m := range d.Members {
				g.Members = append(g.Members, h.describedConsumer(m))
			}
		}
		resp.Groups = append(resp.Groups, g)
	}
	r.reply(resp)
}

func (h *Handler) describedConsumer(m groups.ConsumerMemberDescription) kmsg.ConsumerGroupDescribeResponseGroupMember {
	rm := kmsg.NewConsumerGroupDescribeResponseGroupMember()
	rm.MemberID, rm.MemberEpoch, rm.ClientID, rm.ClientHost = m.ID, m.Epoch, m.ClientID, m.ClientHost
	if m.InstanceID != "" {
		rm.InstanceID = strp(m.InstanceID)
	}
	if m.RackID != "" {
		rm.RackID = strp(m.RackID)
	}
	rm.SubscribedTopics = slices.Clone(m.Topics)
	if rm.SubscribedTopics == nil {
		rm.SubscribedTopics = []string{}
	}
	if m.Regex != "" {
		rm.SubscribedTopicRegex = strp(m.Regex)
	}
	rm.Assignment, rm.TargetAssignment = h.kmsgAssignment(m.Assigned), h.kmsgAssignment(m.Target)
	rm.MemberType = 1 // consumer protocol
	return rm
}

func (h *Handler) kmsgAssignment(a groups.Assignment) kmsg.Assignment {
	out := kmsg.NewAssignment()
	for _, name := range sortedKeys(a) {
		c, ok := h.groupTopic(name)
		if !ok {
			continue
		}
		tp := kmsg.NewAssignmentTopicPartition()
		tp.TopicID, tp.Topic, tp.Partitions = c.ID, name, slices.Clone(a[name])
		out.TopicPartitions = append(out.TopicPartitions, tp)
	}
	return out
}

func sortedKeys(a groups.Assignment) []string {
	out := make([]string, 0, len(a))
	for k := range a {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
