package kafkaapi

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

// offsetFetch answers key 9. v0-v7 ask for one group, v8+ for several
// (KIP-709), v9+ with the KIP-848 member id and epoch; no topics (v2+) means every committed offset of the group;
// v10 names topics by id. RequireStable (v7+, KIP-447) asks to wait for
// pending transactional commits: this broker has none, so every offset is
// stable. A partition without a commit gets offset -1.
func (h *Handler) offsetFetch(r *request, req *kmsg.OffsetFetchRequest) {
	resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
	if req.Version < 8 {
		var topics []kmsg.OffsetFetchRequestGroupTopic
		for _, t := range req.Topics {
			gt := kmsg.NewOffsetFetchRequestGroupTopic()
			gt.Topic, gt.Partitions = t.Topic, t.Partitions
			topics = append(topics, gt)
		}
		g := h.fetchGroupOffsets(req.Group, topics, req.Topics == nil, false, req.RequireStable)
		resp.ErrorCode = g.ErrorCode
		for _, t := range g.Topics {
			rt := kmsg.NewOffsetFetchResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewOffsetFetchResponseTopicPartition()
				rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata, rp.ErrorCode = p.Partition, p.Offset, p.LeaderEpoch, p.Metadata, p.ErrorCode
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		r.reply(resp)
		return
	}
	for _, rg := range req.Groups {
		// v9+ (KIP-848): a consumer group's member fetches with its id
		// and epoch, checked as Kafka does (UNKNOWN_MEMBER_ID,
		// STALE_MEMBER_EPOCH); an admin sends neither.
		if req.Version >= 9 && rg.Group != "" {
			if err := h.cfg.Groups.ValidateFetch(rg.Group, optStr(rg.MemberID), rg.MemberEpoch); err != nil {
				g := kmsg.NewOffsetFetchResponseGroup()
				g.Group, g.ErrorCode = rg.Group, groupCode(err)
				resp.Groups = append(resp.Groups, g)
				continue
			}
		}
		resp.Groups = append(resp.Groups, h.fetchGroupOffsets(rg.Group, rg.Topics, rg.Topics == nil, req.Version >= 10, req.RequireStable))
	}
	r.reply(resp)
}

// fetchGroupOffsets answers one group's part of an OffsetFetch.
func (h *Handler) fetchGroupOffsets(group string, topics []kmsg.OffsetFetchRequestGroupTopic, all, byID, requireStable bool) kmsg.OffsetFetchResponseGroup {
	g := kmsg.NewOffsetFetchResponseGroup()
	g.Group = group
	if group == "" {
		g.ErrorCode = errInvalidGroupID
		return g
	}
	if all {
		topics = nil
		idx := map[string]int{}
		for _, e := range h.cfg.Groups.CommittedOffsets(group) {
			i, ok := idx[e.Topic]
			if !ok {
				i = len(topics)
				idx[e.Topic] = i
				t := kmsg.NewOffsetFetchRequestGroupTopic()
				t.Topic = e.Topic
				if cfg, ok := h.groupTopic(e.Topic); ok {
					t.TopicID = cfg.ID
				}
				topics = append(topics, t)
			}
			topics[i].Partitions = append(topics[i].Partitions, h.partitionOfQueue(e.Topic, e.Queue))
		}
		// In a cluster of several broker groups, the other groups'
		// partitions of those topics: their masters keep the offsets.
		for i := range topics {
			topics[i].Partitions = h.withRemotePartitions(topics[i].Topic, topics[i].Partitions)
		}
	}
	for _, t := range topics {
		rt := kmsg.NewOffsetFetchResponseGroupTopic()
		rt.Topic, rt.TopicID = t.Topic, t.TopicID
		name, code := t.Topic, errNone
		if byID {
			cfg, c := h.readTopic("", t.TopicID, true)
			name, code = cfg.Name, c
		}
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
			rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata, rp.ErrorCode = p, -1, -1, strp(""), code
			if code == errNone {
				h.fetchOffset(group, name, p, &rp)
			}
			if all && rp.Offset < 0 && rp.ErrorCode == errNone {
				continue // listing what the group committed: another group's partition it has none for
			}
			if requireStable && code == errNone && h.transactional() && h.cfg.Transactions.Pending(group, name, p) {
				// An open transaction commits this offset (KIP-447): the
				// consumer retries rather than start from the old one.
				rp.Offset, rp.ErrorCode = -1, errUnstableOffsetCommit
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		g.Topics = append(g.Topics, rt)
	}
	return g
}
