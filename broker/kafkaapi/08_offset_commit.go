package kafkaapi

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/broker/groups"
)

// offsetCommit answers key 8. v0 has no generation (a simple consumer's
// commit); v1+ carry generation and member, and generation -1 with no
// member is a commit from outside group management. v6+ carry the leader
// epoch (KIP-320), v7+ group.instance.id, v9 a KIP-848 member's epoch in
// the generation field (a KIP-848 member committing with v8 or older gets
// UNSUPPORTED_VERSION, as from Kafka), v10 topic ids. Unknown topics
// and partitions get UNKNOWN_TOPIC_OR_PARTITION (v10: UNKNOWN_TOPIC_ID)
// and the rest of the request still commits.
func (h *Handler) offsetCommit(r *request, req *kmsg.OffsetCommitRequest) {
	resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
	gen, member := req.Generation, req.MemberID
	if req.Version == 0 {
		gen, member = -1, ""
	}
	codes := make([][]int16, len(req.Topics))
	var commits []groups.Commit
	var where [][2]int // commits[i] is req.Topics[where[i][0]].Partitions[where[i][1]]
	for ti, t := range req.Topics {
		cfg, tcode := h.readTopic(t.Topic, t.TopicID, req.Version >= 10)
		codes[ti] = make([]int16, len(t.Partitions))
		for pi, p := range t.Partitions {
			q, qcode := int32(0), tcode
			if qcode == errNone {
				q, qcode = h.commitQueue(cfg, p.Partition)
			}
			switch {
			case qcode != errNone && qcode != errNotLeaderOrFollower:
				codes[ti][pi] = qcode
			case p.Metadata != nil && len(*p.Metadata) > maxOffsetMetadata:
				codes[ti][pi] = errOffsetMetadataTooLarge
			default:
				epoch := p.LeaderEpoch
				if req.Version < 6 {
					epoch = -1
				}
				cm := groups.Commit{Topic: cfg.Name, Partition: q,
					Offset: p.Offset, LeaderEpoch: epoch, Metadata: optStr(p.Metadata)}
				if qcode == errNotLeaderOrFollower { // another group's queue: its master keeps the offset
					cm.Forward = h.forwardCommit(req.Group, cfg, p.Partition)
				}
				commits = append(commits, cm)
				where = append(where, [2]int{ti, pi})
			}
		}
	}
	if len(commits) > 0 {
		ctx, cancel := groupContext()
		errs, err := h.cfg.Groups.CommitOffsets(ctx, req.Group, groups.CommitMember{ID: member,
			InstanceID: optStr(req.InstanceID), Generation: gen, Classic: req.Version < 9}, commits)
		cancel()
		for i, w := range where {
			e := err
			if e == nil {
				e = errs[i]
			}
			codes[w[0]][w[1]] = groupCode(e)
		}
	}
	for ti, t := range req.Topics {
		rt := kmsg.NewOffsetCommitResponseTopic()
		rt.Topic, rt.TopicID = t.Topic, t.TopicID
		for pi, p := range t.Partitions {
			rp := kmsg.NewOffsetCommitResponseTopicPartition()
			rp.Partition, rp.ErrorCode = p.Partition, codes[ti][pi]
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	r.reply(resp)
}
