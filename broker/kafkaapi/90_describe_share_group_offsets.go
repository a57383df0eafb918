package kafkaapi

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/broker/pop"
)

// describeShareGroupOffsets answers key 90: each partition's share-partition
// start offset (SPSO: every record below it is done for the group), and
// (v1) the lag: records from it to the end not yet done. Without topics,
// every partition the group has state for. A partition the group never
// consumed has StartOffset -1.
func (h *Handler) describeShareGroupOffsets(r *request, req *kmsg.DescribeShareGroupOffsetsRequest) {
	resp := req.ResponseKind().(*kmsg.DescribeShareGroupOffsetsResponse)
	for _, g := range req.Groups {
		rg := kmsg.NewDescribeShareGroupOffsetsResponseGroup()
		rg.GroupID = g.GroupID
		if code := h.notCoordinator(g.GroupID); code != errNone {
			rg.ErrorCode = code
			resp.Groups = append(resp.Groups, rg)
			continue
		}
		want := g.Topics
		if want == nil {
			byTopic := map[string][]int32{}
			var order []string
			for _, k := range h.cfg.Pop.Keys(g.GroupID) {
				if _, ok := byTopic[k.Topic]; !ok {
					order = append(order, k.Topic)
				}
				byTopic[k.Topic] = append(byTopic[k.Topic], k.Queue)
			}
			for _, t := range order {
				want = append(want, kmsg.DescribeShareGroupOffsetsRequestGroupTopic{Topic: t, Partitions: byTopic[t]})
			}
		}
		for _, t := range want {
			rt := kmsg.NewDescribeShareGroupOffsetsResponseGroupTopic()
			rt.Topic = t.Topic
			c, ok := h.shareTopic(t.Topic)
			rt.TopicID = c.ID
			for _, p := range t.Partitions {
				rp := kmsg.NewDescribeShareGroupOffsetsResponseGroupTopicPartition()
				rp.Partition, rp.StartOffset, rp.LeaderEpoch = p, -1, h.leaderEpoch()
				if !ok || p < 0 || p >= c.Queues {
					rp.ErrorCode = errUnknownTopicOrPartition
					rt.Partitions = append(rt.Partitions, rp)
					continue
				}
				if st, ok := h.cfg.Pop.Status(pop.Key{Group: g.GroupID, Topic: t.Topic, Queue: p}); ok {
					rp.StartOffset = st.Acked
					if _, end, err := h.queueRange(t.Topic, p); err == nil {
						// In flight below Next are not done; past Next none is.
						rp.Lag = max(end-st.Next, 0) + int64(st.InFlight)
					}
				}
				rt.Partitions = append(rt.Partitions, rp)
			}
			rg.Topics = append(rg.Topics, rt)
		}
		resp.Groups = append(resp.Groups, rg)
	}
	r.reply(resp)
}
