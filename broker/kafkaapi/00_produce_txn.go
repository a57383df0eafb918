package kafkaapi

import (
	"context"
	"errors"

	"github.com/twinmq/twinmq/broker/log"
	"github.com/twinmq/twinmq/broker/topics"
	"github.com/twinmq/twinmq/broker/txn"
	"github.com/twinmq/twinmq/wire/kafka"
)

// appendTransactional appends a transactional producer's batch. The batch
// must be transactional and come with the producer's transactional id,
// and the transaction must hold the partition (KIP-890 part 1: the
// broker verifies that AddPartitionsToTxn came first, so that a late
// batch of a finished transaction cannot reopen it without a marker
// ever closing it). The transaction index learns of the batch from the
// append itself, before the batch can be read: a read_committed reader
// never passes it until its marker.
func (h *Handler) appendTransactional(ctx context.Context, cfg topics.Config, e log.Message, hdr *kafka.BatchHeader, acks int16, txnID *string) appendResult {
	if txnID == nil || !hdr.IsTransactional() || hdr.ProducerID < 0 {
		return appendResult{code: errInvalidRecord, baseOffset: -1}
	}
	k := log.PartKey{TopicID: cfg.ID, Queue: e.QueueID}
	if err := h.txns.Load(k, cfg.Name); err != nil {
		return appendResult{code: codeOf(err), baseOffset: -1}
	}
	encode, pid := e.Encode, hdr.ProducerID
	e.Encode = func(payload []byte, phys, queueOffset, storeTime int64) {
		encode(payload, phys, queueOffset, storeTime)
		h.txns.Begin(k, pid, queueOffset)
	}
	res := h.appendIdempotent(cfg, e.QueueID, hdr, func() appendResult {
		// Under the partition's lock, which the markers take too
		// (broker/txn.Coordinator.Verify).
		err := h.cfg.Transactions.Verify(*txnID, hdr.ProducerID, hdr.ProducerEpoch, []txn.Partition{{Topic: cfg.Name, Partition: e.QueueID}})
		switch {
		case errors.Is(err, txn.ErrFenced):
			return appendResult{code: errInvalidProducerEpoch, baseOffset: -1}
		case err != nil:
			return appendResult{code: errInvalidTxnState, baseOffset: -1}
		}
		return h.appendPlain(ctx, e)
	})
	if res.code != errNone || acks == 0 {
		return res
	}
	if err := h.waitVisible(ctx, cfg.Name, e.QueueID, res.baseOffset+int64(hdr.NumRecords)-1); err != nil {
		res.code = errRequestTimedOut
	}
	return res
}
