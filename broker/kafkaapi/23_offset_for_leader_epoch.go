package kafkaapi

import "github.com/twmb/franz-go/pkg/kmsg"

// offsetForLeaderEpoch answers key 23 (KIP-320). Every partition has had
// one leader epoch, 0, since its creation: the end offset of epoch 0 is the
// log end; a later epoch is unknown (-1/-1, as Kafka answers a future
// epoch); a client's current epoch above ours is UNKNOWN_LEADER_EPOCH.
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
			switch {
			case c != errNone:
			case p.CurrentLeaderEpoch > leaderEpoch:
				c = errUnknownLeaderEpoch
			case p.LeaderEpoch == leaderEpoch:
				_, hwm, err := h.queueRange(cfg.Name, p.Partition)
				c, rp.LeaderEpoch, rp.EndOffset = codeOf(err), leaderEpoch, hwm
			}
			rp.ErrorCode = c
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	r.reply(resp)
}
