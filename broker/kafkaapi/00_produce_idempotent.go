package kafkaapi

import (
	"errors"

	"github.com/twinmq/twinmq/broker/log"
	"github.com/twinmq/twinmq/broker/topics"
	"github.com/twinmq/twinmq/wire/kafka"
)

// Idempotent produce (KIP-98) is the log service's check-and-append
// (broker/log.Producers): this file maps Kafka batch headers to it and its
// verdicts to Kafka's error codes.

// producerBatch is what the idempotence check reads of a batch header.
func producerBatch(h *kafka.BatchHeader) log.ProducerBatch {
	return log.ProducerBatch{ProducerID: h.ProducerID, Epoch: h.ProducerEpoch, BaseSequence: h.BaseSequence, Count: h.NumRecords}
}

// loadProducerBatch reads a stored entry's idempotent batch, for the
// rebuild of a partition's producer state from its log after a start.
func loadProducerBatch(e *log.Entry) (log.ProducerBatch, bool) {
	if e.Kind != log.KindKafka {
		return log.ProducerBatch{}, false
	}
	h, err := kafka.ParseBatchHeader(e.Payload)
	if err != nil || h.ProducerID < 0 || h.IsControl() {
		return log.ProducerBatch{}, false
	}
	return producerBatch(&h), true
}

// errAppendFailed carries an append's own error code out of the check-
// and-append; the appendResult holds the code.
var errAppendFailed = errors.New("kafkaapi: append failed")

// appendIdempotent runs appendFn for an idempotent batch under the log's
// check-and-append: a duplicate is answered with its first offsets, a
// fenced epoch with INVALID_PRODUCER_EPOCH, a sequence gap with
// OUT_OF_ORDER_SEQUENCE_NUMBER, and none of them is appended.
func (h *Handler) appendIdempotent(cfg topics.Config, queue int32, hdr *kafka.BatchHeader, appendFn func() appendResult) appendResult {
	var res appendResult
	v, at, err := h.producers.Append(log.PartKey{TopicID: cfg.ID, Queue: queue}, cfg.Name, producerBatch(hdr), wrapAppend(appendFn, &res))
	return verdictResult(v, at, err, res)
}

// tryAppendIdempotent is appendIdempotent for the event loop: ok is false,
// with nothing done, when the partition's state is busy or not loaded.
func (h *Handler) tryAppendIdempotent(cfg topics.Config, queue int32, hdr *kafka.BatchHeader, appendFn func() appendResult) (appendResult, bool) {
	var res appendResult
	ok, v, at, err := h.producers.TryAppend(log.PartKey{TopicID: cfg.ID, Queue: queue}, producerBatch(hdr), wrapAppend(appendFn, &res))
	if !ok {
		return appendResult{}, false
	}
	return verdictResult(v, at, err, res), true
}

func wrapAppend(appendFn func() appendResult, res *appendResult) func() (log.Appended, error) {
	return func() (log.Appended, error) {
		*res = appendFn()
		if res.code != errNone && !res.written {
			return log.Appended{}, errAppendFailed
		}
		// Written (its code may say the replicas did not confirm it in
		// time): the producer state records it, so that the client's
		// retry is answered as a duplicate, not written twice.
		return log.Appended{BaseOffset: res.baseOffset, AppendTime: res.appendTime}, nil
	}
}

func verdictResult(v log.Verdict, at log.Appended, err error, res appendResult) appendResult {
	switch {
	case errors.Is(err, errAppendFailed):
		return res
	case err != nil:
		return appendResult{code: codeOf(err), baseOffset: -1}
	case v == log.StaleEpoch:
		return appendResult{code: errInvalidProducerEpoch, baseOffset: -1}
	case v == log.OutOfOrder:
		return appendResult{code: errOutOfOrderSequence, baseOffset: -1}
	case v == log.Accept:
		return res // its code may be a replication failure after the write
	}
	return appendResult{baseOffset: at.BaseOffset, appendTime: at.AppendTime} // Duplicate
}
