package kafkaapi

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/broker/auth"
)

// Topic administration, configs, transactions and the cluster's admin
// keys (KafkaApis, AclApis, ConfigAdminManager).

func init() {
	regAuthz(19, authzCreateTopics)
	regAuthz(20, authzDeleteTopics)
	regAuthz(21, authzDeleteRecords)
	regAuthz(37, authzCreatePartitions)
	regAuthz(32, authzDescribeConfigs)
	regAuthz(33, authzAlterConfigs)
	regAuthz(44, authzIncrementalAlterConfigs)

	regAuthz(29, clusterOnly(auth.OpDescribe, func(_ *kmsg.DescribeACLsRequest, s *kmsg.DescribeACLsResponse) {
		s.ErrorCode = errClusterAuthorizationFailed
	}))
	regAuthz(30, clusterOnly(auth.OpAlter, func(q *kmsg.CreateACLsRequest, s *kmsg.CreateACLsResponse) {
		for range q.Creations {
			res := kmsg.NewCreateACLsResponseResult()
			res.ErrorCode = errClusterAuthorizationFailed
			s.Results = append(s.Results, res)
		}
	}))
	regAuthz(31, clusterOnly(auth.OpAlter, func(q *kmsg.DeleteACLsRequest, s *kmsg.DeleteACLsResponse) {
		for range q.Filters {
			res := kmsg.NewDeleteACLsResponseResult()
			res.ErrorCode = errClusterAuthorizationFailed
			s.Results = append(s.Results, res)
		}
	}))
	regAuthz(34, clusterOnly(auth.OpAlter, func(q *kmsg.AlterReplicaLogDirsRequest, s *kmsg.AlterReplicaLogDirsResponse) {
		for _, d := range q.Dirs {
			for _, t := range d.Topics {
				rt := kmsg.NewAlterReplicaLogDirsResponseTopic()
				rt.Topic = t.Topic
				for _, p := range t.Partitions {
					rp := kmsg.NewAlterReplicaLogDirsResponseTopicPartition()
					rp.Partition, rp.ErrorCode = p, errClusterAuthorizationFailed
					rt.Partitions = append(rt.Partitions, rp)
				}
				s.Topics = append(s.Topics, rt)
			}
		}
	}))
	regAuthz(35, clusterOnly(auth.OpDescribe, func(_ *kmsg.DescribeLogDirsRequest, s *kmsg.DescribeLogDirsResponse) {
		s.ErrorCode = errClusterAuthorizationFailed
	}))
	regAuthz(43, clusterOnly(auth.OpAlter, func(_ *kmsg.ElectLeadersRequest, s *kmsg.ElectLeadersResponse) {
		s.ErrorCode = errClusterAuthorizationFailed
	}))
	regAuthz(45, clusterOnly(auth.OpAlter, func(_ *kmsg.AlterPartitionAssignmentsRequest, s *kmsg.AlterPartitionAssignmentsResponse) {
		s.ErrorCode = errClusterAuthorizationFailed
	}))
	regAuthz(46, clusterOnly(auth.OpDescribe, func(_ *kmsg.ListPartitionReassignmentsRequest, s *kmsg.ListPartitionReassignmentsResponse) {
		s.ErrorCode = errClusterAuthorizationFailed
	}))
	regAuthz(48, clusterOnly(auth.OpDescribeConfigs, func(_ *kmsg.DescribeClientQuotasRequest, s *kmsg.DescribeClientQuotasResponse) {
		s.ErrorCode = errClusterAuthorizationFailed
	}))
	regAuthz(49, clusterOnly(auth.OpAlterConfigs, func(q *kmsg.AlterClientQuotasRequest, s *kmsg.AlterClientQuotasResponse) {
		for _, e := range q.Entries {
			re := kmsg.NewAlterClientQuotasResponseEntry()
			re.ErrorCode = errClusterAuthorizationFailed
			for _, en := range e.Entity {
				ent := kmsg.NewAlterClientQuotasResponseEntryEntity()
				ent.Type, ent.Name = en.Type, en.Name
				re.Entity = append(re.Entity, ent)
			}
			s.Entries = append(s.Entries, re)
		}
	}))
	regAuthz(50, clusterOnly(auth.OpDescribe, func(_ *kmsg.DescribeUserSCRAMCredentialsRequest, s *kmsg.DescribeUserSCRAMCredentialsResponse) {
		s.ErrorCode = errClusterAuthorizationFailed
	}))
	regAuthz(51, clusterOnly(auth.OpAlter, func(q *kmsg.AlterUserSCRAMCredentialsRequest, s *kmsg.AlterUserSCRAMCredentialsResponse) {
		seen := map[string]bool{}
		add := func(user string) {
			if !seen[user] {
				seen[user] = true
				res := kmsg.NewAlterUserSCRAMCredentialsResponseResult()
				res.User, res.ErrorCode = user, errClusterAuthorizationFailed
				s.Results = append(s.Results, res)
			}
		}
		for _, d := range q.Deletions {
			add(d.Name)
		}
		for _, u := range q.Upsertions {
			add(u.Name)
		}
	}))

	regAuthz(22, authzInitProducerID)
	regAuthz(24, authzAddPartitionsToTxn)
	regAuthz(25, authzAddOffsetsToTxn)
	regAuthz(26, func(h *Handler, r *request, q kmsg.Request) bool {
		req := q.(*kmsg.EndTxnRequest)
		if r.canTxnID(auth.OpWrite, req.TransactionalID) {
			return true
		}
		return replyError(r, req, func(s *kmsg.EndTxnResponse) {
			s.ErrorCode, s.ProducerID, s.ProducerEpoch = errTxnIDAuthorizationFailed, -1, -1
		})
	})
	regAuthz(28, authzTxnOffsetCommit)
	regAuthz(61, authzDescribeProducers)
	regAuthz(65, authzDescribeTransactions)
	regAuthz(66, func(h *Handler, r *request, q kmsg.Request) bool {
		r.addPatch(func(s kmsg.Response) {
			resp := s.(*kmsg.ListTransactionsResponse)
			kept := resp.TransactionStates[:0]
			for _, t := range resp.TransactionStates {
				if r.canTxnID(auth.OpDescribe, t.TransactionalID) {
					kept = append(kept, t)
				}
			}
			resp.TransactionStates = kept
		})
		return true
	})
}

// authzCreateTopics: Create on the cluster, or else on each topic.
func authzCreateTopics(h *Handler, r *request, q kmsg.Request) bool {
	req := q.(*kmsg.CreateTopicsRequest)
	if r.canCluster(auth.OpCreate) {
		return true
	}
	var errs []kmsg.CreateTopicsResponseTopic
	kept := req.Topics[:0:0]
	for _, t := range req.Topics {
		if r.canTopic(auth.OpCreate, t.Topic) {
			kept = append(kept, t)
			continue
		}
		rt := kmsg.NewCreateTopicsResponseTopic()
		rt.Topic, rt.ErrorCode, rt.ErrorMessage = t.Topic, errTopicAuthorizationFailed, strp("Authorization failed.")
		rt.NumPartitions, rt.ReplicationFactor = -1, -1
		errs = append(errs, rt)
	}
	if len(errs) > 0 {
		req.Topics = kept
		r.addPatch(func(s kmsg.Response) {
			resp := s.(*kmsg.CreateTopicsResponse)
			resp.Topics = append(resp.Topics, errs...)
		})
	}
	return true
}

// authzDeleteTopics: Delete on each topic (by name in v0-v5, by name or
// id in v6+).
func authzDeleteTopics(h *Handler, r *request, q kmsg.Request) bool {
	req := q.(*kmsg.DeleteTopicsRequest)
	var errs []kmsg.DeleteTopicsResponseTopic
	deny := func(name string, id [16]byte) {
		rt := kmsg.NewDeleteTopicsResponseTopic()
		rt.Topic, rt.TopicID, rt.ErrorCode = strp(name), id, errTopicAuthorizationFailed
		errs = append(errs, rt)
	}
	keptNames := req.TopicNames[:0:0]
	for _, n := range req.TopicNames {
		if r.canTopic(auth.OpDelete, n) {
			keptNames = append(keptNames, n)
		} else {
			deny(n, [16]byte{})
		}
	}
	kept := req.Topics[:0:0]
	for _, t := range req.Topics {
		name := ""
		if t.Topic != nil {
			name = *t.Topic
		} else {
			name = h.topicName("", t.TopicID, true)
		}
		if name == "" || r.canTopic(auth.OpDelete, name) {
			kept = append(kept, t)
		} else {
			deny(name, t.TopicID)
		}
	}
	if len(errs) > 0 {
		req.TopicNames, req.Topics = keptNames, kept
		r.addPatch(func(s kmsg.Response) {
			resp := s.(*kmsg.DeleteTopicsResponse)
			resp.Topics = append(resp.Topics, errs...)
		})
	}
	return true
}

// authzDeleteRecords: Delete on each topic.
func authzDeleteRecords(h *Handler, r *request, q kmsg.Request) bool {
	req := q.(*kmsg.DeleteRecordsRequest)
	var errs []kmsg.DeleteRecordsResponseTopic
	kept := req.Topics[:0:0]
	for _, t := range req.Topics {
		if r.canTopic(auth.OpDelete, t.Topic) {
			kept = append(kept, t)
			continue
		}
		rt := kmsg.NewDeleteRecordsResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewDeleteRecordsResponseTopicPartition()
			rp.Partition, rp.ErrorCode, rp.LowWatermark = p.Partition, errTopicAuthorizationFailed, -1
			rt.Partitions = append(rt.Partitions, rp)
		}
		errs = append(errs, rt)
	}
	if len(errs) > 0 {
		req.Topics = kept
		r.addPatch(func(s kmsg.Response) {
			resp := s.(*kmsg.DeleteRecordsResponse)
			resp.Topics = append(resp.Topics, errs...)
		})
	}
	return true
}

// authzCreatePartitions: Alter on each topic.
func authzCreatePartitions(h *Handler, r *request, q kmsg.Request) bool {
	req := q.(*kmsg.CreatePartitionsRequest)
	var errs []kmsg.CreatePartitionsResponseTopic
	kept := req.Topics[:0:0]
	for _, t := range req.Topics {
		if r.canTopic(auth.OpAlter, t.Topic) {
			kept = append(kept, t)
			continue
		}
		rt := kmsg.NewCreatePartitionsResponseTopic()
		rt.Topic, rt.ErrorCode, rt.ErrorMessage = t.Topic, errTopicAuthorizationFailed, strp("Authorization failed.")
		errs = append(errs, rt)
	}
	if len(errs) > 0 {
		req.Topics = kept
		r.addPatch(func(s kmsg.Response) {
			resp := s.(*kmsg.CreatePartitionsResponse)
			resp.Topics = append(resp.Topics, errs...)
		})
	}
	return true
}

// configAllowed checks op (DescribeConfigs or AlterConfigs) on a config
// resource: a topic's on the topic, a broker's or broker logger's on the
// cluster, a group's on the group. It returns the error code to answer.
func configAllowed(r *request, op auth.Operation, typ kmsg.ConfigResourceType, name string) int16 {
	switch typ {
	case kmsg.ConfigResourceTypeTopic:
		if !r.canTopic(op, name) {
			return errTopicAuthorizationFailed
		}
	case kmsg.ConfigResourceTypeGroupConfig:
		if !r.canGroup(op, name) {
			return errGroupAuthorizationFailed
		}
	default:
		if !r.canCluster(op) {
			return errClusterAuthorizationFailed
		}
	}
	return errNone
}

func authzDescribeConfigs(h *Handler, r *request, q kmsg.Request) bool {
	req := q.(*kmsg.DescribeConfigsRequest)
	return authzConfigResources(r, auth.OpDescribeConfigs, &req.Resources,
		func(res kmsg.DescribeConfigsRequestResource) (kmsg.ConfigResourceType, string) {
			return res.ResourceType, res.ResourceName
		},
		func(typ kmsg.ConfigResourceType, name string, code int16) kmsg.DescribeConfigsResponseResource {
			rr := kmsg.NewDescribeConfigsResponseResource()
			rr.ResourceType, rr.ResourceName, rr.ErrorCode = typ, name, code
			return rr
		},
		func(s kmsg.Response, errs []kmsg.DescribeConfigsResponseResource) {
			resp := s.(*kmsg.DescribeConfigsResponse)
			resp.Resources = append(resp.Resources, errs...)
		})
}

func authzAlterConfigs(h *Handler, r *request, q kmsg.Request) bool {
	req := q.(*kmsg.AlterConfigsRequest)
	return authzConfigResources(r, auth.OpAlterConfigs, &req.Resources,
		func(res kmsg.AlterConfigsRequestResource) (kmsg.ConfigResourceType, string) {
			return res.ResourceType, res.ResourceName
		},
		func(typ kmsg.ConfigResourceType, name string, code int16) kmsg.AlterConfigsResponseResource {
			rr := kmsg.NewAlterConfigsResponseResource()
			rr.ResourceType, rr.ResourceName, rr.ErrorCode = typ, name, code
			return rr
		},
		func(s kmsg.Response, errs []kmsg.AlterConfigsResponseResource) {
			resp := s.(*kmsg.AlterConfigsResponse)
			resp.Resources = append(resp.Resources, errs...)
		})
}

func authzIncrementalAlterConfigs(h *Handler, r *request, q kmsg.Request) bool {
	req := q.(*kmsg.IncrementalAlterConfigsRequest)
	return authzConfigResources(r, auth.OpAlterConfigs, &req.Resources,
		func(res kmsg.IncrementalAlterConfigsRequestResource) (kmsg.ConfigResourceType, string) {
			return res.ResourceType, res.ResourceName
		},
		func(typ kmsg.ConfigResourceType, name string, code int16) kmsg.IncrementalAlterConfigsResponseResource {
			rr := kmsg.NewIncrementalAlterConfigsResponseResource()
			rr.ResourceType, rr.ResourceName, rr.ErrorCode = typ, name, code
			return rr
		},
		func(s kmsg.Response, errs []kmsg.IncrementalAlterConfigsResponseResource) {
			resp := s.(*kmsg.IncrementalAlterConfigsResponse)
			resp.Resources = append(resp.Resources, errs...)
		})
}

// authzConfigResources is the check of the three config keys: the
// resources r may not op on leave the request (it serves the others) and
// are added to the response, each refused with its code (refuse), as
// KafkaApis answers them.
func authzConfigResources[Q, A any](r *request, op auth.Operation, resources *[]Q,
	key func(Q) (kmsg.ConfigResourceType, string), refuse func(kmsg.ConfigResourceType, string, int16) A,
	add func(kmsg.Response, []A)) bool {
	var errs []A
	kept := (*resources)[:0:0]
	for _, res := range *resources {
		typ, name := key(res)
		if code := configAllowed(r, op, typ, name); code != errNone {
			errs = append(errs, refuse(typ, name, code))
			continue
		}
		kept = append(kept, res)
	}
	if len(errs) > 0 {
		*resources = kept
		r.addPatch(func(s kmsg.Response) { add(s, errs) })
	}
	return true
}

// authzInitProducerID: with a transactional id, Write on it
// (TRANSACTIONAL_ID_AUTHORIZATION_FAILED); without one (idempotence),
// IdempotentWrite on the cluster or Write on some topic (KIP-679), else
// CLUSTER_AUTHORIZATION_FAILED.
func authzInitProducerID(h *Handler, r *request, q kmsg.Request) bool {
	req := q.(*kmsg.InitProducerIDRequest)
	code := errNone
	if req.TransactionalID != nil {
		if !r.canTxnID(auth.OpWrite, *req.TransactionalID) {
			code = errTxnIDAuthorizationFailed
		}
	} else if !r.canCluster(auth.OpIdempotentWrite) &&
		!h.cfg.Authorizer.AuthorizeAny(r.principal(), connHost(r.conn), auth.OpWrite, auth.ResourceTopic) {
		code = errClusterAuthorizationFailed
	}
	if code == errNone {
		return true
	}
	return replyError(r, req, func(s *kmsg.InitProducerIDResponse) {
		s.ErrorCode, s.ProducerID, s.ProducerEpoch = code, -1, -1
	})
}

// authzAddPartitionsToTxn: v0-v3 (clients): Write on the transactional
// id, else every partition TRANSACTIONAL_ID_AUTHORIZATION_FAILED; then
// Write on each topic, and if any is denied nothing is added: the denied
// partitions answer TOPIC_AUTHORIZATION_FAILED, the others
// OPERATION_NOT_ATTEMPTED. v4+ (brokers verifying): ClusterAction.
func authzAddPartitionsToTxn(h *Handler, r *request, q kmsg.Request) bool {
	req := q.(*kmsg.AddPartitionsToTxnRequest)
	if req.Version >= 4 {
		if r.canCluster(auth.OpClusterAction) {
			return true
		}
		return replyError(r, req, func(s *kmsg.AddPartitionsToTxnResponse) { s.ErrorCode = errClusterAuthorizationFailed })
	}
	txnOK := r.canTxnID(auth.OpWrite, req.TransactionalID)
	codes := make([]int16, len(req.Topics))
	anyDenied := !txnOK
	for i, t := range req.Topics {
		switch {
		case !txnOK:
			codes[i] = errTxnIDAuthorizationFailed
		case !r.canTopic(auth.OpWrite, t.Topic):
			codes[i], anyDenied = errTopicAuthorizationFailed, true
		default:
			codes[i] = errOperationNotAttempted
		}
	}
	if !anyDenied {
		return true
	}
	return replyError(r, req, func(s *kmsg.AddPartitionsToTxnResponse) {
		for i, t := range req.Topics {
			rt := kmsg.NewAddPartitionsToTxnResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewAddPartitionsToTxnResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p, codes[i]
				rt.Partitions = append(rt.Partitions, rp)
			}
			s.Topics = append(s.Topics, rt)
		}
	})
}

// authzAddOffsetsToTxn: Write on the transactional id, then Read on the
// group.
func authzAddOffsetsToTxn(h *Handler, r *request, q kmsg.Request) bool {
	req := q.(*kmsg.AddOffsetsToTxnRequest)
	code := errNone
	switch {
	case !r.canTxnID(auth.OpWrite, req.TransactionalID):
		code = errTxnIDAuthorizationFailed
	case !r.canGroup(auth.OpRead, req.Group):
		code = errGroupAuthorizationFailed
	}
	if code == errNone {
		return true
	}
	return replyError(r, req, func(s *kmsg.AddOffsetsToTxnResponse) { s.ErrorCode = code })
}

// authzTxnOffsetCommit: Write on the transactional id, then Read on the
// group (either failing answers every partition with its error), then
// Read on each topic.
func authzTxnOffsetCommit(h *Handler, r *request, q kmsg.Request) bool {
	req := q.(*kmsg.TxnOffsetCommitRequest)
	code := errNone
	switch {
	case !r.canTxnID(auth.OpWrite, req.TransactionalID):
		code = errTxnIDAuthorizationFailed
	case !r.canGroup(auth.OpRead, req.Group):
		code = errGroupAuthorizationFailed
	}
	var errs []kmsg.TxnOffsetCommitResponseTopic
	kept := req.Topics[:0:0]
	for _, t := range req.Topics {
		c := code
		if c == errNone && !r.canTopic(auth.OpRead, t.Topic) {
			c = errTopicAuthorizationFailed
		}
		if c == errNone {
			kept = append(kept, t)
			continue
		}
		rt := kmsg.NewTxnOffsetCommitResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
			rp.Partition, rp.ErrorCode = p.Partition, c
			rt.Partitions = append(rt.Partitions, rp)
		}
		errs = append(errs, rt)
	}
	if code != errNone {
		return replyError(r, req, func(s *kmsg.TxnOffsetCommitResponse) { s.Topics = errs })
	}
	if len(errs) > 0 {
		req.Topics = kept
		r.addPatch(func(s kmsg.Response) {
			resp := s.(*kmsg.TxnOffsetCommitResponse)
			resp.Topics = append(resp.Topics, errs...)
		})
	}
	return true
}

// authzDescribeProducers: Read on each topic.
func authzDescribeProducers(h *Handler, r *request, q kmsg.Request) bool {
	req := q.(*kmsg.DescribeProducersRequest)
	var errs []kmsg.DescribeProducersResponseTopic
	kept := req.Topics[:0:0]
	for _, t := range req.Topics {
		if r.canTopic(auth.OpRead, t.Topic) {
			kept = append(kept, t)
			continue
		}
		rt := kmsg.NewDescribeProducersResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewDescribeProducersResponseTopicPartition()
			rp.Partition, rp.ErrorCode = p, errTopicAuthorizationFailed
			rt.Partitions = append(rt.Partitions, rp)
		}
		errs = append(errs, rt)
	}
	if len(errs) > 0 {
		req.Topics = kept
		r.addPatch(func(s kmsg.Response) {
			resp := s.(*kmsg.DescribeProducersResponse)
			resp.Topics = append(resp.Topics, errs...)
		})
	}
	return true
}

// authzDescribeTransactions: Describe on each transactional id.
func authzDescribeTransactions(h *Handler, r *request, q kmsg.Request) bool {
	req := q.(*kmsg.DescribeTransactionsRequest)
	var errs []kmsg.DescribeTransactionsResponseTransactionState
	kept := req.TransactionalIDs[:0:0]
	for _, id := range req.TransactionalIDs {
		if r.canTxnID(auth.OpDescribe, id) {
			kept = append(kept, id)
			continue
		}
		st := kmsg.NewDescribeTransactionsResponseTransactionState()
		st.TransactionalID, st.ErrorCode, st.ProducerID, st.ProducerEpoch = id, errTxnIDAuthorizationFailed, -1, -1
		errs = append(errs, st)
	}
	if len(errs) > 0 {
		req.TransactionalIDs = kept
		r.addPatch(func(s kmsg.Response) {
			resp := s.(*kmsg.DescribeTransactionsResponse)
			resp.TransactionStates = append(resp.TransactionStates, errs...)
		})
	}
	return true
}
