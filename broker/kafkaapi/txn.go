package kafkaapi

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/broker/groups"
	"github.com/twinmq/twinmq/broker/log"
	"github.com/twinmq/twinmq/broker/topics"
	"github.com/twinmq/twinmq/broker/txn"
	"github.com/twinmq/twinmq/wire/kafka"
)

// Transactions (KIP-98) in the Kafka adapter: the coordinator's state
// machine is broker/txn, the read side's index broker/log.Txns; this file
// is what they need of Kafka: the COMMIT/ABORT control batches, reading
// them back, and the error codes. The keys live in 24_add_partitions_to_txn.go,
// 25_add_offsets_to_txn.go, 26_end_txn.go, 28_txn_offset_commit.go and
// 22_init_producer_id.go.

// Transaction error codes (org.apache.kafka.common.protocol.Errors).
const (
	errClusterAuthorization      int16 = 31
	errInvalidTxnState           int16 = 48
	errInvalidProducerIDMapping  int16 = 49
	errInvalidTransactionTimeout int16 = 50
	errConcurrentTransactions    int16 = 51
	errOperationNotAttempted     int16 = 55
	errUnstableOffsetCommit      int16 = 88
	errProducerFenced            int16 = 90
	errTransactionalIDNotFound   int16 = 105
	errTransactionAbortable      int16 = 120
)

// transactionVersion is the level of Kafka's transaction.version feature
// this broker finalizes (KIP-584 features in ApiVersions v3+): 2 is
// KIP-890 part 2, which clients use only when it is finalized.
const transactionVersion = 2

// Batch attributes of a control batch: transactional and control
// (KIP-98's record batch attributes, bits 4 and 5).
const controlBatchAttrs = 0x10 | 0x20

// Control record types: the key's second int16.
const (
	controlAbort  = 0
	controlCommit = 1
)

// txnCode maps a coordinator error to a code. fencedCode is what the
// request's version says a fenced producer gets: PRODUCER_FENCED since
// KIP-588, INVALID_PRODUCER_EPOCH before.
func txnCode(err error, fencedCode int16) int16 {
	switch {
	case err == nil:
		return errNone
	case errors.Is(err, txn.ErrFenced):
		return fencedCode
	case errors.Is(err, txn.ErrInvalidMapping):
		return errInvalidProducerIDMapping
	case errors.Is(err, txn.ErrInvalidState):
		return errInvalidTxnState
	case errors.Is(err, txn.ErrConcurrent):
		return errConcurrentTransactions
	case errors.Is(err, txn.ErrInvalidTimeout):
		return errInvalidTransactionTimeout
	case errors.Is(err, txn.ErrNotFound):
		return errTransactionalIDNotFound
	}
	// The coordinator could not write its state or a marker: retriable.
	return errCoordinatorNotAvailable
}

// fencedSince returns PRODUCER_FENCED from version min on, else
// INVALID_PRODUCER_EPOCH.
func fencedSince(version, min int16) int16 {
	if version >= min {
		return errProducerFenced
	}
	return errInvalidProducerEpoch
}

// controlBatch is a COMMIT or ABORT marker of producer pid at epoch: one
// control record whose key is (version 0, type) and value (version 0,
// coordinator epoch 0).
func controlBatch(pid int64, epoch int16, commit bool, nowMs int64) []byte {
	typ := int16(controlAbort)
	if commit {
		typ = controlCommit
	}
	key := binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(nil, 0), uint16(typ))
	value := binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint16(nil, 0), 0)
	b, _ := kafka.AppendBatch(nil, kafka.BatchSpec{Attributes: controlBatchAttrs, FirstTimestamp: nowMs,
		ProducerID: pid, ProducerEpoch: epoch, BaseSequence: -1}, []kafka.Record{{Key: key, Value: value}}, kafka.CodecNone)
	return b
}

// LoadTxnBatch reads a stored entry for the transaction index
// (broker/log.Txns, rebuilt after a start): a transactional Kafka batch,
// or a marker and its type.
func LoadTxnBatch(e *log.Entry) (log.TxnBatch, bool) {
	if e.Kind != log.KindKafka {
		return log.TxnBatch{}, false
	}
	h, err := kafka.ParseBatchHeader(e.Payload)
	if err != nil || !h.IsTransactional() || h.ProducerID < 0 {
		return log.TxnBatch{}, false
	}
	if !h.IsControl() {
		return log.TxnBatch{ProducerID: h.ProducerID}, true
	}
	abort := true
	var rd kafka.BatchReader
	_, err = rd.ForEach(e.Payload, func(r kafka.Record) error {
		if len(r.Key) >= 4 && int16(binary.BigEndian.Uint16(r.Key[2:])) == controlCommit {
			abort = false
		}
		return nil
	})
	if err != nil {
		return log.TxnBatch{}, false
	}
	return log.TxnBatch{ProducerID: h.ProducerID, Marker: true, Abort: abort}, true
}

// writeMarkers is the coordinator's MarkerWriter: a marker to each
// partition, this group's written here, other groups' sent to their
// masters (txn_peer.go). A partition of a topic deleted meanwhile has
// nothing to mark.
func (h *Handler) writeMarkers(ctx context.Context, pid int64, epoch int16, commit bool, parts []txn.Partition) error {
	remote := map[string][]txn.Partition{}
	for _, p := range parts {
		if p.Group != "" {
			remote[p.Group] = append(remote[p.Group], p)
			continue
		}
		cfg, ok := h.reg.Get(p.Topic)
		if !ok || p.Partition < 0 || p.Partition >= cfg.Queues {
			continue
		}
		if _, err := h.writeMarker(ctx, cfg, p.Partition, pid, epoch, commit); err != nil {
			return err
		}
	}
	for _, g := range slices.Sorted(maps.Keys(remote)) {
		if err := h.writeRemoteMarkers(ctx, g, pid, epoch, commit, remote[g]); err != nil {
			return err
		}
	}
	return nil
}

// writeMarker writes a COMMIT or ABORT marker of producer pid at epoch to
// this broker's queue of cfg, appended under the partition's idempotence
// lock (which fences the producer's older epochs), visible before the
// partition's transaction index closes the transaction there (from the
// append). A marker of an epoch older than the producer's is not written
// (stale true): a newer producer has taken over.
func (h *Handler) writeMarker(ctx context.Context, cfg topics.Config, queue int32, pid int64, epoch int16, commit bool) (stale bool, err error) {
	k := log.PartKey{TopicID: cfg.ID, Queue: queue}
	if err := h.txns.Load(k, cfg.Name); err != nil {
		return false, fmt.Errorf("kafkaapi: marker %s/%d: %w", cfg.Name, queue, err)
	}
	e := batchEntry(cfg.Name, queue, 1, nil, nil, controlBatch(pid, epoch, commit, h.cfg.Now().UnixMilli()), false, h.leaderEpoch())
	encode := e.Encode
	e.Encode = func(payload []byte, phys, queueOffset, storeTime int64) {
		encode(payload, phys, queueOffset, storeTime)
		h.txns.End(k, pid, queueOffset, !commit) // before the marker is visible
		h.markerGen(k).Add(1)
	}
	v, at, err := h.producers.Marker(k, cfg.Name, pid, epoch, func() (log.Appended, error) {
		pos, err := h.logs.Append(ctx, []log.Message{e})
		if len(pos) == 0 {
			return log.Appended{}, err
		}
		return log.Appended{BaseOffset: pos[0].QueueOffset, AppendTime: pos[0].StoreTime}, err
	})
	if err != nil {
		return false, fmt.Errorf("kafkaapi: marker %s/%d: %w", cfg.Name, queue, err)
	}
	if v == log.StaleEpoch {
		h.log.Warn("kafkaapi: marker of an older epoch not written", "topic", cfg.Name, "partition", queue,
			"producerId", pid, "epoch", epoch)
		return true, nil
	}
	if err := h.waitVisible(ctx, cfg.Name, queue, at.BaseOffset); err != nil {
		return false, fmt.Errorf("kafkaapi: marker %s/%d: %w", cfg.Name, queue, err)
	}
	return false, nil
}

// writeTxnOffsets is the coordinator's OffsetWriter: a committed
// transaction's consumer offsets go to the group coordinator's table.
func (h *Handler) writeTxnOffsets(ctx context.Context, offs []txn.Offset) error {
	if h.cfg.Groups == nil {
		return nil
	}
	byGroup := map[string][]groups.Commit{}
	for _, o := range offs {
		if o.Owner != "" {
			if err := h.writeRemoteOffset(ctx, o); err != nil {
				return err
			}
			continue
		}
		byGroup[o.Group] = append(byGroup[o.Group], groups.Commit{Topic: o.Topic, Partition: o.Partition,
			Offset: o.Offset, LeaderEpoch: o.LeaderEpoch, Metadata: o.Metadata})
	}
	for g, cs := range byGroup {
		for _, err := range h.cfg.Groups.WriteOffsets(ctx, g, cs) {
			if err != nil {
				return fmt.Errorf("kafkaapi: transactional offsets of %q: %w", g, err)
			}
		}
	}
	return nil
}

// writeRemoteOffset stores a committed transaction's offset of another
// broker group's queue on that group's master (UPDATE_CONSUMER_OFFSET),
// where the queue's offsets are kept (forwardCommit); like the markers it
// is retried until written (the coordinator's sweep).
func (h *Handler) writeRemoteOffset(ctx context.Context, o txn.Offset) error {
	v := h.view()
	if v == nil || h.cfg.Peers == nil {
		return fmt.Errorf("kafkaapi: offset of %s/%d on broker group %s: no cluster", o.Topic, o.Partition, o.Owner)
	}
	g, ok := v.Group(o.Owner)
	if !ok || g.Remoting == "" {
		return fmt.Errorf("kafkaapi: offset of %s/%d on broker group %s: no master", o.Topic, o.Partition, o.Owner)
	}
	if err := h.cfg.Peers.CommitOffset(ctx, g.Remoting, o.Group, o.Topic, o.Partition, o.Offset); err != nil {
		return fmt.Errorf("kafkaapi: offset of %s/%d on broker group %s: %w", o.Topic, o.Partition, o.Owner, err)
	}
	return nil
}

// transactional reports whether the transaction keys are served.
func (h *Handler) transactional() bool { return h.cfg.Transactions != nil }

// startTransactions registers the transaction keys and starts the
// coordinator with this handler's writers.
func (h *Handler) startTransactions() {
	for k, a := range txnAPIs() {
		h.apis[k] = a
	}
	ctx, cancel := requestContext(0)
	defer cancel()
	h.cfg.Transactions.Start(ctx, txn.Writers{Markers: h.writeMarkers, Offsets: h.writeTxnOffsets, Allocate: h.producers.Allocate})
}

// txnAPIs are the transaction keys, served when Config.Transactions is
// set, up to KIP-890 part 2 (EndTxn v5, TxnOffsetCommit v5; AddOffsetsToTxn
// v4 and AddPartitionsToTxn v5 only add TRANSACTION_ABORTABLE, which
// this broker does not send). TxnOffsetCommit v6 (KIP-1319) is not
// served.
func txnAPIs() map[int16]api {
	return map[int16]api{
		24: {5, func(h *Handler, r *request, q kmsg.Request) {
			h.addPartitionsToTxn(r, q.(*kmsg.AddPartitionsToTxnRequest))
		}},
		25: {4, func(h *Handler, r *request, q kmsg.Request) { h.addOffsetsToTxn(r, q.(*kmsg.AddOffsetsToTxnRequest)) }},
		26: {5, func(h *Handler, r *request, q kmsg.Request) { h.endTxn(r, q.(*kmsg.EndTxnRequest)) }},
		27: {1, func(h *Handler, r *request, q kmsg.Request) { h.writeTxnMarkers(r, q.(*kmsg.WriteTxnMarkersRequest)) }},
		28: {5, func(h *Handler, r *request, q kmsg.Request) { h.txnOffsetCommit(r, q.(*kmsg.TxnOffsetCommitRequest)) }},
		61: {0, func(h *Handler, r *request, q kmsg.Request) {
			h.describeProducers(r, q.(*kmsg.DescribeProducersRequest))
		}},
		65: {0, func(h *Handler, r *request, q kmsg.Request) {
			h.describeTransactions(r, q.(*kmsg.DescribeTransactionsRequest))
		}},
		66: {2, func(h *Handler, r *request, q kmsg.Request) { h.listTransactions(r, q.(*kmsg.ListTransactionsRequest)) }},
	}
}
