package kafkaapi

import (
	"context"
	"encoding/binary"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/netio"
	"github.com/twinmq/twinmq/wire/kafka"
)

// produceKey is the API key of Produce.
const produceKey = 0

// OnFrameInline implements netio.InlineHandler: a Produce of one batch to
// one partition is answered on the event loop when it can finish there
// without waiting for anything (produceInline). A producer that sends one
// record per request (a sync send, a low rate) then costs neither a hand-
// off to a worker goroutine, nor one to the store's dispatcher and back,
// nor the event-loop wake-up of an asynchronous reply: the reply leaves
// with the loop's own write. Every other request goes to OnFrame.
func (h *Handler) OnFrameInline(c *netio.Conn, frame, dst []byte) ([]byte, bool) {
	if len(frame) < 4 || int16(binary.BigEndian.Uint16(frame)) != produceKey || h.following() {
		return dst, false
	}
	start := time.Now()
	hdr, req, err := kafka.ParseRequest(frame)
	if err != nil || hdr.APIVersion > h.apis[produceKey].max {
		return dst, false // OnFrame answers or closes
	}
	preq := req.(*kmsg.ProduceRequest)
	if !h.inlineAllowed(c, preq) {
		return dst, false // OnFrame answers the authorization errors
	}
	resp, ok := h.produceInline(preq)
	if !ok {
		return dst, false
	}
	h.served[produceKey].Add(1)
	h.inlined.Add(1)
	if preq.Acks != 0 {
		dst = kafka.AppendResponse(dst, hdr.CorrelationID, resp)
	}
	h.observe(produceKey, start)
	h.failed.count(produceKey, resp)
	return dst, true
}

// produceInline appends a Produce request's one batch and makes it
// visible at once, or declines (false) having changed nothing. It
// declines what would make the loop wait or what has more than one
// outcome to undo: several partitions, a transaction, an error to report
// (OnFrame reports it), delayed records, batches compressed other than
// with snappy, SYNC_FLUSH (the reply waits for the fsync), the store's
// dispatcher at work, and an idempotent producer's partition state that
// is busy or not yet loaded from the log.
func (h *Handler) produceInline(req *kmsg.ProduceRequest) (*kmsg.ProduceResponse, bool) {
	if len(req.Topics) != 1 || len(req.Topics[0].Partitions) != 1 || req.TransactionID != nil ||
		(req.Acks != 0 && req.Acks != 1 && req.Acks != -1) {
		return nil, false
	}
	t, p := &req.Topics[0], req.Topics[0].Partitions[0]
	cfg, code := h.lookupTopic(t.Topic, t.TopicID, req.Version >= 13)
	if _, internal := h.internalTopic(t.Topic); code != errNone || internal {
		return nil, false
	}
	part := p.Partition // the client's partition number; p.Partition becomes this broker's queue
	if p.Partition, code = h.localQueue(cfg, part); code != errNone {
		return nil, false
	}
	// Validation and the delayed-record check read the records, so a
	// compressed batch is decompressed here, on the loop: only snappy
	// (franz-go's default), which cannot expand more than ~21x, is
	// taken; gzip, lz4 and zstd can expand a 64 KiB frame to the 64 MiB
	// limit, work for a worker.
	if bh, err := kafka.ParseBatchHeader(p.Records); err != nil ||
		(bh.Compression() != kafka.CodecNone && bh.Compression() != kafka.CodecSnappy) {
		return nil, false
	}
	entry, hdr, delayHdr, code := h.buildEntry(cfg, p.Partition, p.Records, h.decompressBudget()) // spent: declined, a worker waits
	if code != errNone || hdr.IsTransactional() {
		return nil, false
	}
	if hook := h.delay.Load(); hook != nil && delayHdr {
		if _, delayed, err := h.placeRecords(&hook.policy, cfg.Name, p.Partition, entry.Payload); err != nil || delayed {
			return nil, false
		}
	}
	var res appendResult
	ok := false
	if !h.logs.AppendInline(func() { // the batch is visible once it returns
		if hdr.ProducerID < 0 {
			res, ok = h.appendPlain(context.Background(), entry), true
			return
		}
		res, ok = h.tryAppendIdempotent(cfg, p.Partition, &hdr, func() appendResult {
			return h.appendPlain(context.Background(), entry)
		})
	}) || !ok {
		return nil, false
	}
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	rt := kmsg.NewProduceResponseTopic()
	rt.Topic, rt.TopicID = t.Topic, t.TopicID
	pr := kmsg.NewProduceResponseTopicPartition()
	pr.Partition, pr.BaseOffset, pr.LogAppendTime, pr.LogStartOffset = part, -1, -1, -1
	h.fillProduced(&pr, cfg, p.Partition, res)
	h.countIn(cfg.Name, res.code, hdr.NumRecords, len(p.Records))
	h.countRequest(cfg.Name, false, pr.ErrorCode)
	rt.Partitions = append(rt.Partitions, pr)
	resp.Topics = append(resp.Topics, rt)
	return resp, true
}

// ProducesInline is how many Produce requests were answered on the event
// loop since New (for metrics and tests).
func (h *Handler) ProducesInline() int64 { return h.inlined.Load() }
