package kafkaapi

import "github.com/twmb/franz-go/pkg/kmsg"

// listPartitionReassignments answers key 46 (KIP-455): no reassignment is
// ever in progress (45_alter_partition_reassignments.go refuses them), so
// the list is empty, for named partitions as for all.
func (h *Handler) listPartitionReassignments(r *request, req *kmsg.ListPartitionReassignmentsRequest) {
	r.reply(req.ResponseKind())
}
