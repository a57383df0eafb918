package kafkaapi

import "github.com/twmb/franz-go/pkg/kmsg"

// electLeaders answers key 43 (KIP-183, KIP-460). A partition's leader is
// its broker group's master, which the group (or the controller) picks,
// not Kafka's preferred-replica rule; the leader is always that master,
// so every existing partition answers ELECTION_NOT_NEEDED, and one that
// does not exist UNKNOWN_TOPIC_OR_PARTITION. With no topics (all
// partitions) Kafka leaves out the ELECTION_NOT_NEEDED ones, so the
// answer is empty.
func (h *Handler) electLeaders(r *request, req *kmsg.ElectLeadersRequest) {
	resp := req.ResponseKind().(*kmsg.ElectLeadersResponse)
	// 0 is preferred, 1 unclean (KIP-460); v0 has no type and means 0.
	if req.Version >= 1 && req.ElectionType != 0 && req.ElectionType != 1 {
		resp.ErrorCode = errInvalidRequest
		r.reply(resp)
		return
	}
	for _, t := range req.Topics {
		rt := kmsg.NewElectLeadersResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewElectLeadersResponseTopicPartition()
			rp.Partition = p
			if h.partitionExists(t.Topic, p) {
				rp.ErrorCode, rp.ErrorMessage = errElectionNotNeeded, strp("the partition's leader is its broker group's master")
			} else {
				rp.ErrorCode = errUnknownTopicOrPartition
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	r.reply(resp)
}
