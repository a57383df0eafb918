package kafkaapi

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/broker/auth"
)

// Consumer-group keys (KafkaApis.handleJoinGroupRequest, ...): the group
// needs Read to join, sync, heartbeat, leave and commit, Describe to be
// found and described, Delete to be deleted; offsets also need the
// topic's Read (commit) or Describe (fetch).

func init() {
	regAuthz(8, authzOffsetCommit)
	regAuthz(9, authzOffsetFetch)
	regAuthz(10, authzFindCoordinator)
	regAuthz(11, groupRead(func(q *kmsg.JoinGroupRequest) string { return q.Group },
		func(s *kmsg.JoinGroupResponse) { s.ErrorCode = errGroupAuthorizationFailed }))
	regAuthz(12, groupRead(func(q *kmsg.HeartbeatRequest) string { return q.Group },
		func(s *kmsg.HeartbeatResponse) { s.ErrorCode = errGroupAuthorizationFailed }))
	regAuthz(13, groupRead(func(q *kmsg.LeaveGroupRequest) string { return q.Group },
		func(s *kmsg.LeaveGroupResponse) { s.ErrorCode = errGroupAuthorizationFailed }))
	regAuthz(14, groupRead(func(q *kmsg.SyncGroupRequest) string { return q.Group },
		func(s *kmsg.SyncGroupResponse) { s.ErrorCode = errGroupAuthorizationFailed }))
	regAuthz(68, groupRead(func(q *kmsg.ConsumerGroupHeartbeatRequest) string { return q.Group },
		func(s *kmsg.ConsumerGroupHeartbeatResponse) { s.ErrorCode = errGroupAuthorizationFailed }))
	regAuthz(15, authzDescribeGroups)
	regAuthz(16, authzListGroups)
	regAuthz(42, authzDeleteGroups)
	regAuthz(47, authzOffsetDelete)
	regAuthz(69, authzConsumerGroupDescribe)
}

// groupRead is the check of a key guarded by Read on its one group.
func groupRead[Q kmsg.Request, S kmsg.Response](group func(Q) string, fill func(S)) authzFunc {
	return func(h *Handler, r *request, req kmsg.Request) bool {
		q := req.(Q)
		if r.canGroup(auth.OpRead, group(q)) {
			return true
		}
		return replyError(r, q, fill)
	}
}

// authzOffsetCommit: Read on the group, else every partition answers
// GROUP_AUTHORIZATION_FAILED; then Read on each topic.
func authzOffsetCommit(h *Handler, r *request, q kmsg.Request) bool {
	req := q.(*kmsg.OffsetCommitRequest)
	code := errNone
	if !r.canGroup(auth.OpRead, req.Group) {
		code = errGroupAuthorizationFailed
	}
	var errs []kmsg.OffsetCommitResponseTopic
	kept := req.Topics[:0:0]
	for _, t := range req.Topics {
		name := h.topicName(t.Topic, t.TopicID, req.Version >= 10)
		c := code
		if c == errNone && name != "" && !r.canTopic(auth.OpRead, name) {
			c = errTopicAuthorizationFailed
		}
		if c == errNone {
			kept = append(kept, t)
			continue
		}
		rt := kmsg.NewOffsetCommitResponseTopic()
		rt.Topic, rt.TopicID = t.Topic, t.TopicID
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetCommitResponseTopicPartition()
			rp.Partition, rp.ErrorCode = p.Partition, c
			rt.Partitions = append(rt.Partitions, rp)
		}
		errs = append(errs, rt)
	}
	if code != errNone {
		return replyError(r, req, func(resp *kmsg.OffsetCommitResponse) { resp.Topics = errs })
	}
	if len(errs) > 0 {
		req.Topics = kept
		r.addPatch(func(s kmsg.Response) {
			resp := s.(*kmsg.OffsetCommitResponse)
			resp.Topics = append(resp.Topics, errs...)
		})
	}
	return true
}

// authzOffsetFetch: Read on each group (GROUP_AUTHORIZATION_FAILED: at
// the top in v2-v7, per partition in v0-v1, per group in v8+); a named
// topic the principal may not Describe answers TOPIC_AUTHORIZATION_FAILED,
// and "all topics" leaves those out.
func authzOffsetFetch(h *Handler, r *request, q kmsg.Request) bool {
	req := q.(*kmsg.OffsetFetchRequest)
	if req.Version < 8 {
		return authzOffsetFetchOne(r, req)
	}
	var groupErrs []kmsg.OffsetFetchResponseGroup
	keptGroups := req.Groups[:0:0]
	topicErrs := map[string][]kmsg.OffsetFetchResponseGroupTopic{}
	for _, g := range req.Groups {
		if !r.canGroup(auth.OpRead, g.Group) {
			rg := kmsg.NewOffsetFetchResponseGroup()
			rg.Group, rg.ErrorCode = g.Group, errGroupAuthorizationFailed
			groupErrs = append(groupErrs, rg)
			continue
		}
		if g.Topics != nil {
			kept := g.Topics[:0:0]
			for _, t := range g.Topics {
				name := h.topicName(t.Topic, t.TopicID, req.Version >= 10)
				if name == "" || r.canTopic(auth.OpDescribe, name) {
					kept = append(kept, t)
					continue
				}
				rt := kmsg.NewOffsetFetchResponseGroupTopic()
				rt.Topic, rt.TopicID = t.Topic, t.TopicID
				for _, p := range t.Partitions {
					rp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
					rp.Partition, rp.Offset, rp.LeaderEpoch, rp.ErrorCode = p, -1, -1, errTopicAuthorizationFailed
					rt.Partitions = append(rt.Partitions, rp)
				}
				topicErrs[g.Group] = append(topicErrs[g.Group], rt)
			}
			g.Topics = kept
		}
		keptGroups = append(keptGroups, g)
	}
	if len(keptGroups) == 0 {
		return replyError(r, req, func(resp *kmsg.OffsetFetchResponse) { resp.Groups = groupErrs })
	}
	req.Groups = keptGroups
	r.addPatch(func(s kmsg.Response) {
		resp := s.(*kmsg.OffsetFetchResponse)
		for i := range resp.Groups {
			g := &resp.Groups[i]
			g.Topics = filterTopics(g.Topics, func(t kmsg.OffsetFetchResponseGroupTopic) string {
				return h.topicName(t.Topic, t.TopicID, req.Version >= 10)
			}, r)
			g.Topics = append(g.Topics, topicErrs[g.Group]...)
		}
		resp.Groups = append(resp.Groups, groupErrs...)
	})
	return true
}

// filterTopics keeps the topics the principal may Describe (an "all
// topics" answer must not show the others).
func filterTopics[T any](ts []T, name func(T) string, r *request) []T {
	kept := ts[:0]
	for _, t := range ts {
		if n := name(t); n == "" || r.canTopic(auth.OpDescribe, n) {
			kept = append(kept, t)
		}
	}
	return kept
}

// authzOffsetFetchOne is OffsetFetch v0-v7: one group.
func authzOffsetFetchOne(r *request, req *kmsg.OffsetFetchRequest) bool {
	if !r.canGroup(auth.OpRead, req.Group) {
		return replyError(r, req, func(resp *kmsg.OffsetFetchResponse) {
			if req.Version >= 2 {
				resp.ErrorCode = errGroupAuthorizationFailed
				return
			}
			resp.Topics = offsetFetchErrors(req.Topics, errGroupAuthorizationFailed)
		})
	}
	var denied []kmsg.OffsetFetchRequestTopic
	if req.Topics != nil {
		kept := req.Topics[:0:0]
		for _, t := range req.Topics {
			if r.canTopic(auth.OpDescribe, t.Topic) {
				kept = append(kept, t)
			} else {
				denied = append(denied, t)
			}
		}
		req.Topics = kept
	}
	errs := offsetFetchErrors(denied, errTopicAuthorizationFailed)
	r.addPatch(func(s kmsg.Response) {
		resp := s.(*kmsg.OffsetFetchResponse)
		resp.Topics = filterTopics(resp.Topics, func(t kmsg.OffsetFetchResponseTopic) string { return t.Topic }, r)
		resp.Topics = append(resp.Topics, errs...)
	})
	return true
}

func offsetFetchErrors(ts []kmsg.OffsetFetchRequestTopic, code int16) []kmsg.OffsetFetchResponseTopic {
	var out []kmsg.OffsetFetchResponseTopic
	for _, t := range ts {
		rt := kmsg.NewOffsetFetchResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetFetchResponseTopicPartition()
			rp.Partition, rp.Offset, rp.LeaderEpoch, rp.ErrorCode = p, -1, -1, code
			rt.Partitions = append(rt.Partitions, rp)
		}
		out = append(out, rt)
	}
	return out
}

// authzFindCoordinator: Describe on the group (GROUP_AUTHORIZATION_FAILED)
// or on the transactional id (TRANSACTIONAL_ID_AUTHORIZATION_FAILED), per
// key in v4+.
func authzFindCoordinator(h *Handler, r *request, q kmsg.Request) bool {
	req := q.(*kmsg.FindCoordinatorRequest)
	check := func(key string) int16 {
		if req.CoordinatorType == 1 {
			if !r.canTxnID(auth.OpDescribe, key) {
				return errTxnIDAuthorizationFailed
			}
		} else if !r.canGroup(auth.OpDescribe, key) {
			return errGroupAuthorizationFailed
		}
		return errNone
	}
	if req.Version < 4 {
		if code := check(req.CoordinatorKey); code != errNone {
			return replyError(r, req, func(resp *kmsg.FindCoordinatorResponse) {
				resp.ErrorCode, resp.NodeID, resp.Port = code, -1, -1
			})
		}
		return true
	}
	var errs []kmsg.FindCoordinatorResponseCoordinator
	kept := req.CoordinatorKeys[:0:0]
	for _, k := range req.CoordinatorKeys {
		code := check(k)
		if code == errNone {
			kept = append(kept, k)
			continue
		}
		c := kmsg.NewFindCoordinatorResponseCoordinator()
		c.Key, c.ErrorCode, c.NodeID, c.Port = k, code, -1, -1
		errs = append(errs, c)
	}
	if len(kept) == 0 {
		return replyError(r, req, func(resp *kmsg.FindCoordinatorResponse) { resp.Coordinators = errs })
	}
	if len(errs) > 0 {
		req.CoordinatorKeys = kept
		r.addPatch(func(s kmsg.Response) {
			resp := s.(*kmsg.FindCoordinatorResponse)
			resp.Coordinators = append(resp.Coordinators, errs...)
		})
	}
	return true
}

// authzDescribeGroups: Describe on each group.
func authzDescribeGroups(h *Handler, r *request, q kmsg.Request) bool {
	req := q.(*kmsg.DescribeGroupsRequest)
	r.addPatch(func(s kmsg.Response) { groupOps(r, req, s.(*kmsg.DescribeGroupsResponse)) })
	var errs []kmsg.DescribeGroupsResponseGroup
	kept := req.Groups[:0:0]
	for _, g := range req.Groups {
		if r.canGroup(auth.OpDescribe, g) {
			kept = append(kept, g)
			continue
		}
		rg := kmsg.NewDescribeGroupsResponseGroup()
		rg.Group, rg.ErrorCode, rg.AuthorizedOperations = g, errGroupAuthorizationFailed, notComputed
		errs = append(errs, rg)
	}
	if len(errs) > 0 {
		req.Groups = kept
		r.addPatch(func(s kmsg.Response) {
			resp := s.(*kmsg.DescribeGroupsResponse)
			resp.Groups = append(resp.Groups, errs...)
		})
	}
	return true
}

// authzConsumerGroupDescribe: Describe on each group (KIP-848).
func authzConsumerGroupDescribe(h *Handler, r *request, q kmsg.Request) bool {
	req := q.(*kmsg.ConsumerGroupDescribeRequest)
	if req.IncludeAuthorizedOperations {
		r.addPatch(func(s kmsg.Response) {
			resp := s.(*kmsg.ConsumerGroupDescribeResponse)
			for i := range resp.Groups {
				if g := &resp.Groups[i]; g.ErrorCode == errNone {
					g.AuthorizedOperations = r.authorizedOps(auth.ResourceGroup, g.Group)
				}
			}
		})
	}
	var errs []kmsg.ConsumerGroupDescribeResponseGroup
	kept := req.Groups[:0:0]
	for _, g := range req.Groups {
		if r.canGroup(auth.OpDescribe, g) {
			kept = append(kept, g)
			continue
		}
		rg := kmsg.NewConsumerGroupDescribeResponseGroup()
		rg.Group, rg.ErrorCode, rg.AuthorizedOperations = g, errGroupAuthorizationFailed, notComputed
		errs = append(errs, rg)
	}
	if len(errs) > 0 {
		req.Groups = kept
		r.addPatch(func(s kmsg.Response) {
			resp := s.(*kmsg.ConsumerGroupDescribeResponse)
			resp.Groups = append(resp.Groups, errs...)
		})
	}
	return true
}

// authzListGroups: Describe on the cluster lists every group; otherwise
// the groups the principal may Describe.
func authzListGroups(h *Handler, r *request, q kmsg.Request) bool {
	if r.canCluster(auth.OpDescribe) {
		return true
	}
	r.addPatch(func(s kmsg.Response) {
		resp := s.(*kmsg.ListGroupsResponse)
		kept := resp.Groups[:0]
		for _, g := range resp.Groups {
			if r.canGroup(auth.OpDescribe, g.Group) {
				kept = append(kept, g)
			}
		}
		resp.Groups = kept
	})
	return true
}

// authzDeleteGroups: Delete on each group.
func authzDeleteGroups(h *Handler, r *request, q kmsg.Request) bool {
	req := q.(*kmsg.DeleteGroupsRequest)
	var errs []kmsg.DeleteGroupsResponseGroup
	kept := req.Groups[:0:0]
	for _, g := range req.Groups {
		if r.canGroup(auth.OpDelete, g) {
			kept = append(kept, g)
			continue
		}
		rg := kmsg.NewDeleteGroupsResponseGroup()
		rg.Group, rg.ErrorCode = g, errGroupAuthorizationFailed
		errs = append(errs, rg)
	}
	if len(errs) > 0 {
		req.Groups = kept
		r.addPatch(func(s kmsg.Response) {
			resp := s.(*kmsg.DeleteGroupsResponse)
			resp.Groups = append(resp.Groups, errs...)
		})
	}
	return true
}

// authzOffsetDelete: Delete on the group (top-level
// GROUP_AUTHORIZATION_FAILED), Read on each topic.
func authzOffsetDelete(h *Handler, r *request, q kmsg.Request) bool {
	req := q.(*kmsg.OffsetDeleteRequest)
	if !r.canGroup(auth.OpDelete, req.Group) {
		return replyError(r, req, func(resp *kmsg.OffsetDeleteResponse) { resp.ErrorCode = errGroupAuthorizationFailed })
	}
	var errs []kmsg.OffsetDeleteResponseTopic
	kept := req.Topics[:0:0]
	for _, t := range req.Topics {
		if r.canTopic(auth.OpRead, t.Topic) {
			kept = append(kept, t)
			continue
		}
		rt := kmsg.NewOffsetDeleteResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetDeleteResponseTopicPartition()
			rp.Partition, rp.ErrorCode = p.Partition, errTopicAuthorizationFailed
			rt.Partitions = append(rt.Partitions, rp)
		}
		errs = append(errs, rt)
	}
	if len(errs) > 0 {
		req.Topics = kept
		r.addPatch(func(s kmsg.Response) {
			resp := s.(*kmsg.OffsetDeleteResponse)
			resp.Topics = append(resp.Topics, errs...)
		})
	}
	return true
}
