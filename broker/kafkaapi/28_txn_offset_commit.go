package kafkaapi

import (
	"context"
	"net"
	"strconv"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/broker/cluster"
	"github.com/twinmq/twinmq/broker/groups"
	"github.com/twinmq/twinmq/broker/txn"
)

// txnOffsetCommit answers key 28: consumer offsets that the transaction
// commits. They are kept with the transaction (durably, in its
// coordinator record) and written to the group's offsets only when it
// commits; an abort drops them. Until then an OffsetFetch that requires
// stable offsets gets UNSTABLE_OFFSET_COMMIT for them (KIP-447). The
// group must have been added with AddOffsetsToTxn: otherwise
// INVALID_TXN_STATE, and nothing is recorded. v3+ carry the consumer's
// group generation and member (KIP-447): a member the group no longer
// knows, or an old generation, gets the group's error (ILLEGAL_GENERATION,
// UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID), so a consumer fenced by a
// rebalance cannot commit the offsets of partitions it lost. v5+ is
// KIP-890 part 2: the request adds its group to the transaction itself
// (and opens the transaction if none is), no AddOffsetsToTxn first.
//
// In a cluster of several broker groups the request comes to the group's
// coordinator, which validates the member and, when another group's
// master coordinates the transaction, forwards the offsets there
// (forwardTxnOffsets); a partition of any group may be committed: its
// offset is written, at commit, where its queue's offsets are kept.
func (h *Handler) txnOffsetCommit(r *request, req *kmsg.TxnOffsetCommitRequest) {
	resp := req.ResponseKind().(*kmsg.TxnOffsetCommitResponse)
	codes := make([][]int16, len(req.Topics))
	var offs []txn.Offset
	for ti, t := range req.Topics {
		cfg, tcode := h.readTopic(t.Topic, t.TopicID, false)
		codes[ti] = make([]int16, len(t.Partitions))
		for pi, p := range t.Partitions {
			tp, qcode := txn.Partition{}, tcode
			if qcode == errNone {
				tp, qcode = h.txnPartition(cfg, p.Partition)
			}
			switch {
			case qcode != errNone:
				codes[ti][pi] = qcode
			case p.Metadata != nil && len(*p.Metadata) > maxOffsetMetadata:
				codes[ti][pi] = errOffsetMetadataTooLarge
			default:
				epoch := p.LeaderEpoch
				if req.Version < 2 {
					epoch = -1
				}
				offs = append(offs, txn.Offset{Topic: cfg.Name, Partition: tp.Partition, Owner: tp.Group, Offset: p.Offset,
					LeaderEpoch: epoch, Metadata: optStr(p.Metadata)})
				codes[ti][pi] = -2 // filled below
			}
		}
	}
	code := errNone
	ctx, cancel := requestContext(0)
	defer cancel()
	switch {
	case req.Group == "":
		code = errInvalidGroupID
	case len(offs) > 0:
		if code = h.checkTxnMember(ctx, req); code != errNone {
			break
		}
		if node, self, ccode := h.coordinatorOf(req.TransactionalID); !self {
			code = h.forwardTxnOffsets(ctx, req, node, ccode)
			break
		}
		err := h.cfg.Transactions.CommitOffsets(ctx, req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Group, offs,
			req.Version >= 5)
		code = txnCode(err, fencedSince(req.Version, 3))
	}
	for ti, t := range req.Topics {
		rt := kmsg.NewTxnOffsetCommitResponseTopic()
		rt.Topic, rt.TopicID = t.Topic, t.TopicID
		for pi, p := range t.Partitions {
			rp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
			rp.Partition, rp.ErrorCode = p.Partition, codes[ti][pi]
			if rp.ErrorCode == -2 {
				rp.ErrorCode = code
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	r.reply(resp)
}

// forwardTxnOffsets sends a validated TxnOffsetCommit to the transaction's
// coordinator, another group's master (node; ccode says it has none now),
// without the member (checked here, where the group is coordinated), and
// returns its answer's code: one for the whole request, as the
// coordinator answers every partition alike. An unreachable coordinator
// is COORDINATOR_NOT_AVAILABLE, which clients retry.
func (h *Handler) forwardTxnOffsets(ctx context.Context, req *kmsg.TxnOffsetCommitRequest, node cluster.Node, ccode int16) int16 {
	if ccode != errNone {
		return errCoordinatorNotAvailable
	}
	fwd := *req
	fwd.Version = min(req.Version, 5)
	fwd.Generation, fwd.MemberID, fwd.InstanceID = -1, "", nil
	addr := net.JoinHostPort(node.Host, strconv.Itoa(int(node.Port)))
	resp, err := h.peerRequest(ctx, addr, &fwd)
	if err != nil {
		h.log.Warn("kafkaapi: forwarding TxnOffsetCommit to the transaction coordinator", "transactionalId", req.TransactionalID,
			"coordinator", addr, "err", err)
		return errCoordinatorNotAvailable
	}
	for _, t := range resp.(*kmsg.TxnOffsetCommitResponse).Topics {
		for _, p := range t.Partitions {
			if p.ErrorCode != errNone {
				return p.ErrorCode
			}
		}
	}
	return errNone
}

// checkTxnMember validates a v3+ TxnOffsetCommit's member against its
// group as an OffsetCommit would be validated, writing nothing (no
// commits). Without a member and generation (a producer outside group
// management) there is nothing to check.
func (h *Handler) checkTxnMember(ctx context.Context, req *kmsg.TxnOffsetCommitRequest) int16 {
	if req.Version < 3 || h.cfg.Groups == nil || (req.Generation < 0 && req.MemberID == "" && req.InstanceID == nil) {
		return errNone
	}
	_, err := h.cfg.Groups.CommitOffsets(ctx, req.Group, groups.CommitMember{ID: req.MemberID,
		InstanceID: optStr(req.InstanceID), Generation: req.Generation}, nil)
	return groupCode(err)
}
