package kafkaapi

import (
	"context"
	"errors"
	"net"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/broker/groups"
	"github.com/twinmq/twinmq/broker/topics"
)

// Consumer-group error codes (org.apache.kafka.common.protocol.Errors),
// kept beside the group keys that use them.
const (
	errCoordinatorLoadInProgress int16 = 14
	errNotCoordinator            int16 = 16
	errOffsetMetadataTooLarge    int16 = 12
	errIllegalGeneration         int16 = 22
	errInconsistentGroupProtocol int16 = 23
	errInvalidGroupID            int16 = 24
	errUnknownMemberID           int16 = 25
	errInvalidSessionTimeout     int16 = 26
	errRebalanceInProgress       int16 = 27
	errNonEmptyGroup             int16 = 68
	errGroupIDNotFound           int16 = 69
	errMemberIDRequired          int16 = 79
	errGroupMaxSizeReached       int16 = 81
	errFencedInstanceID          int16 = 82
	errGroupSubscribedToTopic    int16 = 86
)

// maxOffsetMetadata is offset.metadata.max.bytes.
const maxOffsetMetadata = 4096

// groupCode maps an error of broker/groups (or the store) to a code.
func groupCode(err error) int16 {
	for _, c := range []struct {
		err  error
		code int16
	}{
		{groups.ErrInvalidGroupID, errInvalidGroupID},
		{groups.ErrUnknownMemberID, errUnknownMemberID},
		{groups.ErrIllegalGeneration, errIllegalGeneration},
		{groups.ErrInconsistentProtocol, errInconsistentGroupProtocol},
		{groups.ErrRebalanceInProgress, errRebalanceInProgress},
		{groups.ErrMemberIDRequired, errMemberIDRequired},
		{groups.ErrFencedInstanceID, errFencedInstanceID},
		{groups.ErrGroupMaxSize, errGroupMaxSizeReached},
		{groups.ErrInvalidSessionTimeout, errInvalidSessionTimeout},
		{groups.ErrCoordinatorNotAvailable, errCoordinatorNotAvailable},
		{groups.ErrNonEmptyGroup, errNonEmptyGroup},
		{groups.ErrGroupNotFound, errGroupIDNotFound},
		{groups.ErrMetadataTooLarge, errInvalidRequest},
		{groups.ErrGroupTooLarge, errUnknownServerError},
	} {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	var re errRemote
	if errors.As(err, &re) {
		return re.code
	}
	for _, c := range consumerGroupCodes {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	return codeOf(err)
}

// groupAPIs are the consumer-group keys, served when Config.Groups is
// set. The versions are kmsg's maxima except where noted in each file.
func groupAPIs() map[int16]api {
	return map[int16]api{
		8:  {10, func(h *Handler, r *request, q kmsg.Request) { h.offsetCommit(r, q.(*kmsg.OffsetCommitRequest)) }},
		9:  {10, func(h *Handler, r *request, q kmsg.Request) { h.offsetFetch(r, q.(*kmsg.OffsetFetchRequest)) }},
		10: {6, func(h *Handler, r *request, q kmsg.Request) { h.findCoordinator(r, q.(*kmsg.FindCoordinatorRequest)) }},
		11: {9, func(h *Handler, r *request, q kmsg.Request) { h.joinGroup(r, q.(*kmsg.JoinGroupRequest)) }},
		12: {4, func(h *Handler, r *request, q kmsg.Request) { h.heartbeat(r, q.(*kmsg.HeartbeatRequest)) }},
		13: {5, func(h *Handler, r *request, q kmsg.Request) { h.leaveGroup(r, q.(*kmsg.LeaveGroupRequest)) }},
		14: {5, func(h *Handler, r *request, q kmsg.Request) { h.syncGroup(r, q.(*kmsg.SyncGroupRequest)) }},
		15: {6, func(h *Handler, r *request, q kmsg.Request) { h.describeGroups(r, q.(*kmsg.DescribeGroupsRequest)) }},
		16: {5, func(h *Handler, r *request, q kmsg.Request) { h.listGroups(r, q.(*kmsg.ListGroupsRequest)) }},
		42: {2, func(h *Handler, r *request, q kmsg.Request) { h.deleteGroups(r, q.(*kmsg.DeleteGroupsRequest)) }},
		47: {0, func(h *Handler, r *request, q kmsg.Request) { h.offsetDelete(r, q.(*kmsg.OffsetDeleteRequest)) }},
		68: {1, func(h *Handler, r *request, q kmsg.Request) {
			h.consumerGroupHeartbeat(r, q.(*kmsg.ConsumerGroupHeartbeatRequest))
		}},
		69: {1, func(h *Handler, r *request, q kmsg.Request) {
			h.consumerGroupDescribe(r, q.(*kmsg.ConsumerGroupDescribeRequest))
		}},
	}
}

// registerGroups adds the group keys and drops the committed offsets of
// topics as they are deleted (offsets of deleted topics go with them).
func (h *Handler) registerGroups() {
	for k, a := range groupAPIs() {
		h.apis[k] = a
	}
	h.reg.Watch(func(cfg topics.Config, deleted bool) {
		if !deleted {
			return
		}
		ctx, cancel := requestContext(0)
		defer cancel()
		if err := h.cfg.Groups.ForgetTopic(ctx, cfg.Name); err != nil {
			h.log.Warn("kafkaapi: dropping offsets of a deleted topic", "topic", cfg.Name, "err", err)
		}
	})
}

// findCoordinator answers key 10: this broker coordinates every group and
// every transactional id. v4+ carries several keys (KIP-699).
func (h *Handler) findCoordinator(r *request, req *kmsg.FindCoordinatorRequest) {
	resp := req.ResponseKind().(*kmsg.FindCoordinatorResponse)
	host, port := h.advertisedFor(r.conn)
	code := errNone
	if req.CoordinatorType != 0 && req.CoordinatorType != 1 {
		code = errInvalidRequest
	}
	// In a cluster of several broker groups, a hash of the key picks the
	// group whose master coordinates it (cluster.View.Coordinator).
	where := func(key string) (int32, string, int32, int16) {
		n, self, c := h.coordinatorOf(key)
		if self {
			return h.cfg.NodeID, host, port, code
		}
		if code != errNone {
			c = code
		}
		return n.NodeID, n.Host, n.Port, c
	}
	if req.Version < 4 {
		resp.NodeID, resp.Host, resp.Port, resp.ErrorCode = where(req.CoordinatorKey)
		if code == errNone && req.CoordinatorType == 0 && req.CoordinatorKey == "" {
			resp.ErrorCode = errInvalidGroupID
		}
		if resp.ErrorCode != errNone {
			resp.NodeID, resp.Host, resp.Port = -1, "", -1
		}
		r.reply(resp)
		return
	}
	for _, key := range req.CoordinatorKeys {
		c := kmsg.NewFindCoordinatorResponseCoordinator()
		c.Key = key
		c.NodeID, c.Host, c.Port, c.ErrorCode = where(key)
		if c.ErrorCode != errNone {
			c.NodeID, c.Host, c.Port = -1, "", -1
		}
		resp.Coordinators = append(resp.Coordinators, c)
	}
	r.reply(resp)
}

// clientID and clientHost describe the requesting client (DescribeGroups).
func (r *request) clientID() string {
	if r.hdr.ClientID == nil {
		return ""
	}
	return *r.hdr.ClientID
}

func (r *request) clientHost() string {
	addr := r.conn.RemoteAddr()
	if addr == nil {
		return ""
	}
	host, _, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	return "/" + host
}

// groupContext bounds the synchronous part of a group call (persistence).
func groupContext() (context.Context, context.CancelFunc) { return requestContext(0) }

func optStr(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
