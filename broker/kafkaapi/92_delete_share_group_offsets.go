package kafkaapi

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

// deleteShareGroupOffsets answers key 92: the group's share state of each
// topic is deleted (a later fetch starts by share.auto.offset.reset). The
// group must have no members.
func (h *Handler) deleteShareGroupOffsets(r *request, req *kmsg.DeleteShareGroupOffsetsRequest) {
	resp := req.ResponseKind().(*kmsg.DeleteShareGroupOffsetsResponse)
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
	keys := h.cfg.Pop.Keys(req.GroupID)
	for _, t := range req.Topics {
		rt := kmsg.NewDeleteShareGroupOffsetsResponseTopic()
		rt.Topic = t.Topic
		c, ok := h.shareTopic(t.Topic)
		rt.TopicID = c.ID
		if !ok {
			rt.ErrorCode = errUnknownTopicOrPartition
		}
		for _, k := range keys {
			if ok && k.Topic == t.Topic {
				if err := h.cfg.Pop.Forget(ctx, k); err != nil {
					rt.ErrorCode, rt.ErrorMessage = codeOf(err), strp(err.Error())
				}
			}
		}
		resp.Topics = append(resp.Topics, rt)
	}
	r.reply(resp)
}
