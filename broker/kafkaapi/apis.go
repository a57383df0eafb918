package kafkaapi

import "github.com/twmb/franz-go/pkg/kmsg"

const (
	fetchKey       = 1
	apiVersionsKey = 18
)

// The SASL keys, which a SASL listener serves before authentication.
const (
	saslHandshakeKey    = 17
	saslAuthenticateKey = 36
)

// api is one served key: the highest version we implement (the lowest is 0
// for every key: see apiVersions) and its handler.
type api struct {
	max   int16
	serve func(h *Handler, r *request, req kmsg.Request)
}

// apiTable lists the keys served whatever the configuration. The
// consumer-group keys (10_find_coordinator.go, with Config.Groups) and the
// transaction keys (txn.go, with Config.Transactions) are added to it.
func apiTable() map[int16]api {
	return map[int16]api{
		0:  {13, func(h *Handler, r *request, q kmsg.Request) { h.produce(r, q.(*kmsg.ProduceRequest)) }},
		1:  {16, func(h *Handler, r *request, q kmsg.Request) { h.fetch(r, q.(*kmsg.FetchRequest)) }},
		2:  {10, func(h *Handler, r *request, q kmsg.Request) { h.listOffsets(r, q.(*kmsg.ListOffsetsRequest)) }},
		3:  {13, func(h *Handler, r *request, q kmsg.Request) { h.metadata(r, q.(*kmsg.MetadataRequest)) }},
		18: {4, func(h *Handler, r *request, q kmsg.Request) { h.apiVersions(r, q.(*kmsg.ApiVersionsRequest)) }},
		19: {7, func(h *Handler, r *request, q kmsg.Request) { h.createTopics(r, q.(*kmsg.CreateTopicsRequest)) }},
		20: {6, func(h *Handler, r *request, q kmsg.Request) { h.deleteTopics(r, q.(*kmsg.DeleteTopicsRequest)) }},
		21: {2, func(h *Handler, r *request, q kmsg.Request) { h.deleteRecords(r, q.(*kmsg.DeleteRecordsRequest)) }},
		22: {5, func(h *Handler, r *request, q kmsg.Request) { h.initProducerID(r, q.(*kmsg.InitProducerIDRequest)) }},
		23: {4, func(h *Handler, r *request, q kmsg.Request) {
			h.offsetForLeaderEpoch(r, q.(*kmsg.OffsetForLeaderEpochRequest))
		}},
		32: {4, func(h *Handler, r *request, q kmsg.Request) { h.describeConfigs(r, q.(*kmsg.DescribeConfigsRequest)) }},
		33: {2, func(h *Handler, r *request, q kmsg.Request) { h.alterConfigs(r, q.(*kmsg.AlterConfigsRequest)) }},
		35: {4, func(h *Handler, r *request, q kmsg.Request) { h.describeLogDirs(r, q.(*kmsg.DescribeLogDirsRequest)) }},
		37: {3, func(h *Handler, r *request, q kmsg.Request) { h.createPartitions(r, q.(*kmsg.CreatePartitionsRequest)) }},
		44: {1, func(h *Handler, r *request, q kmsg.Request) {
			h.incrementalAlterConfigs(r, q.(*kmsg.IncrementalAlterConfigsRequest))
		}},
		60: {1, func(h *Handler, r *request, q kmsg.Request) { h.describeCluster(r, q.(*kmsg.DescribeClusterRequest)) }},

		// Admin keys that consoles and tools send (issue #16): answered
		// as a Kafka broker without an authorizer, SASL, delegation
		// tokens, quotas or reassignments answers them.
		17: {1, func(h *Handler, r *request, q kmsg.Request) { h.saslHandshake(r, q.(*kmsg.SASLHandshakeRequest)) }},
		29: {3, func(h *Handler, r *request, q kmsg.Request) { h.describeACLs(r, q.(*kmsg.DescribeACLsRequest)) }},
		30: {3, func(h *Handler, r *request, q kmsg.Request) { h.createACLs(r, q.(*kmsg.CreateACLsRequest)) }},
		31: {3, func(h *Handler, r *request, q kmsg.Request) { h.deleteACLs(r, q.(*kmsg.DeleteACLsRequest)) }},
		34: {2, func(h *Handler, r *request, q kmsg.Request) {
			h.alterReplicaLogDirs(r, q.(*kmsg.AlterReplicaLogDirsRequest))
		}},
		36: {2, func(h *Handler, r *request, q kmsg.Request) { h.saslAuthenticate(r, q.(*kmsg.SASLAuthenticateRequest)) }},
		38: {3, func(h *Handler, r *request, q kmsg.Request) {
			h.createDelegationToken(r, q.(*kmsg.CreateDelegationTokenRequest))
		}},
		39: {2, func(h *Handler, r *request, q kmsg.Request) {
			h.renewDelegationToken(r, q.(*kmsg.RenewDelegationTokenRequest))
		}},
		40: {2, func(h *Handler, r *request, q kmsg.Request) {
			h.expireDelegationToken(r, q.(*kmsg.ExpireDelegationTokenRequest))
		}},
		41: {3, func(h *Handler, r *request, q kmsg.Request) {
			h.describeDelegationToken(r, q.(*kmsg.DescribeDelegationTokenRequest))
		}},
		43: {2, func(h *Handler, r *request, q kmsg.Request) { h.electLeaders(r, q.(*kmsg.ElectLeadersRequest)) }},
		45: {1, func(h *Handler, r *request, q kmsg.Request) {
			h.alterPartitionReassignments(r, q.(*kmsg.AlterPartitionAssignmentsRequest))
		}},
		46: {0, func(h *Handler, r *request, q kmsg.Request) {
			h.listPartitionReassignments(r, q.(*kmsg.ListPartitionReassignmentsRequest))
		}},
		48: {1, func(h *Handler, r *request, q kmsg.Request) {
			h.describeClientQuotas(r, q.(*kmsg.DescribeClientQuotasRequest))
		}},
		49: {1, func(h *Handler, r *request, q kmsg.Request) {
			h.alterClientQuotas(r, q.(*kmsg.AlterClientQuotasRequest))
		}},
		50: {0, func(h *Handler, r *request, q kmsg.Request) {
			h.describeUserSCRAMCredentials(r, q.(*kmsg.DescribeUserSCRAMCredentialsRequest))
		}},
		51: {0, func(h *Handler, r *request, q kmsg.Request) {
			h.alterUserSCRAMCredentials(r, q.(*kmsg.AlterUserSCRAMCredentialsRequest))
		}},
	}
}
