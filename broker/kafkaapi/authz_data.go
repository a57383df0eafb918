package kafkaapi

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/broker/auth"
	"github.com/twinmq/twinmq/netio"
)

// The produce and consume path: Produce, Fetch, ListOffsets, Metadata,
// OffsetForLeaderEpoch (KafkaApis.handleProduceRequest, ...).

func init() {
	regAuthz(0, authzProduce)
	regAuthz(1, authzFetch)
	regAuthz(2, authzListOffsets)
	regAuthz(3, authzMetadata)
	regAuthz(23, authzOffsetForLeaderEpoch)
}

// topicName is the name a request's topic goes by: the name, or with
// byID the name of the topic with that id ("" if unknown: the handler
// answers UNKNOWN_TOPIC_ID).
func (h *Handler) topicName(name string, id [16]byte, byID bool) string {
	if !byID || (id == [16]byte{} && name != "") {
		return name
	}
	if c, code := h.lookupTopic(name, id, true); code == errNone {
		return c.Name
	}
	return ""
}

// authzProduce: a transactional produce needs Write on its transactional
// id, else the whole request fails with TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
// then each topic needs Write (TOPIC_AUTHORIZATION_FAILED per partition).
// Idempotence is checked at InitProducerId (KIP-679), not here.
func authzProduce(h *Handler, r *request, q kmsg.Request) bool {
	req := q.(*kmsg.ProduceRequest)
	if req.TransactionID != nil && !r.canTxnID(auth.OpWrite, *req.TransactionID) {
		return replyError(r, req, func(resp *kmsg.ProduceResponse) {
			resp.Topics = produceErrors(req.Topics, errTxnIDAuthorizationFailed)
		})
	}
	var denied []kmsg.ProduceRequestTopic
	kept := req.Topics[:0:0]
	for _, t := range req.Topics {
		name := h.topicName(t.Topic, t.TopicID, req.Version >= 13)
		if name != "" && !r.canTopic(auth.OpWrite, name) {
			denied = append(denied, t)
			continue
		}
		kept = append(kept, t)
	}
	if len(denied) == 0 {
		return true
	}
	if req.Acks == 0 {
		// No answer goes back; Kafka drops the denied partitions' data.
		req.Topics = kept
		return true
	}
	req.Topics = kept
	errs := produceErrors(denied, errTopicAuthorizationFailed)
	r.addPatch(func(s kmsg.Response) {
		resp := s.(*kmsg.ProduceResponse)
		resp.Topics = append(resp.Topics, errs...)
	})
	return true
}

func produceErrors(ts []kmsg.ProduceRequestTopic, code int16) []kmsg.ProduceResponseTopic {
	out := make([]kmsg.ProduceResponseTopic, 0, len(ts))
	for _, t := range ts {
		rt := kmsg.NewProduceResponseTopic()
		rt.Topic, rt.TopicID = t.Topic, t.TopicID
		for _, p := range t.Partitions {
			rp := kmsg.NewProduceResponseTopicPartition()
			rp.Partition, rp.ErrorCode = p.Partition, code
			rt.Partitions = append(rt.Partitions, rp)
		}
		out = append(out, rt)
	}
	return out
}

// inlineAllowed says whether the event loop may answer a Produce itself
// (00_produce_inline.go): with an authorizer, only when every topic may
// be written; otherwise OnFrame answers with the errors. With quotas set,
// never: OnFrame meters it.
func (h *Handler) inlineAllowed(c *netio.Conn, req *kmsg.ProduceRequest) bool {
	if h.cfg.Quotas != nil && h.cfg.Quotas.Active() {
		return false // metered on the worker's path (quotas.go)
	}
	if h.cfg.Authorizer == nil {
		return true
	}
	p := principalOf(c)
	for _, t := range req.Topics {
		name := h.topicName(t.Topic, t.TopicID, req.Version >= 13)
		if name == "" || !h.cfg.Authorizer.Authorize(p, connHost(c), auth.OpWrite, auth.ResourceTopic, name) {
			return false
		}
	}
	return true
}

// authzFetch: a follower's fetch (ReplicaID >= 0) needs ClusterAction,
// else the whole fetch fails with CLUSTER_AUTHORIZATION_FAILED (top
// level, as Fetch v7+ has one); a consumer's needs Read on each topic
// (TOPIC_AUTHORIZATION_FAILED per partition, no data).
func authzFetch(h *Handler, r *request, q kmsg.Request) bool {
	req := q.(*kmsg.FetchRequest)
	if req.ReplicaID >= 0 || req.ReplicaState.ID >= 0 {
		if r.canCluster(auth.OpClusterAction) {
			return true
		}
		return replyError(r, req, func(resp *kmsg.FetchResponse) {
			resp.ErrorCode = errClusterAuthorizationFailed
			resp.Topics = fetchErrors(req.Topics, errClusterAuthorizationFailed)
		})
	}
	var denied []kmsg.FetchRequestTopic
	kept := req.Topics[:0:0]
	for _, t := range req.Topics {
		name := h.topicName(t.Topic, t.TopicID, req.Version >= 13)
		if name != "" && !r.canTopic(auth.OpRead, name) {
			denied = append(denied, t)
			continue
		}
		kept = append(kept, t)
	}
	if len(denied) == 0 {
		return true
	}
	req.Topics = kept
	errs := fetchErrors(denied, errTopicAuthorizationFailed)
	r.addPatch(func(s kmsg.Response) {
		resp := s.(*kmsg.FetchResponse)
		resp.Topics = append(resp.Topics, errs...)
	})
	return true
}

func fetchErrors(ts []kmsg.FetchRequestTopic, code int16) []kmsg.FetchResponseTopic {
	out := make([]kmsg.FetchResponseTopic, 0, len(ts))
	for _, t := range ts {
		rt := kmsg.NewFetchResponseTopic()
		rt.Topic, rt.TopicID = t.Topic, t.TopicID
		for _, p := range t.Partitions {
			rp := kmsg.NewFetchResponseTopicPartition()
			rp.Partition, rp.ErrorCode = p.Partition, code
			rp.HighWatermark, rp.LastStableOffset, rp.LogStartOffset = -1, -1, -1
			rt.Partitions = append(rt.Partitions, rp)
		}
		out = append(out, rt)
	}
	return out
}

// authzListOffsets: Describe on each topic (TOPIC_AUTHORIZATION_FAILED
// per partition).
func authzListOffsets(h *Handler, r *request, q kmsg.Request) bool {
	req := q.(*kmsg.ListOffsetsRequest)
	var errs []kmsg.ListOffsetsResponseTopic
	kept := req.Topics[:0:0]
	for _, t := range req.Topics {
		if r.canTopic(auth.OpDescribe, t.Topic) {
			kept = append(kept, t)
			continue
		}
		rt := kmsg.NewListOffsetsResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewListOffsetsResponseTopicPartition()
			rp.Partition, rp.ErrorCode, rp.Timestamp, rp.Offset = p.Partition, errTopicAuthorizationFailed, -1, -1
			rt.Partitions = append(rt.Partitions, rp)
		}
		errs = append(errs, rt)
	}
	if len(errs) > 0 {
		req.Topics = kept
		r.addPatch(func(s kmsg.Response) {
			resp := s.(*kmsg.ListOffsetsResponse)
			resp.Topics = append(resp.Topics, errs...)
		})
	}
	return true
}

// authzOffsetForLeaderEpoch: a follower's needs ClusterAction, a
// consumer's Describe on each topic.
func authzOffsetForLeaderEpoch(h *Handler, r *request, q kmsg.Request) bool {
	req := q.(*kmsg.OffsetForLeaderEpochRequest)
	follower := req.ReplicaID >= 0
	if follower && r.canCluster(auth.OpClusterAction) {
		return true
	}
	var errs []kmsg.OffsetForLeaderEpochResponseTopic
	kept := req.Topics[:0:0]
	for _, t := range req.Topics {
		code := errTopicAuthorizationFailed
		if follower {
			code = errClusterAuthorizationFailed
		} else if r.canTopic(auth.OpDescribe, t.Topic) {
			kept = append(kept, t)
			continue
		}
		rt := kmsg.NewOffsetForLeaderEpochResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
			rp.Partition, rp.ErrorCode, rp.LeaderEpoch, rp.EndOffset = p.Partition, code, -1, -1
			rt.Partitions = append(rt.Partitions, rp)
		}
		errs = append(errs, rt)
	}
	if len(errs) > 0 {
		req.Topics = kept
		r.addPatch(func(s kmsg.Response) {
			resp := s.(*kmsg.OffsetForLeaderEpochResponse)
			resp.Topics = append(resp.Topics, errs...)
		})
	}
	return true
}

// authzMetadata: a request for all topics sees only those the principal
// may Describe; a named topic it may not Describe is answered
// TOPIC_AUTHORIZATION_FAILED. A named topic that does not exist and
// would be auto-created also needs Create on the cluster or on the topic
// (else TOPIC_AUTHORIZATION_FAILED), as KafkaApis.getTopicMetadata.
func authzMetadata(h *Handler, r *request, q kmsg.Request) bool {
	req := q.(*kmsg.MetadataRequest)
	if req.IncludeTopicAuthorizedOperations || req.IncludeClusterAuthorizedOperations {
		defer r.addPatch(func(s kmsg.Response) { metadataOps(r, req, s.(*kmsg.MetadataResponse)) }) // after the errors are added
	}
	if req.Topics == nil {
		r.addPatch(func(s kmsg.Response) {
			resp := s.(*kmsg.MetadataResponse)
			kept := resp.Topics[:0]
			for _, t := range resp.Topics {
				if t.Topic == nil || r.canTopic(auth.OpDescribe, *t.Topic) {
					kept = append(kept, t)
				}
			}
			resp.Topics = kept
		})
		return true
	}
	autoCreate := !h.cfg.DisableAutoCreate && (req.Version < 4 || req.AllowAutoTopicCreation)
	clusterCreate := -1 // unknown until needed: 0 no, 1 yes
	var errs []kmsg.MetadataResponseTopic
	kept := make([]kmsg.MetadataRequestTopic, 0, len(req.Topics))
	for _, t := range req.Topics {
		name := ""
		if t.Topic != nil {
			name = *t.Topic
		} else {
			name = h.topicName("", t.TopicID, true)
		}
		ok := name == "" || r.canTopic(auth.OpDescribe, name)
		if ok && autoCreate && name != "" {
			if _, code := h.lookupTopic(name, t.TopicID, false); code != errNone {
				if clusterCreate < 0 {
					clusterCreate = 0
					if r.canCluster(auth.OpCreate) {
						clusterCreate = 1
					}
				}
				ok = clusterCreate == 1 || r.canTopic(auth.OpCreate, name)
			}
		}
		if ok {
			kept = append(kept, t)
			continue
		}
		rt := kmsg.NewMetadataResponseTopic()
		rt.Topic, rt.TopicID, rt.ErrorCode = strp(name), t.TopicID, errTopicAuthorizationFailed
		rt.Partitions = []kmsg.MetadataResponseTopicPartition{}
		errs = append(errs, rt)
	}
	if len(errs) > 0 {
		req.Topics = kept // empty, not nil: "no topics", not "all topics"
		r.addPatch(func(s kmsg.Response) {
			resp := s.(*kmsg.MetadataResponse)
			resp.Topics = append(resp.Topics, errs...)
		})
	}
	return true
}
