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
//
// With add (Produce v12+, KIP-890 part 2) the broker first adds the
// partition to the transaction itself, as the client sent no
// AddPartitionsToTxn; the epoch bumped at every EndTxn makes a late
// batch of an ended transaction fail there rather than open a new one.
// The add takes the coordinator's entry lock, so it happens before the
// partition's lock (the lock order of broker/txn.Coordinator); an EndTxn
// in between is seen by the check under the partition lock.
func (h *Handler) appendTransactional(ctx context.Context, cfg topics.Config, e log.Message, hdr *kafka.BatchHeader, acks int16, txnID *string, add bool) appendResult {
	if txnID == nil || !hdr.IsTransactional() || hdr.ProducerID < 0 {
		return appendResult{code: errInvalidRecord, baseOffset: -1}
	}
	k := log.PartKey{TopicID: cfg.ID, Queue: e.QueueID}
	if err := h.txns.Load(k, cfg.Name); err != nil {
		return appendResult{code: codeOf(err), baseOffset: -1}
	}
	if add {
		err := h.cfg.Transactions.AddPartitions(ctx, *txnID, hdr.ProducerID, hdr.ProducerEpoch,
			[]txn.Partition{{Topic: cfg.Name, Partition: e.QueueID}}, true)
		if code := implicitAddCode(err); code != errNone {
			return appendResult{code: code, baseOffset: -1}
		}
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

// implicitAddCode is what a Produce v12+ gets when adding its partition
// to the transaction failed: a fenced epoch INVALID_PRODUCER_EPOCH (the
// code a produce of a fenced producer gets), a transaction completing or
// a coordinator write that failed NOT_ENOUGH_REPLICAS, which producers
// retry (Kafka's partition leader answers these the same way), anything
// else INVALID_TXN_STATE.
func implicitAddCode(err error) int16 {
	switch {
	case err == nil:
		return errNone
	case errors.Is(err, txn.ErrFenced):
		return errInvalidProducerEpoch
	case errors.Is(err, txn.ErrInvalidMapping):
		return errInvalidProducerIDMapping
	case errors.Is(err, txn.ErrInvalidState):
		return errInvalidTxnState
	}
	return errNotEnoughReplicas
}
