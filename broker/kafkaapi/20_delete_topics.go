package kafkaapi

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// deleteTopics answers key 20, by name or (v6+) by topic id.
func (h *Handler) deleteTopics(r *request, req *kmsg.DeleteTopicsRequest) {
	resp := req.ResponseKind().(*kmsg.DeleteTopicsResponse)
	ctx, cancel := requestContext(req.TimeoutMillis)
	defer cancel()
	targets := req.Topics
	if req.Version < 6 {
		targets = nil
		for _, n := range req.TopicNames {
			t := kmsg.NewDeleteTopicsRequestTopic()
			t.Topic = strp(n)
			targets = append(targets, t)
		}
	}
	for _, t := range targets {
		rt := kmsg.NewDeleteTopicsResponseTopic()
		rt.Topic, rt.TopicID = t.Topic, t.TopicID
		name := ""
		if t.Topic != nil {
			name = *t.Topic
		}
		cfg, code := h.lookupTopic(name, t.TopicID, t.Topic == nil)
		if code == errNone {
			rt.Topic, rt.TopicID = strp(cfg.Name), cfg.ID
			if v := h.view(); v != nil {
				rt.TopicID = h.clusterTopicID(v, cfg.Name)
			}
			var err error
			if _, local := h.reg.Get(cfg.Name); local {
				err = h.reg.Delete(ctx, cfg.Name)
			}
			// In a cluster of several broker groups, the others' queues too.
			err = errors.Join(err, h.deleteRemote(ctx, cfg.Name))
			if err != nil {
				code = codeOf(err)
				rt.ErrorMessage = strp(err.Error())
			}
			h.producers.Forget(cfg.ID)
		}
		rt.ErrorCode = code
		resp.Topics = append(resp.Topics, rt)
	}
	r.reply(resp)
}
