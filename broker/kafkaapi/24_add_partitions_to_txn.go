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

// addTxnPartitions adds (or verifies) one transaction's partitions. In a
// cluster of several broker groups a partition may be another group's
// (its master gets the markers, txn_peer.go).
func (h *Handler) addTxnPartitions(ctx context.Context, version int16, tx kmsg.AddPartitionsToTxnRequestTransaction) kmsg.AddPartitionsToTxnResponseTransaction {
	var parts []txn.Partition
	codes := map[int32]int16{} // by index in parts: unknown partitions, verification results
	for _, t := range tx.Topics {
		cfg, tcode := h.lookupTopic(t.Topic, [16]byte{}, false)
		for _, p := range t.Partitions {
			tp, code := txn.Partition{Topic: t.Topic, Partition: p}, tcode
			if code == errNone {
				tp, code = h.txnPartition(cfg, p)
			}
			if code != errNone {
				codes[int32(len(parts))] = errUnknownTopicOrPartition
			}
			parts = append(parts, tp)
		}
	}
	unknown := len(codes) > 0
	code := errNone
	switch {
	case unknown:
		// The whole request fails, nothing added (Kafka's answer).
		for i := range parts {
			if _, ok := codes[int32(i)]; !ok {
				codes[int32(i)] = errOperationNotAttempted
			}
		}
	case tx.VerifyOnly:
		// Each partition on its own (Kafka answers per partition): in the
		// transaction or not, TRANSACTION_ABORTABLE from v5 (KIP-890).
		for i, p := range parts {
			err := h.cfg.Transactions.Verify(tx.TransactionalID, tx.ProducerID, tx.ProducerEpoch, []txn.Partition{p})
			c := txnCode(err, errProducerFenced)
			if c == errInvalidTxnState && version >= 5 {
				c = errTransactionAbortable
			}
			codes[int32(i)] = c
		}
	default:
		// v4+ without VerifyOnly comes from a partition leader adding a
		// Produce v12+ batch's partition (KIP-890 part 2).
		code = txnCode(h.cfg.Transactions.AddPartitions(ctx, tx.TransactionalID, tx.ProducerID, tx.ProducerEpoch, parts,
			version >= 4), fencedSince(version, 2))
	}
	res := kmsg.NewAddPartitionsToTxnResponseTransaction()
	res.TransactionalID = tx.TransactionalID
	i := int32(0)
	for _, t := range tx.Topics {
		rt := kmsg.NewAddPartitionsToTxnResponseTransactionTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewAddPartitionsToTxnResponseTransactionTopicPartition()
			rp.Partition, rp.ErrorCode = p, code
			if c, ok := codes[i]; ok {
				rp.ErrorCode = c
			}
			i++
			rt.Partitions = append(rt.Partitions, rp)
		}
		res.Topics = append(res.Topics, rt)
	}
	return res
}
