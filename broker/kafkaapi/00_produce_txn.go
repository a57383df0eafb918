package kafkaapi

import (
	"context"
	"errors"
	"net"
	"strconv"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/broker/cluster"
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
	encode, pid := e.Encode, hdr.ProducerID
	e.Encode = func(payload []byte, phys, queueOffset, storeTime int64) {
		encode(payload, phys, queueOffset, storeTime)
		h.txns.Begin(k, pid, queueOffset)
	}
	var check func() int16 // under the partition's lock
	if node, self, code := h.coordinatorOf(*txnID); self {
		check = h.localTxnCheck(ctx, cfg, e.QueueID, hdr, *txnID, add)
	} else {
		check = h.remoteTxnCheck(ctx, cfg, k, hdr, *txnID, add, node, code)
	}
	res := h.appendIdempotent(cfg, e.QueueID, hdr, func() appendResult {
		if code := check(); code != errNone {
			return appendResult{code: code, baseOffset: -1}
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

// localTxnCheck adds the batch's partition to the transaction coordinated
// here (add) and returns the check to run under the partition's lock,
// which the markers take too (broker/txn.Coordinator.Verify): a batch
// checked there is appended before its partition's marker. A failed add
// is the check's answer.
func (h *Handler) localTxnCheck(ctx context.Context, cfg topics.Config, queue int32, hdr *kafka.BatchHeader, txnID string, add bool) func() int16 {
	part := []txn.Partition{{Topic: cfg.Name, Partition: queue}}
	if add {
		err := h.cfg.Transactions.AddPartitions(ctx, txnID, hdr.ProducerID, hdr.ProducerEpoch, part, true)
		if code := implicitAddCode(err); code != errNone {
			return func() int16 { return code }
		}
	}
	return func() int16 {
		err := h.cfg.Transactions.Verify(txnID, hdr.ProducerID, hdr.ProducerEpoch, part)
		switch {
		case errors.Is(err, txn.ErrFenced):
			return errInvalidProducerEpoch
		case err != nil:
			return errInvalidTxnState
		}
		return errNone
	}
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

// remoteTxnCheck is localTxnCheck for a transaction coordinated by
// another broker group's master (node; code says it has none): it asks
// the coordinator (AddPartitionsToTxn v5, verify-only, or add for Produce
// v12+: KIP-890) whether the batch's partition is in the transaction,
// unless the producer already has a transaction open on the partition
// (asked at its first batch; a marker would have closed it). The answer
// holds only if no marker reached the partition between it and the
// append (the transaction ended meanwhile): otherwise the check fails
// retriably and the producer's retry asks again.
func (h *Handler) remoteTxnCheck(ctx context.Context, cfg topics.Config, k log.PartKey, hdr *kafka.BatchHeader, txnID string,
	add bool, node cluster.Node, code int16) func() int16 {
	fixed := func(code int16) func() int16 { return func() int16 { return code } }
	gen := h.markerGen(k)
	before := gen.Load()
	open, err := h.txns.Open(k, cfg.Name)
	switch {
	case err != nil:
		return fixed(codeOf(err))
	case hasKey(open, hdr.ProducerID):
	case code != errNone:
		return fixed(errNotEnoughReplicas) // the coordinator's group has no master now
	default:
		if code := h.askCoordinator(ctx, node, cfg.Name, h.partitionOfQueue(cfg.Name, k.Queue), hdr, txnID, add); code != errNone {
			return fixed(code)
		}
	}
	return func() int16 {
		if gen.Load() != before {
			return errNotEnoughReplicas
		}
		return errNone
	}
}

func hasKey(m map[int64]int64, k int64) bool {
	_, ok := m[k]
	return ok
}

// askCoordinator sends the coordinator at node AddPartitionsToTxn v5 for
// partition of topic and maps its answer to the produce's code: fenced
// INVALID_PRODUCER_EPOCH, not in the transaction INVALID_TXN_STATE, the
// coordinator busy or unreachable NOT_ENOUGH_REPLICAS (retried).
func (h *Handler) askCoordinator(ctx context.Context, node cluster.Node, topic string, partition int32, hdr *kafka.BatchHeader, txnID string, add bool) int16 {
	req := kmsg.NewPtrAddPartitionsToTxnRequest()
	req.Version = peerAddPartitionsToTxnVersion
	tx := kmsg.NewAddPartitionsToTxnRequestTransaction()
	tx.TransactionalID, tx.ProducerID, tx.ProducerEpoch, tx.VerifyOnly = txnID, hdr.ProducerID, hdr.ProducerEpoch, !add
	t := kmsg.NewAddPartitionsToTxnRequestTransactionTopic()
	t.Topic, t.Partitions = topic, []int32{partition}
	tx.Topics = append(tx.Topics, t)
	req.Transactions = append(req.Transactions, tx)
	addr := net.JoinHostPort(node.Host, strconv.Itoa(int(node.Port)))
	resp, err := h.peerRequest(ctx, addr, req)
	if err != nil {
		h.log.Warn("kafkaapi: asking a transaction coordinator", "transactionalId", txnID, "coordinator", addr, "err", err)
		return errNotEnoughReplicas
	}
	r := resp.(*kmsg.AddPartitionsToTxnResponse)
	code := r.ErrorCode
	if code == errNone {
		if len(r.Transactions) != 1 || len(r.Transactions[0].Topics) != 1 || len(r.Transactions[0].Topics[0].Partitions) != 1 {
			return errNotEnoughReplicas
		}
		code = r.Transactions[0].Topics[0].Partitions[0].ErrorCode
	}
	switch code {
	case errNone:
		return errNone
	case errProducerFenced, errInvalidProducerEpoch:
		return errInvalidProducerEpoch
	case errInvalidTxnState, errTransactionAbortable, errInvalidProducerIDMapping, errUnknownTopicOrPartition:
		return errInvalidTxnState
	}
	return errNotEnoughReplicas
}

// markerGen counts the markers written to partition k (writeMarker), so
// that a check made before taking the partition's lock can tell whether a
// marker came in between.
func (h *Handler) markerGen(k log.PartKey) *atomic.Uint64 {
	if g, ok := h.markerGens.Load(k); ok {
		return g.(*atomic.Uint64)
	}
	g, _ := h.markerGens.LoadOrStore(k, new(atomic.Uint64))
	return g.(*atomic.Uint64)
}
