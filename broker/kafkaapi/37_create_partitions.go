package kafkaapi

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/broker/cluster"
	"github.com/twinmq/twinmq/broker/topics"
)

// createPartitions answers key 37: a topic's partition count only grows.
// In a cluster of several broker groups the new partitions go to the last
// group (by name) that carries the topic, so every existing partition
// keeps its number: partitions are numbered group by group.
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
	if v := h.view(); v != nil {
		return h.growAcross(ctx, v, t, validateOnly)
	}
	return h.growLocal(ctx, t, validateOnly)
}

// growLocal grows this broker's queues of t.Topic to t.Count.
func (h *Handler) growLocal(ctx context.Context, t kmsg.CreatePartitionsRequestTopic, validateOnly bool) (int16, *string) {
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

// growAcross grows a topic of a cluster of several broker groups: the
// last group carrying it takes the new partitions (this broker's registry
// or that group's master), and the answer waits until the view shows them.
func (h *Handler) growAcross(ctx context.Context, v *cluster.View, t kmsg.CreatePartitionsRequestTopic, validateOnly bool) (int16, *string) {
	local, _ := h.reg.Get(t.Topic)
	ps := v.Placements(t.Topic, local.Queues)
	if len(ps) == 0 {
		return errUnknownTopicOrPartition, nil
	}
	total, last := cluster.Count(ps), ps[len(ps)-1]
	grown := last.Queues + t.Count - total
	if t.Count <= total || grown > topics.MaxQueues {
		return errInvalidPartitions, strp(fmt.Sprintf("topic has %d partitions; cannot change to %d", total, t.Count))
	}
	if validateOnly {
		return errNone, nil
	}
	if last.Group == v.Self {
		if code, msg := h.growLocal(ctx, kmsg.CreatePartitionsRequestTopic{Topic: t.Topic, Count: grown}, false); code != errNone {
			return code, msg
		}
		h.awaitRegistered(ctx)
	} else {
		g, ok := v.Group(last.Group)
		if !ok || g.Remoting == "" || h.cfg.Peers == nil {
			return errLeaderNotAvailable, strp(fmt.Sprintf("broker group %s, which takes the new partitions, has no master", last.Group))
		}
		perm := local.Perm
		if perm == 0 {
			perm = topics.DefaultPerm
		}
		if err := h.cfg.Peers.CreateTopic(ctx, g.Remoting, t.Topic, grown, perm); err != nil {
			return errUnknownServerError, strp(fmt.Sprintf("broker group %s: %v", last.Group, err))
		}
	}
	h.awaitView(ctx, t.Topic, func(ps []cluster.Placement) bool { return cluster.Count(ps) == t.Count })
	return errNone, nil
}
