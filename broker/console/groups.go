package console

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/broker/remotingapi"
	"github.com/twinmq/twinmq/wire/remoting"
)

// GroupSummary is one row of the groups page: Kafka groups (from
// ListGroups), RocketMQ consumer groups and groups known only by their
// committed offsets: one offset table for both protocols.
type GroupSummary struct {
	Group string `json:"group"`
	// Protocols: "kafka" (Kafka members or a Kafka group record),
	// "rocketmq" (live RocketMQ consumers), both, or none (offsets only).
	Protocols       []string `json:"protocols"`
	State           string   `json:"state"`
	Type            string   `json:"type,omitempty"` // classic or consumer (KIP-848)
	KafkaMembers    int      `json:"kafkaMembers"`
	RocketMQClients int      `json:"rocketmqClients"`
	Topics          []string `json:"topics"`
	Lag             int64    `json:"lag"`
}

// OffsetView is one committed offset with its queue's range and lag.
type OffsetView struct {
	Topic     string `json:"topic"`
	Queue     int32  `json:"partition"`
	Committed int64  `json:"committed"`
	Start     int64  `json:"start"`
	End       int64  `json:"end"`
	Lag       int64  `json:"lag"`
}

// MemberView is one Kafka member.
type MemberView struct {
	ID         string             `json:"id"`
	InstanceID string             `json:"instanceId,omitempty"`
	ClientID   string             `json:"clientId"`
	ClientHost string             `json:"clientHost"`
	Assigned   map[string][]int32 `json:"assigned"`
}

// GroupView is the group page.
type GroupView struct {
	GroupSummary
	ProtocolType      string       `json:"protocolType"`
	Protocol          string       `json:"protocol"`
	Members           []MemberView `json:"members"`
	RocketMQClientIDs []string     `json:"rocketmqClientIds"`
	Offsets           []OffsetView `json:"offsets"`
}

// offsetViews are a group's committed offsets with lag, sorted; ends
// caches queue ranges across groups of one request.
func (s *Server) offsetViews(group string, ends map[string][2]int64) []OffsetView {
	out := []OffsetView{}
	for _, e := range s.cfg.Offsets.List(group, "") {
		key := e.Topic + "\x00" + strconv.Itoa(int(e.Queue))
		rng, ok := ends[key]
		if !ok {
			start, end, err := s.queueRange(e.Topic, e.Queue)
			if err != nil {
				continue
			}
			rng = [2]int64{start, end}
			ends[key] = rng
		}
		out = append(out, OffsetView{Topic: e.Topic, Queue: e.Queue, Committed: e.Offset,
			Start: rng[0], End: rng[1], Lag: max(rng[1]-max(e.Offset, rng[0]), 0)})
	}
	slices.SortFunc(out, func(a, b OffsetView) int {
		if c := strings.Compare(a.Topic, b.Topic); c != 0 {
			return c
		}
		return int(a.Queue - b.Queue)
	})
	return out
}

// rocketMQClients lists the RocketMQ consumers heartbeating in group
// (GET_CONSUMER_LIST_BY_GROUP, 38); none when the adapter does not run.
func (s *Server) rocketMQClients(ctx context.Context, group string) []string {
	rmq, err := s.rocketMQAdmin()
	if err != nil {
		return nil
	}
	req := remoting.NewRequest(remoting.GetConsumerListByGroup, 0)
	req.ExtFields["consumerGroup"] = group
	resp, err := rmq.Invoke(ctx, req)
	if err != nil || resp.Code != remoting.Success {
		return nil
	}
	var body struct {
		ConsumerIDList []string `json:"consumerIdList"`
	}
	if json.Unmarshal(resp.Body, &body) != nil {
		return nil
	}
	slices.Sort(body.ConsumerIDList)
	return body.ConsumerIDList
}

// rocketMQGroups lists the groups the RocketMQ adapter knows: those of
// live consumers and those with offsets
// (GET_ALL_SUBSCRIPTIONGROUP_CONFIG, 201).
func (s *Server) rocketMQGroups(ctx context.Context) []string {
	rmq, err := s.rocketMQAdmin()
	if err != nil {
		return nil
	}
	resp, err := rmq.Invoke(ctx, remoting.NewRequest(remoting.GetAllSubscriptionGroupConfig, 0))
	if err != nil || resp.Code != remoting.Success {
		return nil
	}
	var body struct {
		Table map[string]json.RawMessage `json:"subscriptionGroupTable"`
	}
	if json.Unmarshal(resp.Body, &body) != nil {
		return nil
	}
	return sortedKeys(body.Table)
}

// listGroups: GET /api/groups.
func (s *Server) listGroups(r *http.Request) (any, error) {
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	byName := map[string]*GroupSummary{}
	get := func(g string) *GroupSummary {
		if gs, ok := byName[g]; ok {
			return gs
		}
		gs := &GroupSummary{Group: g, State: "Empty", Protocols: []string{}, Topics: []string{}}
		byName[g] = gs
		return gs
	}
	if k, err := s.kafkaAdmin(); err == nil {
		req := kmsg.NewPtrListGroupsRequest()
		resp, err := k.Do(ctx, req)
		if err != nil {
			return nil, err
		}
		lr := resp.(*kmsg.ListGroupsResponse)
		if err := kafkaError(lr.ErrorCode, nil); err != nil {
			return nil, err
		}
		var described, consumers []string
		for _, g := range lr.Groups {
			gs := get(g.Group)
			gs.State, gs.Type = g.GroupState, g.GroupType
			switch {
			case g.GroupType == "consumer":
				gs.Protocols = append(gs.Protocols, "kafka")
				consumers = append(consumers, g.Group)
			case g.ProtocolType != "":
				gs.Protocols = append(gs.Protocols, "kafka")
				described = append(described, g.Group)
			}
		}
		if len(consumers) > 0 {
			cgs, err := s.consumerGroups(ctx, k, consumers)
			if err != nil {
				return nil, err
			}
			for name, cg := range cgs {
				get(name).KafkaMembers = len(cg.members)
			}
		}
		if len(described) > 0 {
			members, err := s.describeGroups(ctx, k, described)
			if err != nil {
				return nil, err
			}
			for _, d := range members {
				get(d.Group).KafkaMembers = len(d.Members)
			}
		}
	}
	for _, g := range s.cfg.Offsets.Groups() {
		get(g)
	}
	for _, g := range s.rocketMQGroups(ctx) {
		get(g)
	}
	ends := map[string][2]int64{}
	out := make([]GroupSummary, 0, len(byName))
	for _, name := range sortedKeys(byName) {
		gs := byName[name]
		for _, o := range s.offsetViews(name, ends) {
			gs.Lag += o.Lag
			if len(gs.Topics) == 0 || gs.Topics[len(gs.Topics)-1] != o.Topic {
				gs.Topics = append(gs.Topics, o.Topic)
			}
		}
		if ids := s.rocketMQClients(ctx, name); len(ids) > 0 {
			gs.RocketMQClients = len(ids)
			gs.Protocols = append(gs.Protocols, "rocketmq")
			if gs.KafkaMembers == 0 {
				gs.State = "Stable"
			}
		}
		out = append(out, *gs)
	}
	return out, nil
}

// consumerGroups describes KIP-848 groups (ConsumerGroupDescribe, key
// 69): their state and members, by group; a group that is not one is
// absent.
func (s *Server) consumerGroups(ctx context.Context, k KafkaAdmin, groups []string) (map[string]consumerGroup, error) {
	req := kmsg.NewPtrConsumerGroupDescribeRequest()
	req.Groups = groups
	resp, err := k.Do(ctx, req)
	if err != nil {
		return nil, err
	}
	out := map[string]consumerGroup{}
	for _, g := range resp.(*kmsg.ConsumerGroupDescribeResponse).Groups {
		if g.ErrorCode != 0 {
			continue
		}
		cg := consumerGroup{state: g.State}
		for _, m := range g.Members {
			mv := MemberView{ID: m.MemberID, ClientID: m.ClientID, ClientHost: m.ClientHost, Assigned: map[string][]int32{}}
			if m.InstanceID != nil {
				mv.InstanceID = *m.InstanceID
			}
			for _, tp := range m.Assignment.TopicPartitions {
				name := tp.Topic
				if c, ok := s.cfg.Topics.GetByID(tp.TopicID); name == "" && ok {
					name = c.Name
				}
				mv.Assigned[name] = tp.Partitions
			}
			cg.members = append(cg.members, mv)
		}
		out[g.Group] = cg
	}
	return out, nil
}

// consumerGroup is a KIP-848 group's state and members.
type consumerGroup struct {
	state   string
	members []MemberView
}

// describeGroups is DescribeGroups (key 15).
func (s *Server) describeGroups(ctx context.Context, k KafkaAdmin, groups []string) ([]kmsg.DescribeGroupsResponseGroup, error) {
	req := kmsg.NewPtrDescribeGroupsRequest()
	req.Groups = groups
	resp, err := k.Do(ctx, req)
	if err != nil {
		return nil, err
	}
	return resp.(*kmsg.DescribeGroupsResponse).Groups, nil
}

// describeGroup: GET /api/groups/{group}: Kafka members with their
// assignments, live RocketMQ clients, offsets with lag per partition.
func (s *Server) describeGroup(r *http.Request) (any, error) {
	group := r.PathValue("group")
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	v := GroupView{GroupSummary: GroupSummary{Group: group, State: "Dead", Protocols: []string{}, Topics: []string{}},
		Members: []MemberView{}, RocketMQClientIDs: []string{}}
	if k, err := s.kafkaAdmin(); err == nil {
		ds, err := s.describeGroups(ctx, k, []string{group})
		if err != nil {
			return nil, err
		}
		for _, d := range ds {
			if d.ErrorCode != 0 {
				continue // GROUP_ID_NOT_FOUND: no Kafka group; offsets and RocketMQ below
			}
			v.State, v.ProtocolType, v.Protocol = d.State, d.ProtocolType, d.Protocol
			if d.ProtocolType != "" {
				v.Protocols = append(v.Protocols, "kafka")
			}
			for _, m := range d.Members {
				mv := MemberView{ID: m.MemberID, ClientID: m.ClientID, ClientHost: m.ClientHost, Assigned: map[string][]int32{}}
				if m.InstanceID != nil {
					mv.InstanceID = *m.InstanceID
				}
				if d.ProtocolType == "consumer" {
					var a kmsg.ConsumerMemberAssignment
					if a.ReadFrom(m.MemberAssignment) == nil {
						for _, t := range a.Topics {
							mv.Assigned[t.Topic] = t.Partitions
						}
					}
				}
				v.Members = append(v.Members, mv)
			}
			v.KafkaMembers = len(v.Members)
		}
		if len(v.Members) == 0 {
			cgs, err := s.consumerGroups(ctx, k, []string{group})
			if err != nil {
				return nil, err
			}
			if cg, ok := cgs[group]; ok {
				v.State, v.Type, v.Members, v.KafkaMembers = cg.state, "consumer", append(v.Members, cg.members...), len(cg.members)
				if !slices.Contains(v.Protocols, "kafka") {
					v.Protocols = append(v.Protocols, "kafka")
				}
			}
		}
	}
	v.Offsets = s.offsetViews(group, map[string][2]int64{})
	for _, o := range v.Offsets {
		v.Lag += o.Lag
		if len(v.Topics) == 0 || v.Topics[len(v.Topics)-1] != o.Topic {
			v.Topics = append(v.Topics, o.Topic)
		}
	}
	if ids := s.rocketMQClients(ctx, group); len(ids) > 0 {
		v.RocketMQClientIDs, v.RocketMQClients = ids, len(ids)
		v.Protocols = append(v.Protocols, "rocketmq")
		if v.KafkaMembers == 0 {
			v.State = "Stable"
		}
	}
	if v.State == "Dead" && len(v.Offsets) > 0 {
		v.State = "Empty"
	}
	if v.State == "Dead" && len(v.RocketMQClientIDs) == 0 {
		return nil, fmt.Errorf("%w: group %s", ErrNotFound, group)
	}
	return v, nil
}

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
