package kafkaapi

import "github.com/twmb/franz-go/pkg/kmsg"

// offsetForLeaderEpoch answers key 23 (KIP-320): the end offset of the
// largest leader epoch not above the one asked for (epochs.go). A client's
// current epoch above ours is UNKNOWN_LEADER_EPOCH, below it
// FENCED_LEADER_EPOCH.
func (h *Handler) offsetForLeaderEpoch(r *request, req *kmsg.OffsetForLeaderEpochRequest) {
	resp := req.ResponseKind().(*kmsg.OffsetForLeaderEpochResponse)
	for _, t := range req.Topics {
		rt := kmsg.NewOffsetForLeaderEpochResponseTopic()
		rt.Topic = t.Topic
		cfg, code := h.readTopic(t.Topic, [16]byte{}, false)
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
			rp.Partition, rp.LeaderEpoch, rp.EndOffset = p.Partition, -1, -1
			c := code
			if c == errNone {
				p.Partition, c = h.localQueue(cfg, p.Partition) // this broker's queue
			}
			if c == errNone {
				c = h.checkLeaderEpoch(p.CurrentLeaderEpoch)
			}
			if c == errNone {
				rp.LeaderEpoch, rp.EndOffset, c = h.epochEnd(cfg.Name, p.Partition, p.LeaderEpoch)
			}
			rp.ErrorCode = c
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	r.reply(resp)
}
