package kafkaapi

import (
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/broker/groups"
)

// KIP-848 error codes (org.apache.kafka.common.protocol.Errors).
const (
	errFencedMemberEpoch        int16 = 110
	errUnreleasedInstanceID     int16 = 111
	errUnsupportedAssignor      int16 = 112
	errStaleMemberEpoch         int16 = 113
	errInvalidRegularExpression int16 = 128
)

// consumerGroupCodes extends groupCode with the KIP-848 errors.
var consumerGroupCodes = []struct {
	err  error
	code int16
}{
	{groups.ErrFencedMemberEpoch, errFencedMemberEpoch},
	{groups.ErrUnreleasedInstanceID, errUnreleasedInstanceID},
	{groups.ErrUnsupportedAssignor, errUnsupportedAssignor},
	{groups.ErrStaleMemberEpoch, errStaleMemberEpoch},
	{groups.ErrInvalidRegex, errInvalidRegularExpression},
	{groups.ErrInvalidRequest, errInvalidRequest},
	{groups.ErrNotConsumerGroup, errGroupIDNotFound},
	{groups.ErrUnsupportedForConsume, errUnsupportedVersion},
}

// registrySource resolves subscriptions over the topic registry and the
// presented __consumer_offsets (internal_topic.go); twinmq's own internal
// topics are never assigned.
type registrySource struct{ h *Handler }

func (s registrySource) Partitions(name string) (int32, bool) {
	c, ok := s.h.groupTopic(name)
	if !ok || c.Internal && name != consumerOffsetsTopic {
		return 0, false
	}
	return c.Queues, true
}

func (s registrySource) Names() []string {
	var out []string
	for _, c := range s.h.reg.List() {
		if !c.Internal {
			out = append(out, c.Name)
		}
	}
	if c, ok := s.h.internalTopic(consumerOffsetsTopic); ok {
		out = append(out, c.Name)
	}
	return out
}

// consumerGroupHeartbeat answers key 68 (KIP-848): joins (epoch 0), leaves
// (epoch -1, or -2 for a static member), and heartbeats that carry the
// member's owned partitions and get its assignment, by topic id. v0 lets
// the broker choose a new member's id; v1 (Kafka 4) has the client send
// one, and adds the topic regex.
func (h *Handler) consumerGroupHeartbeat(r *request, req *kmsg.ConsumerGroupHeartbeatRequest) {
	resp := req.ResponseKind().(*kmsg.ConsumerGroupHeartbeatResponse)
	hb := groups.ConsumerHeartbeat{
		MemberID: req.MemberID, MemberEpoch: req.MemberEpoch, InstanceID: req.InstanceID, RackID: req.RackID,
		ClientID: r.clientID(), ClientHost: r.clientHost(),
		RebalanceTimeout: time.Duration(req.RebalanceTimeoutMillis) * time.Millisecond,
		Topics:           req.SubscribedTopicNames, Regex: req.SubscribedTopicRegex, Assignor: req.ServerAssignor,
	}
	code := h.notCoordinator(req.Group)
	if req.Version >= 1 && req.MemberID == "" || len(req.MemberID) > 255 {
		code = errInvalidRequest
	}
	if req.Topics != nil {
		hb.Owned = groups.Assignment{}
		for _, t := range req.Topics {
			// A topic deleted meanwhile is no longer owned.
			if c, ok := h.groupTopicByID(t.TopicID); ok {
				hb.Owned[c.Name] = append(hb.Owned[c.Name], t.Partitions...)
			}
		}
	}
	var res groups.ConsumerResult
	if code == errNone {
		ctx, cancel := groupContext()
		res = h.cfg.Groups.ConsumerHeartbeat(ctx, req.Group, hb, registrySource{h})
		cancel()
		code = groupCode(res.Err)
	}
	resp.ErrorCode = code
	if code != errNone {
		if res.Err != nil {
			resp.ErrorMessage = strp(res.Err.Error())
		}
		r.reply(resp)
		return
	}
	resp.MemberID, resp.MemberEpoch = strp(res.MemberID), res.MemberEpoch
	resp.HeartbeatIntervalMillis = int32(res.HeartbeatInterval.Milliseconds())
	if res.Assignment != nil {
		a := kmsg.NewConsumerGroupHeartbeatResponseAssignment()
		for name, ps := range res.Assignment {
			c, ok := h.groupTopic(name)
			if !ok {
				continue
			}
			t := kmsg.NewConsumerGroupHeartbeatResponseAssignmentTopic()
			t.TopicID, t.Partitions = c.ID, ps
			a.Topics = append(a.Topics, t)
		}
		resp.Assignment = &a
	}
	r.reply(resp)
}
