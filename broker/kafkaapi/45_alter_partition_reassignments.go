package kafkaapi

import "github.com/twmb/franz-go/pkg/kmsg"

// alterPartitionReassignments answers key 45 (KIP-455). A partition's
// replicas are the members of the broker group that holds its queue
// (docs/design.md section 6): they cannot be chosen per partition, so a
// reassignment is refused with INVALID_REPLICA_ASSIGNMENT, and a
// cancellation (null replicas) finds none in progress.
func (h *Handler) alterPartitionReassignments(r *request, req *kmsg.AlterPartitionAssignmentsRequest) {
	resp := req.ResponseKind().(*kmsg.AlterPartitionAssignmentsResponse)
	resp.AllowReplicationFactorChange = req.AllowReplicationFactorChange
	for _, t := range req.Topics {
		rt := kmsg.NewAlterPartitionAssignmentsResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewAlterPartitionAssignmentsResponseTopicPartition()
			rp.Partition = p.Partition
			switch {
			case !h.partitionExists(t.Topic, p.Partition):
				rp.ErrorCode = errUnknownTopicOrPartition
			case p.Replicas == nil:
				rp.ErrorCode, rp.ErrorMessage = errNoReassignmentInProgress, strp("no reassignment is in progress")
			default:
				rp.ErrorCode = errInvalidReplicaAssignment
				rp.ErrorMessage = strp("replicas are fixed by the broker group that holds the partition")
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	r.reply(resp)
}
