package console

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/twinmq/twinmq/broker/remotingapi"
	"github.com/twinmq/twinmq/wire/remoting"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// resetBody is POST /api/groups/{group}/reset: what `twinmq group seek`
// takes.
type resetBody struct {
	// Topic names the topic to move; "" is every topic the group has
	// committed offsets on.
	Topic string `json:"topic"`
	// Partitions limits the partitions of Topic; empty: all of them.
	Partitions []int32 `json:"partitions"`
	// To is start, end, offset (Value), time (Value, unix ms: the first
	// record at or after it) or shift (by Value, negative: back).
	To    string `json:"to"`
	Value int64  `json:"value"`
	// Force resets while RocketMQ consumers are live, and tells them
	// (RESET_CONSUMER_CLIENT_OFFSET); live Kafka members refuse it anyway,
	// as Kafka's coordinator does.
	Force  bool `json:"force"`
	DryRun bool `json:"dryRun"`
}

// check validates a reset body.
func (b *resetBody) check() error {
	switch b.To {
	case "start", "end", "time", "shift":
	case "offset":
		if b.Value < 0 {
			return fmt.Errorf("%w: offset %d: want >= 0", ErrBadRequest, b.Value)
		}
	default:
		return fmt.Errorf("%w: to %q: want start, end, offset, time or shift", ErrBadRequest, b.To)
	}
	if b.Topic == "" && len(b.Partitions) > 0 {
		return fmt.Errorf("%w: partitions without a topic", ErrBadRequest)
	}
	for _, p := range b.Partitions {
		if p < 0 {
			return fmt.Errorf("%w: partition %d", ErrBadRequest, p)
		}
	}
	return nil
}

// ResetRow is one partition of a reset's plan.
type ResetRow struct {
	Topic    string `json:"topic"`
	Queue    int32  `json:"partition"`
	Current  *int64 `json:"current"` // null: nothing committed
	New      int64  `json:"new"`
	LagAfter int64  `json:"lagAfter"`
}

// ResetResult is the answer to a reset.
type ResetResult struct {
	Group                 string     `json:"group"`
	Plan                  []ResetRow `json:"plan"`
	DryRun                bool       `json:"dryRun"`
	Committed             int        `json:"committed"`
	RocketMQConsumersTold bool       `json:"rocketmqConsumersTold"`
}

// resetGroup: POST /api/groups/{group}/reset. What `twinmq group seek`
// does, in process: refuse while the group has live members unless
// forced, plan each partition's new offset clamped to [start, end],
// commit them with Kafka's OffsetCommit from outside the group
// (generation -1: Kafka's coordinator refuses it while Kafka members are
// live, forced or not), then tell forced RocketMQ consumers
// (INVOKE_BROKER_TO_RESET_OFFSET, 222, which sends them 220).
func (s *Server) resetGroup(r *http.Request) (any, error) {
	group := r.PathValue("group")
	var body resetBody
	if err := decodeBody(r, &body); err != nil {
		return nil, err
	}
	if err := body.check(); err != nil {
		return nil, err
	}
	k, err := s.kafkaAdmin()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	ds, err := s.describeGroups(ctx, k, []string{group})
	if err != nil {
		return nil, err
	}
	for _, d := range ds {
		if len(d.Members) > 0 {
			return nil, fmt.Errorf("%w: group %s is %s with %d Kafka member(s): stop them first (Kafka's coordinator takes no offsets from outside a group with live members, forced or not)",
				ErrConflict, group, d.State, len(d.Members))
		}
	}
	cgs, err := s.consumerGroups(ctx, k, []string{group})
	if err != nil {
		return nil, err
	}
	if cg := cgs[group]; len(cg.members) > 0 {
		return nil, fmt.Errorf("%w: group %s is %s with %d Kafka member(s) (KIP-848): stop them first (the coordinator takes no offsets from outside a group with live members, forced or not)",
			ErrConflict, group, cg.state, len(cg.members))
	}
	clients := s.rocketMQClients(ctx, group)
	if len(clients) > 0 && !body.Force && !body.DryRun {
		return nil, fmt.Errorf("%w: group %s has %d live RocketMQ consumer(s) (%s): stop them first, or force",
			ErrConflict, group, len(clients), strings.Join(clients, ", "))
	}
	plan, err := s.planReset(group, body)
	if err != nil {
		return nil, err
	}
	res := ResetResult{Group: group, Plan: plan, DryRun: body.DryRun}
	if body.DryRun {
		return res, nil
	}
	if err := s.commitPlan(ctx, k, group, plan); err != nil {
		return nil, err
	}
	res.Committed = len(plan)
	s.log.Info("console: group offsets reset", "group", group, "to", body.To, "value", body.Value,
		"partitions", len(plan), "force", body.Force, "remote", r.RemoteAddr)
	if len(clients) > 0 {
		if err := s.tellRocketMQ(ctx, group, plan); err != nil {
			return nil, err
		}
		res.RocketMQConsumersTold = true
	}
	return res, nil
}

// planReset computes each partition's new offset.
func (s *Server) planReset(group string, b resetBody) ([]ResetRow, error) {
	type tq struct {
		topic string
		queue int32
	}
	var parts []tq
	if b.Topic == "" {
		for _, e := range s.cfg.Offsets.List(group, "") {
			parts = append(parts, tq{e.Topic, e.Queue})
		}
		if len(parts) == 0 {
			return nil, fmt.Errorf("%w: group %s has no committed offsets: name the topic", ErrBadRequest, group)
		}
	} else {
		c, ok := s.cfg.Topics.Get(b.Topic)
		if !ok {
			return nil, fmt.Errorf("%w: topic %s", ErrNotFound, b.Topic)
		}
		ps := b.Partitions
		if len(ps) == 0 {
			for q := range c.Queues {
				ps = append(ps, q)
			}
		}
		for _, p := range ps {
			if p >= c.Queues {
				return nil, fmt.Errorf("%w: topic %s has no partition %d", ErrBadRequest, b.Topic, p)
			}
			parts = append(parts, tq{b.Topic, p})
		}
	}
	slices.SortFunc(parts, func(a, b tq) int {
		if c := strings.Compare(a.topic, b.topic); c != 0 {
			return c
		}
		return int(a.queue - b.queue)
	})
	parts = slices.Compact(parts)
	plan := make([]ResetRow, 0, len(parts))
	for _, p := range parts {
		start, end, err := s.queueRange(p.topic, p.queue)
		if err != nil {
			return nil, err
		}
		row := ResetRow{Topic: p.topic, Queue: p.queue}
		cur, ok := s.cfg.Offsets.Fetch(group, p.topic, p.queue)
		if ok {
			row.Current = ptr(cur)
		}
		switch b.To {
		case "start":
			row.New = start
		case "end":
			row.New = end
		case "offset":
			row.New = b.Value
		case "shift":
			if !ok {
				return nil, fmt.Errorf("%w: %s/%d: no committed offset to shift from", ErrBadRequest, p.topic, p.queue)
			}
			row.New = cur + b.Value
		case "time":
			off, err := s.logs.OffsetForTime(p.topic, p.queue, b.Value)
			if err != nil {
				off = end // a queue never written, or every record older
			}
			row.New = off
		}
		row.New = min(max(row.New, start), end)
		row.LagAfter = end - row.New
		plan = append(plan, row)
	}
	return plan, nil
}

// commitPlan commits the plan with OffsetCommit (key 8), generation -1.
func (s *Server) commitPlan(ctx context.Context, k KafkaAdmin, group string, plan []ResetRow) error {
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Group, req.Generation = group, -1
	var cur *kmsg.OffsetCommitRequestTopic
	for _, row := range plan {
		if cur == nil || cur.Topic != row.Topic {
			req.Topics = append(req.Topics, kmsg.NewOffsetCommitRequestTopic())
			cur = &req.Topics[len(req.Topics)-1]
			cur.Topic = row.Topic
		}
		p := kmsg.NewOffsetCommitRequestTopicPartition()
		p.Partition, p.Offset, p.LeaderEpoch = row.Queue, row.New, -1
		cur.Partitions = append(cur.Partitions, p)
	}
	resp, err := k.Do(ctx, req)
	if err != nil {
		return err
	}
	var errs []error
	for _, t := range resp.(*kmsg.OffsetCommitResponse).Topics {
		for _, p := range t.Partitions {
			if err := kafkaError(p.ErrorCode, nil); err != nil {
				errs = append(errs, fmt.Errorf("%s/%d: %w", t.Topic, p.Partition, err))
			}
		}
	}
	if len(errs) > 0 {
		return errs[0] // one status for the answer; they share a cause
	}
	return nil
}

// tellRocketMQ sends INVOKE_BROKER_TO_RESET_OFFSET (222) per topic with
// the plan's offsets, which tells the live consumers
// (RESET_CONSUMER_CLIENT_OFFSET, 220) so they do not write their old
// offsets back.
func (s *Server) tellRocketMQ(ctx context.Context, group string, plan []ResetRow) error {
	rmq, err := s.rocketMQAdmin()
	if err != nil {
		return err
	}
	byTopic := map[string]map[remotingapi.MessageQueue]int64{}
	for _, row := range plan {
		if byTopic[row.Topic] == nil {
			byTopic[row.Topic] = map[remotingapi.MessageQueue]int64{}
		}
		byTopic[row.Topic][remotingapi.MessageQueue{Topic: row.Topic, QueueID: row.Queue}] = row.New
	}
	for _, topic := range sortedKeys(byTopic) {
		req := remoting.NewRequest(remotingapi.InvokeBrokerToResetOffset, 0)
		req.ExtFields["topic"], req.ExtFields["group"] = topic, group
		req.ExtFields["timestamp"], req.ExtFields["isForce"] = "-1", "true"
		req.Body = remotingapi.EncodeResetOffsetBody(byTopic[topic])
		resp, err := rmq.Invoke(ctx, req)
		if err != nil {
			return err
		}
		if resp.Code != remoting.Success {
			return &protocolError{status: http.StatusConflict, code: "ROCKETMQ_" + strconv.Itoa(int(resp.Code)), msg: resp.Remark}
		}
	}
	return nil
}
