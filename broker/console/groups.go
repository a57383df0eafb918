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

	"github.com/twinmq/twinmq/broker/delay"
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
	// RocketMQ is the live RocketMQ consumers' connection list
	// (GET_CONSUMER_CONNECTION_LIST, 203), nil without any.
	RocketMQ *remotingapi.ConsumerConnection `json:"rocketmq"`
	Offsets  []OffsetView                    `json:"offsets"`
}

// rocketMQConnections is GET_CONSUMER_CONNECTION_LIST (203) of a group:
// nil when none of its consumers is live or the adapter does not run.
func (s *Server) rocketMQConnections(ctx context.Context, group string) *remotingapi.ConsumerConnection {
	rmq, err := s.rocketMQAdmin()
	if err != nil {
		return nil
	}
	req := remoting.NewRequest(getConsumerConnectionList, 0)
	req.ExtFields["consumerGroup"] = group
	resp, err := rmq.Invoke(ctx, req)
	if err != nil || resp.Code != remoting.Success {
		return nil
	}
	var cc remotingapi.ConsumerConnection
	if json.Unmarshal(resp.Body, &cc) != nil {
		return nil
	}
	return &cc
}

// getConsumerConnectionList is GET_CONSUMER_CONNECTION_LIST's code.
const getConsumerConnectionList int32 = 203

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
	if cc := s.rocketMQConnections(ctx, group); cc != nil && len(cc.ConnectionSet) > 0 {
		v.RocketMQ = cc
		for _, c := range cc.ConnectionSet {
			v.RocketMQClientIDs = append(v.RocketMQClientIDs, c.ClientID)
		}
		v.RocketMQClients = len(cc.ConnectionSet)
		v.Protocols = append(v.Protocols, "rocketmq")
		if v.KafkaMembers == 0 {
			v.State = "Stable"
		}
		// Subscribed topics the group has no offsets on yet.
		for _, t := range sortedKeys(cc.SubscriptionTable) {
			if !slices.Contains(v.Topics, t) && !strings.HasPrefix(t, "%RETRY%") {
				v.Topics = append(v.Topics, t)
			}
		}
	}
	if v.State == "Dead" && len(v.Offsets) > 0 {
		v.State = "Empty"
	}
	if v.State == "Dead" && len(v.RocketMQClientIDs) == 0 {
		// A RocketMQ group is known by its retry or dead-letter topic too.
		_, dlq := s.cfg.Topics.Get(delay.DLQTopic(group))
		_, retry := s.cfg.Topics.Get(delay.RetryTopic(group))
		if !dlq && !retry {
			return nil, fmt.Errorf("%w: group %s", ErrNotFound, group)
		}
		v.State = "Empty"
	}
	return v, nil
}
