package kafkaapi

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/broker/auth"
)

// Authorization of the share-group keys (KIP-932), as Kafka's KafkaApis
// checks them, at the group's level: a member needs Read on the group,
// and its heartbeat Read on every topic it subscribes to (its fetches and
// acknowledgements then touch only what the subscription allowed);
// describing needs Describe, deleting offsets Delete. A request naming
// several groups is refused whole (GROUP_AUTHORIZATION_FAILED for each)
// when one is not allowed.
func init() {
	regAuthz(76, func(h *Handler, r *request, req kmsg.Request) bool {
		q := req.(*kmsg.ShareGroupHeartbeatRequest)
		code := int16(errNone)
		if !r.canGroup(auth.OpRead, q.GroupID) {
			code = errGroupAuthorizationFailed
		} else {
			for _, t := range q.SubscribedTopicNames {
				if !r.canTopic(auth.OpRead, t) {
					code = errTopicAuthorizationFailed
					break
				}
			}
		}
		if code == errNone {
			return true
		}
		return replyError(r, q, func(s *kmsg.ShareGroupHeartbeatResponse) { s.ErrorCode = code })
	})
	regAuthz(77, func(h *Handler, r *request, req kmsg.Request) bool {
		q := req.(*kmsg.ShareGroupDescribeRequest)
		if r.canGroups(auth.OpDescribe, q.GroupIDs) {
			return true
		}
		return replyError(r, q, func(s *kmsg.ShareGroupDescribeResponse) {
			for _, g := range q.GroupIDs {
				rg := kmsg.NewShareGroupDescribeResponseGroup()
				rg.GroupID, rg.ErrorCode = g, errGroupAuthorizationFailed
				s.Groups = append(s.Groups, rg)
			}
		})
	})
	regAuthz(78, func(h *Handler, r *request, req kmsg.Request) bool {
		q := req.(*kmsg.ShareFetchRequest)
		if q.GroupID != nil && r.canGroup(auth.OpRead, *q.GroupID) {
			return true
		}
		return replyError(r, q, func(s *kmsg.ShareFetchResponse) { s.ErrorCode = errGroupAuthorizationFailed })
	})
	regAuthz(79, func(h *Handler, r *request, req kmsg.Request) bool {
		q := req.(*kmsg.ShareAcknowledgeRequest)
		if q.GroupID != nil && r.canGroup(auth.OpRead, *q.GroupID) {
			return true
		}
		return replyError(r, q, func(s *kmsg.ShareAcknowledgeResponse) { s.ErrorCode = errGroupAuthorizationFailed })
	})
	regAuthz(90, func(h *Handler, r *request, req kmsg.Request) bool {
		q := req.(*kmsg.DescribeShareGroupOffsetsRequest)
		ids := make([]string, len(q.Groups))
		for i, g := range q.Groups {
			ids[i] = g.GroupID
		}
		if r.canGroups(auth.OpDescribe, ids) {
			return true
		}
		return replyError(r, q, func(s *kmsg.DescribeShareGroupOffsetsResponse) {
			for _, g := range ids {
				rg := kmsg.NewDescribeShareGroupOffsetsResponseGroup()
				rg.GroupID, rg.ErrorCode = g, errGroupAuthorizationFailed
				s.Groups = append(s.Groups, rg)
			}
		})
	})
	regAuthz(91, func(h *Handler, r *request, req kmsg.Request) bool {
		q := req.(*kmsg.AlterShareGroupOffsetsRequest)
		if r.canGroup(auth.OpRead, q.GroupID) {
			return true
		}
		return replyError(r, q, func(s *kmsg.AlterShareGroupOffsetsResponse) { s.ErrorCode = errGroupAuthorizationFailed })
	})
	regAuthz(92, func(h *Handler, r *request, req kmsg.Request) bool {
		q := req.(*kmsg.DeleteShareGroupOffsetsRequest)
		if r.canGroup(auth.OpDelete, q.GroupID) {
			return true
		}
		return replyError(r, q, func(s *kmsg.DeleteShareGroupOffsetsResponse) { s.ErrorCode = errGroupAuthorizationFailed })
	})
	// WriteTxnMarkers (27) comes from another broker group's master,
	// which the handler checks by address (27_write_txn_markers.go is
	// refused to anyone else); brokers connect to each other as
	// User:ANONYMOUS, so an ACL check could only refuse them.
	authzFree[27] = true
}

// canGroups reports whether r may do op on every group of ids.
func (r *request) canGroups(op auth.Operation, ids []string) bool {
	for _, g := range ids {
		if !r.canGroup(op, g) {
			return false
		}
	}
	return true
}
