package kafkaapi

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/broker/topics"
)

// createPartitions answers key 37: a topic's partition count only grows.
func (h *Handler) createPartitions(r *request, req *kmsg.CreatePartitionsRequest) {
	resp := req.ResponseKind().(*kmsg.CreatePartitionsResponse)
	ctx, cancel := requestContext(req.TimeoutMillis)
	defer cancel()
	for _, t := range req.Topics {
		rt := kmsg.NewCreatePartitionsResponseTopic()
		rt.Topic = t.Topic
		rt.ErrorCode, rt.ErrorMessage = h.growTopic(ctx, t, req.ValidateOnly)
		resp.Topics = append(resp.Topics, rt)
	}
	r.reply(resp)
}

func (h *Handler) growTopic(ctx context.Context, t kmsg.CreatePartitionsRequestTopic, validateOnly bool) (int16, *string) {
	cfg, ok := h.reg.Get(t.Topic)
	if !ok {
		return errUnknownTopicOrPartition, nil
	}
	if t.Count <= cfg.Queues || t.Count > topics.MaxQueues {
		return errInvalidPartitions, strp(fmt.Sprintf("topic has %d partitions; cannot change to %d", cfg.Queues, t.Count))
	}
	if validateOnly {
		return errNone, nil
	}
	_, err := h.reg.Update(ctx, t.Topic, func(c *topics.Config) error {
		if t.Count <= c.Queues {
			return fmt.Errorf("partitions grew meanwhile: %w", topics.ErrInvalidConfig)
		}
		c.Queues = t.Count
		return nil
	})
	if err != nil {
		return codeOf(err), strp(err.Error())
	}
	return errNone, nil
}
