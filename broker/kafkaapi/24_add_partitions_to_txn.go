package kafkaapi

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/broker/txn"
)

// addPartitionsToTxn answers key 24. v0-v3 come from a producer and add
// partitions to its transaction; v4+ carry several transactions, each
// either added or, with VerifyOnly, checked (KIP-890 part 1: a partition
// leader asks whether a transactional batch's partition was added; this
// broker makes that check itself on Produce, and answers it for others).
// A topic or partition that does not exist fails the whole transaction's
// request: UNKNOWN_TOPIC_OR_PARTITION for it, OPERATION_NOT_ATTEMPTED for
// the others, nothing added (Kafka's answer).
func (h *Handler) addPartitionsToTxn(r *request, req *kmsg.AddPartitionsToTxnRequest) {
	resp := req.ResponseKind().(*kmsg.AddPartitionsToTxnResponse)
	ctx, cancel := requestContext(0)
	defer cancel()
	if req.Version <= 3 {
		tx := kmsg.NewAddPartitionsToTxnRequestTransaction()
		tx.TransactionalID, tx.ProducerID, tx.ProducerEpoch = req.TransactionalID, req.ProducerID, req.ProducerEpoch
		for _, t := range req.Topics {
			tt := kmsg.NewAddPartitionsToTxnRequestTransactionTopic()
			tt.Topic, tt.Partitions = t.Topic, t.Partitions
			tx.Topics = append(tx.Topics, tt)
		}
		res := h.addTxnPartitions(ctx, req.Version, tx)
		for _, t := range res.Topics {
			rt := kmsg.NewAddPartitionsToTxnResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewAddPartitionsToTxnResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p.Partition, p.ErrorCode
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		r.reply(resp)
		return
	}
	for _, tx := range req.Transactions {
		resp.Transactions = append(resp.Transactions, h.addTxnPartitions(ctx, req.Version, tx))
	}
	r.reply(resp)
}

// addTxnPartitions adds (or verifies) one transaction's partitions.
func (h *Handler) addTxnPartitions(ctx context.Context, version int16, tx kmsg.AddPartitionsToTxnRequestTransaction) kmsg.AddPartitionsToTxnResponseTransaction {
	var parts []txn.Partition
	unknown := map[txn.Partition]bool{}
	for _, t := range tx.Topics {
		cfg, ok := h.reg.Get(t.Topic)
		for _, p := range t.Partitions {
			// The transaction keeps this broker's queues. In a cluster of
			// several broker groups, a partition of another group cannot
			// be in a transaction coordinated here (docs/transactions-kafka.md).
			q, code := h.localQueue(cfg, p)
			if !ok || code != errNone {
				unknown[txn.Partition{Topic: t.Topic, Partition: p}] = true
			}
			parts = append(parts, txn.Partition{Topic: t.Topic, Partition: q})
		}
	}
	code := errNone
	switch {
	case len(unknown) > 0:
	case tx.VerifyOnly:
		code = txnCode(h.cfg.Transactions.Verify(tx.TransactionalID, tx.ProducerID, tx.ProducerEpoch, parts), errInvalidProducerEpoch)
	default:
		// v4+ without VerifyOnly comes from a partition leader adding a
		// Produce v12+ batch's partition (KIP-890 part 2).
		code = txnCode(h.cfg.Transactions.AddPartitions(ctx, tx.TransactionalID, tx.ProducerID, tx.ProducerEpoch, parts,
			version >= 4), fencedSince(version, 2))
	}
	res := kmsg.NewAddPartitionsToTxnResponseTransaction()
	res.TransactionalID = tx.TransactionalID
	for _, t := range tx.Topics {
		rt := kmsg.NewAddPartitionsToTxnResponseTransactionTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewAddPartitionsToTxnResponseTransactionTopicPartition()
			rp.Partition, rp.ErrorCode = p, code
			if len(unknown) > 0 {
				rp.ErrorCode = errOperationNotAttempted
				if unknown[txn.Partition{Topic: t.Topic, Partition: p}] {
					rp.ErrorCode = errUnknownTopicOrPartition
				}
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		res.Topics = append(res.Topics, rt)
	}
	return res
}
