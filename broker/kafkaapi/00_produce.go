package kafkaapi

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/broker/log"
	"github.com/twinmq/twinmq/broker/topics"
	"github.com/twinmq/twinmq/wire/kafka"
	"github.com/twinmq/twinmq/wire/remoting"
)

// tagsHeader is the record header whose value is the RocketMQ tag, so
// server-side tag filtering works on Kafka-produced records (docs/design.md 4).
const tagsHeader = "TAGS"

// maxIndexedKey bounds the record keys put in the IndexFile.
const maxIndexedKey = 1024

// produce answers key 0. Each partition's batch is validated, checked for
// idempotence, and appended verbatim with baseOffset, leader epoch and
// (LogAppendTime topics) the broker's time written in place. With acks 1
// or -1 the reply waits until the records are visible to fetches (the
// high watermark covers them); acks 0 writes no reply at all.
func (h *Handler) produce(r *request, req *kmsg.ProduceRequest) {
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	ctx, cancel := requestContext(req.TimeoutMillis)
	defer cancel()
	byID := req.Version >= 13
	for _, t := range req.Topics {
		rt := kmsg.NewProduceResponseTopic()
		rt.Topic, rt.TopicID = t.Topic, t.TopicID
		cfg, code := h.lookupTopic(t.Topic, t.TopicID, byID)
		if _, internal := h.internalTopic(t.Topic); internal {
			code = errInvalidTopic
		}
		if code == errUnknownTopicOrPartition && validKafkaName(t.Topic) != nil {
			// A name no Kafka client may use (../../etc): the client is
			// told it is invalid, as Metadata tells it, not to retry
			// until the topic appears. Existing topics named from the
			// RocketMQ side (%RETRY%g) were found above.
			code = errInvalidTopic
		}
		switch {
		case req.Acks != 0 && req.Acks != 1 && req.Acks != -1:
			code = errInvalidRequiredAcks
		case req.TransactionID != nil && code == errNone && !h.transactional():
			code = errInvalidRequest
		}
		for _, p := range t.Partitions {
			// Produce v12+ adds a transactional batch's partition to its
			// transaction (KIP-890 part 2: no AddPartitionsToTxn first).
			pr := h.producePartition(ctx, cfg, code, p, req.Acks, req.TransactionID, req.Version >= 12)
			h.countRequest(cfg.Name, false, pr.ErrorCode)
			rt.Partitions = append(rt.Partitions, pr)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	if req.Acks == 0 {
		r.finish()
		return
	}
	r.reply(resp)
}

func (h *Handler) producePartition(ctx context.Context, cfg topics.Config, code int16,
	p kmsg.ProduceRequestTopicPartition, acks int16, txnID *string, txnAdd bool) kmsg.ProduceResponseTopicPartition {
	pr := kmsg.NewProduceResponseTopicPartition()
	pr.Partition, pr.BaseOffset, pr.LogAppendTime, pr.LogStartOffset = p.Partition, -1, -1, -1
	if code == errNone {
		p.Partition, code = h.localQueue(cfg, p.Partition) // from here on, this broker's queue
	}
	if code != errNone {
		pr.ErrorCode = code
		return pr
	}
	entry, hdr, delayHdr, code := h.buildEntry(cfg, p.Partition, p.Records, h.decompressBudget())
	if code == codeBudgetSpent {
		entry, hdr, delayHdr, code = h.buildEntryReserved(ctx, cfg, p.Partition, p.Records)
	}
	if code != errNone {
		pr.ErrorCode = code
		return pr
	}
	var res appendResult
	if hdr.IsTransactional() || txnID != nil {
		res = h.appendTransactional(ctx, cfg, entry, &hdr, acks, txnID, txnAdd) // 00_produce_txn.go
	} else if hook := h.delay.Load(); hook != nil && delayHdr {
		res = h.appendDelayable(ctx, cfg, entry, &hdr, acks, &hook.policy) // 00_produce_delay.go
	} else {
		res = h.appendBatch(ctx, cfg, entry, &hdr, acks)
	}
	h.fillProduced(&pr, cfg, p.Partition, res)
	h.countIn(cfg.Name, res.code, hdr.NumRecords, len(p.Records))
	return pr
}

// fillProduced puts an append's result in its partition's response.
func (h *Handler) fillProduced(pr *kmsg.ProduceResponseTopicPartition, cfg topics.Config, queue int32, res appendResult) {
	pr.ErrorCode, pr.BaseOffset = res.code, res.baseOffset
	if res.code == errNone && cfg.TimestampType == "LogAppendTime" {
		pr.LogAppendTime = res.appendTime
	}
	if min, _, err := h.queueRange(cfg.Name, queue); err == nil {
		pr.LogStartOffset = min
	}
}

// buildEntry validates a partition's records (exactly one magic 2 batch,
// as Kafka requires from Produce v3) and prepares its store entry with the
// record keys and TAGS codes; delayHdr says some record carries a delay
// header (00_produce_delay.go), seen in the same pass, so a compressed
// batch is not decompressed a second time to find out. The decompression
// output is charged to budget (nil: none); a refusal gives
// codeBudgetSpent.
func (h *Handler) buildEntry(cfg topics.Config, part int32, records []byte, budget kafka.Budget) (_ log.Message, _ kafka.BatchHeader, delayHdr bool, _ int16) {
	batches, err := kafka.SplitBatches(nil, records)
	if err != nil {
		return log.Message{}, kafka.BatchHeader{}, false, codeOf(err)
	}
	if len(batches) != 1 {
		return log.Message{}, kafka.BatchHeader{}, false, errInvalidRecord
	}
	b := batches[0]
	if cfg.MaxMessageBytes > 0 && len(b) > int(cfg.MaxMessageBytes) {
		return log.Message{}, kafka.BatchHeader{}, false, errMessageTooLarge
	}
	var keys []string
	var tags []int64
	hdr, err := kafka.ValidateBatchFunc(b, budget, func(rec kafka.Record) error {
		if rec.Key != nil && len(rec.Key) <= maxIndexedKey {
			keys = append(keys, string(rec.Key))
		}
		keys = xprotoIndexKeys(keys, rec) // KEYS and UNIQ_KEY headers, xproto_produce.go
		for _, hd := range rec.Headers {
			delayHdr = delayHdr || isDelayHeader(hd.Key)
		}
		for _, hd := range rec.Headers {
			if hd.Key == tagsHeader && hd.Value != nil {
				for len(tags) < int(rec.OffsetDelta) {
					tags = append(tags, 0)
				}
				tags = append(tags, remoting.TagsHashCode(string(hd.Value)))
				break
			}
		}
		return nil
	})
	if errors.Is(err, kafka.ErrBudget) {
		return log.Message{}, hdr, false, codeBudgetSpent
	}
	if err != nil {
		return log.Message{}, hdr, false, codeOf(err)
	}
	if hdr.BaseOffset != 0 || hdr.IsControl() {
		return log.Message{}, hdr, false, errInvalidRecord
	}
	if len(tags) > 0 {
		for len(tags) < int(hdr.NumRecords) {
			tags = append(tags, 0)
		}
	}
	return batchEntry(cfg.Name, part, hdr.NumRecords, tags, keys, b, cfg.TimestampType == "LogAppendTime", h.leaderEpoch()), hdr, delayHdr, errNone
}

// batchEntry is the store entry of one whole record batch: its base
// offset, leader epoch and (LogAppendTime topics) the store time are
// written in place at append, outside the batch CRC.
func batchEntry(topic string, part, count int32, tags []int64, keys []string, batch []byte, logAppend bool, epoch int32) log.Message {
	return log.Message{
		Kind: log.KindKafka, Topic: topic, QueueID: part, Count: count,
		TagsCodes: tags, Keys: keys, Payload: batch,
		Encode: func(payload []byte, _, queueOffset, storeTime int64) {
			// Cannot fail: the payload holds a whole validated batch.
			_ = kafka.SetBaseOffset(payload, queueOffset)
			_ = kafka.SetPartitionLeaderEpoch(payload, epoch)
			if logAppend {
				_ = kafka.SetLogAppendTime(payload, storeTime)
			}
		},
	}
}

type appendResult struct {
	code       int16
	baseOffset int64
	appendTime int64
	// written: the batch is in the log even if code is not errNone (its
	// replicas did not confirm it in time).
	written bool
}

// appendBatch appends one batch, deduplicating idempotent ones, and for
// acks != 0 waits until it is visible.
func (h *Handler) appendBatch(ctx context.Context, cfg topics.Config, e log.Message, hdr *kafka.BatchHeader, acks int16) appendResult {
	var res appendResult
	if hdr.ProducerID >= 0 {
		res = h.appendIdempotent(cfg, e.QueueID, hdr, func() appendResult { return h.appendPlain(ctx, e) })
	} else {
		res = h.appendPlain(ctx, e)
	}
	if res.code != errNone || acks == 0 {
		return res
	}
	last := res.baseOffset + int64(hdr.NumRecords) - 1
	if err := h.waitVisible(ctx, cfg.Name, e.QueueID, last); err != nil {
		res.code = errRequestTimedOut
	}
	return res
}

// waitVisible waits until a produced offset is visible to fetches
// (broker/log.Log.WaitVisible; no Notify callback takes a lock a produce
// holds).
func (h *Handler) waitVisible(ctx context.Context, topic string, queue int32, offset int64) error {
	return h.logs.WaitVisible(ctx, topic, queue, offset)
}

func (h *Handler) appendPlain(ctx context.Context, e log.Message) appendResult {
	pos, err := h.logs.Append(ctx, []log.Message{e})
	if err != nil && len(pos) == 0 {
		h.log.Log(ctx, appendLogLevel(err), "kafkaapi: append", "topic", e.Topic, "partition", e.QueueID, "err", err)
		return appendResult{code: codeOf(err), baseOffset: -1}
	}
	// With an error, the batch is written but its replicas did not
	// confirm it (REQUEST_TIMED_OUT, NOT_ENOUGH_REPLICAS_AFTER_APPEND).
	return appendResult{code: codeOf(err), written: true, baseOffset: pos[0].QueueOffset, appendTime: pos[0].StoreTime}
}
