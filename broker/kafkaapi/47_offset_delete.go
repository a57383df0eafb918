package kafkaapi

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/broker/groups"
)

// offsetDelete answers key 47 (KIP-496): a group's committed offsets go,
// except those of topics a live "consumer" member subscribes to
// (GROUP_SUBSCRIBED_TO_TOPIC); a live group of another protocol type
// refuses with NON_EMPTY_GROUP.
func (h *Handler) offsetDelete(r *request, req *kmsg.OffsetDeleteRequest) {
	resp := req.ResponseKind().(*kmsg.OffsetDeleteResponse)
	ctx, cancel := groupContext()
	defer cancel()
	d, err := h.cfg.Groups.Describe(ctx, req.Group)
	switch {
	case req.Group == "":
		resp.ErrorCode = errInvalidGroupID
	case err != nil:
		resp.ErrorCode = groupCode(err)
	case d.State == groups.Dead:
		resp.ErrorCode = errGroupIDNotFound
	case d.State != groups.Empty && d.ProtocolType != "consumer":
		resp.ErrorCode = errNonEmptyGroup
	}
	if resp.ErrorCode != errNone {
		r.reply(resp)
		return
	}
	subscribed := map[string]bool{}
	for _, m := range d.Members {
		var md kmsg.ConsumerMemberMetadata
		if md.ReadFrom(m.Metadata) == nil {
			for _, t := range md.Topics {
				subscribed[t] = true
			}
		}
	}
	for _, t := range req.Topics {
		rt := kmsg.NewOffsetDeleteResponseTopic()
		rt.Topic = t.Topic
		_, known := h.reg.Get(t.Topic)
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetDeleteResponseTopicPartition()
			rp.Partition = p.Partition
			switch {
			case !known:
				rp.ErrorCode = errUnknownTopicOrPartition
			case subscribed[t.Topic]:
				rp.ErrorCode = errGroupSubscribedToTopic
			default:
				rp.ErrorCode = groupCode(h.cfg.Groups.DeleteOffset(ctx, req.Group, t.Topic, p.Partition))
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	r.reply(resp)
}
