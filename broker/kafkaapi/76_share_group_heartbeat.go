package kafkaapi

import (
	"context"
	"errors"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/broker/sharegroup"
)

// shareGroupCodes maps the share coordinator's errors to Kafka codes.
var shareGroupCodes = []struct {
	err  error
	code int16
}{
	{sharegroup.ErrUnknownMember, errUnknownMemberID},
	{sharegroup.ErrFencedEpoch, errFencedMemberEpoch},
	{sharegroup.ErrInvalidRequest, errInvalidRequest},
	{sharegroup.ErrGroupNotFound, errGroupIDNotFound},
	{sharegroup.ErrNonEmptyGroup, errNonEmptyGroup},
	{sharegroup.ErrGroupMaxSize, errGroupMaxSizeReached},
}

func shareGroupCode(err error) int16 {
	for _, c := range shareGroupCodes {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	return codeOf(err)
}

// shareGroupHeartbeat answers key 76 (KIP-932): a member joins with epoch
// 0 and its subscribed topics, keeps its membership with its epoch, and
// leaves with -1; each member is assigned every partition of the topics
// it subscribes to. A member that leaves or expires gives back the
// records it holds.
func (h *Handler) shareGroupHeartbeat(r *request, req *kmsg.ShareGroupHeartbeatRequest) {
	resp := req.ResponseKind().(*kmsg.ShareGroupHeartbeatResponse)
	if code := h.notCoordinator(req.GroupID); code != errNone {
		resp.ErrorCode = code
		r.reply(resp)
		return
	}
	hb := sharegroup.Heartbeat{Group: req.GroupID, MemberID: req.MemberID, MemberEpoch: req.MemberEpoch,
		Rack: req.RackID, Topics: req.SubscribedTopicNames, ClientID: r.clientID(), ClientIP: r.clientHost()}
	res, err := h.cfg.ShareGroups.Heartbeat(hb, h.sharePartitions, h.cfg.Now())
	if len(res.Left) > 0 {
		ctx, cancel := requestContext(0)
		for _, id := range res.Left {
			h.dropShareMember(ctx, req.GroupID, id)
		}
		cancel()
	}
	if err != nil {
		resp.ErrorCode, resp.ErrorMessage = shareGroupCode(err), strp(err.Error())
		r.reply(resp)
		return
	}
	resp.MemberID, resp.MemberEpoch = &req.MemberID, res.MemberEpoch
	resp.HeartbeatIntervalMillis = int32(h.cfg.ShareGroups.HeartbeatInterval().Milliseconds())
	if res.Assignment != nil {
		a := kmsg.NewShareGroupHeartbeatResponseAssignment()
		for _, t := range slices.Sorted(mapKeys(res.Assignment)) {
			c, ok := h.shareTopic(t)
			if !ok {
				continue
			}
			tp := kmsg.NewShareGroupHeartbeatResponseAssignmentTopicPartition()
			tp.TopicID, tp.Partitions = c.ID, res.Assignment[t]
			a.TopicPartitions = append(a.TopicPartitions, tp)
		}
		resp.Assignment = &a
	}
	r.reply(resp)
}

// dropShareMember ends a member that left: its sessions close and its
// records go back. (Members that expire are found at any group's next
// heartbeat, so their records may also come back by lock expiry first.)
func (h *Handler) dropShareMember(ctx context.Context, group, member string) {
	m := shareMember{group, member}
	h.share.mu.Lock()
	delete(h.share.sessions, m)
	h.share.mu.Unlock()
	h.releaseMember(ctx, m)
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}
