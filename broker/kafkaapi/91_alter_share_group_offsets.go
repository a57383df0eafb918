package kafkaapi

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/broker/pop"
)

// alterShareGroupOffsets answers key 91: each partition's share state
// starts over at the given start offset (nothing in flight). As in Kafka
// the group must have no members (NON_EMPTY_GROUP); an offset outside the
// partition's records is OFFSET_OUT_OF_RANGE.
func (h *Handler) alterShareGroupOffsets(r *request, req *kmsg.AlterShareGroupOffsetsRequest) {
	resp := req.ResponseKind().(*kmsg.AlterShareGroupOffsetsResponse)
	if code := h.notCoordinator(req.GroupID); code != errNone {
		resp.ErrorCode = code
		r.reply(resp)
		return
	}
	if d, ok := h.cfg.ShareGroups.Describe(req.GroupID, h.cfg.Now()); ok && len(d.Members) > 0 {
		resp.ErrorCode, resp.ErrorMessage = errNonEmptyGroup, strp("the share group has members")
		r.reply(resp)
		return
	}
	ctx, cancel := requestContext(0)
	defer cancel()
	for _, t := range req.Topics {
		rt := kmsg.NewAlterShareGroupOffsetsResponseTopic()
		rt.Topic = t.Topic
		c, ok := h.shareTopic(t.Topic)
		rt.TopicID = c.ID
		for _, p := range t.Partitions {
			rp := kmsg.NewAlterShareGroupOffsetsResponseTopicPartition()
			rp.Partition = p.Partition
			switch {
			case !ok || p.Partition < 0 || p.Partition >= c.Queues:
				rp.ErrorCode = errUnknownTopicOrPartition
			default:
				start, end, err := h.queueRange(t.Topic, p.Partition)
				switch {
				case err != nil:
					rp.ErrorCode = codeOf(err)
				case p.StartOffset < start || p.StartOffset > end:
					rp.ErrorCode = errOffsetOutOfRange
				default:
					k := pop.Key{Group: req.GroupID, Topic: t.Topic, Queue: p.Partition}
					if err := h.cfg.Pop.Reset(ctx, k, p.StartOffset); err != nil {
						rp.ErrorCode, rp.ErrorMessage = codeOf(err), strp(err.Error())
					}
				}
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	r.reply(resp)
}
