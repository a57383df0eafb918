package kafkaapi

import (
	"bytes"
	"context"
	"fmt"

	"github.com/twinmq/twinmq/broker/delay"
	"github.com/twinmq/twinmq/broker/log"
	"github.com/twinmq/twinmq/broker/topics"
	"github.com/twinmq/twinmq/wire/kafka"
	"github.com/twinmq/twinmq/wire/remoting"
)

// Delayed records for Kafka producers (issue 6, docs/design.md section 4): a record
// header DELAY (a level), TIMER_DELIVER_MS, TIMER_DELAY_SEC or
// TIMER_DELAY_MS delays a record exactly as the same RocketMQ property
// delays a message (delay.Policy.Place).
//
// A batch in which no record carries one of these headers is stored
// verbatim, as always. A batch in which some record does is re-stored
// record by record, in one Append:
//
//   - its undelayed records, in their order, as one new uncompressed batch
//     in the partition (visible at once);
//   - each delayed record as its own uncompressed batch in
//     SCHEDULE_TOPIC_XXXX or the timer topic, with REAL_TOPIC / REAL_QID
//     headers added; when due, DelayBuild (delay_build.go) appends it to the partition as a
//     new batch, at the partition's next offset then.
//
// The produce response's base offset is that of the first undelayed
// record, or -1 when every record of the batch is delayed: a delayed
// record has no offset in its partition until it is due. The re-stored
// batches carry no producer id; an idempotent batch is still checked and
// remembered for duplicates (the sequence state is in memory, see
// 00_produce_idempotent.go and broker/log.Producers).

// delayHook is the delay policy of a Handler; nil until EnableDelay.
type delayHook struct {
	policy delay.Policy
}

// EnableDelay turns on delayed records. The delay.Scheduler and the timer
// service that deliver them take DelayBuild (delay_build.go) for Kafka entries.
func (h *Handler) EnableDelay(p delay.Policy) {
	p.Validate()
	h.delay.Store(&delayHook{policy: p})
}

// delayHeaderKeys are the headers that may delay a record.
var delayHeaderKeys = [...]string{delay.PropDelay, delay.PropTimerDeliverMs, delay.PropTimerDelaySec, delay.PropTimerDelayMs}

func isDelayHeader(key string) bool {
	for _, k := range delayHeaderKeys {
		if key == k {
			return true
		}
	}
	return false
}

// ownedRecord is a record copied out of its batch.
type ownedRecord struct {
	kafka.Record
	place delay.Placement
}

// appendDelayable stores a validated produce batch in which some record
// carries a delay header (produce enters here only then, buildEntry):
// verbatim (appendBatch) unless some record is delayed. The records are
// copied out, so a compressed batch holds its decompressed records twice
// over meanwhile: that reserves twice the decompression limit from the
// decompression budget first (00_produce_decompress.go).
func (h *Handler) appendDelayable(ctx context.Context, cfg topics.Config, e log.Message, hdr *kafka.BatchHeader, acks int16, policy *delay.Policy) appendResult {
	if b := h.cfg.DecompressBudget; b != nil && hdr.Compression() != kafka.CodecNone {
		n := 2 * int64(kafka.DefaultMaxDecompressed)
		if err := b.Charge(ctx, n); err != nil {
			return appendResult{code: errRequestTimedOut, baseOffset: -1}
		}
		defer b.Release(n)
	}
	recs, delayed, err := h.placeRecords(policy, cfg.Name, e.QueueID, e.Payload)
	if err != nil {
		h.log.Info("kafkaapi: refusing delayed records", "topic", cfg.Name, "partition", e.QueueID, "err", err)
		return appendResult{code: errInvalidRecord, baseOffset: -1}
	}
	if !delayed {
		return h.appendBatch(ctx, cfg, e, hdr, acks)
	}
	entries, now, err := h.delayedEntries(cfg, e.QueueID, hdr, recs)
	if err != nil {
		h.log.Warn("kafkaapi: re-encoding delayed batch", "topic", cfg.Name, "err", err)
		return appendResult{code: codeOf(err), baseOffset: -1}
	}
	if hdr.ProducerID < 0 {
		return h.appendSplit(ctx, cfg, entries, now, acks)
	}
	return h.appendIdempotent(cfg, e.QueueID, hdr, func() appendResult { return h.appendSplit(ctx, cfg, entries, now, acks) })
}

// placeRecords copies the batch's records out and places each. delayed is
// false when no record is delayed (a header present but "no delay", such
// as DELAY=0, changes nothing).
func (h *Handler) placeRecords(p *delay.Policy, topic string, part int32, b []byte) ([]ownedRecord, bool, error) {
	var out []ownedRecord
	delayed := false
	now := h.cfg.Now()
	err := kafka.ForEachRecord(b, 0, func(r kafka.Record) error {
		own := ownedRecord{Record: copyRecord(r)}
		has := false
		for _, hd := range own.Headers {
			has = has || isDelayHeader(hd.Key)
		}
		if has {
			pl, err := p.Place(headerLookup(own.Headers), topic, part, now)
			if err != nil {
				return err
			}
			own.place = pl
			delayed = delayed || pl.Route != delay.RouteNormal
		}
		out = append(out, own)
		return nil
	})
	return out, delayed, err
}

func copyRecord(r kafka.Record) kafka.Record {
	c := r
	c.Key = bytes.Clone(r.Key)
	c.Value = bytes.Clone(r.Value)
	c.Headers = make([]kafka.RecordHeader, len(r.Headers))
	for i, hd := range r.Headers {
		c.Headers[i] = kafka.RecordHeader{Key: hd.Key, Value: bytes.Clone(hd.Value)}
	}
	return c
}

// headerLookup reads the last header of a key, as Kafka clients' lastHeader.
func headerLookup(hs []kafka.RecordHeader) delay.Lookup {
	return func(k string) (string, bool) {
		for i := len(hs) - 1; i >= 0; i-- {
			if hs[i].Key == k && hs[i].Value != nil {
				return string(hs[i].Value), true
			}
		}
		return "", false
	}
}

// applyHeaderEdits applies property edits to record headers: a set
// replaces every header of the key by one, a delete removes them all.
func applyHeaderEdits(hs []kafka.RecordHeader, edits []delay.Edit) []kafka.RecordHeader {
	for _, e := range edits {
		kept := hs[:0]
		for _, hd := range hs {
			if hd.Key != e.Key {
				kept = append(kept, hd)
			}
		}
		hs = kept
		if !e.Delete {
			hs = append(hs, kafka.RecordHeader{Key: e.Key, Value: []byte(e.Value)})
		}
	}
	return hs
}

// splitEntries are the entries of a re-stored batch: now (the undelayed
// records, one entry or none) first, then the delayed ones.
func (h *Handler) delayedEntries(cfg topics.Config, part int32, hdr *kafka.BatchHeader, recs []ownedRecord) ([]log.Message, int, error) {
	var now []kafka.Record
	var later []log.Message
	for _, r := range recs {
		if r.place.Route == delay.RouteNormal {
			r.Headers = applyHeaderEdits(r.Headers, r.place.Edits)
			now = append(now, r.Record)
			continue
		}
		r.Headers = applyHeaderEdits(r.Headers, r.place.Edits)
		e, err := h.recordsEntry(r.place.Topic, r.place.Queue, hdr, []kafka.Record{r.Record}, false)
		if err != nil {
			return nil, 0, err
		}
		e.TagsCodes = []int64{r.place.DueMs} // the services read the due time here
		later = append(later, e)
	}
	if len(now) == 0 {
		return later, 0, nil
	}
	e, err := h.recordsEntry(cfg.Name, part, hdr, now, cfg.TimestampType == "LogAppendTime")
	if err != nil {
		return nil, 0, err
	}
	return append([]log.Message{e}, later...), 1, nil
}

// recordsEntry encodes records as one uncompressed batch without producer
// id, keeping the first timestamp, and the entry that stores it with the
// keys and TAGS codes a produced batch gets.
func (h *Handler) recordsEntry(topic string, part int32, hdr *kafka.BatchHeader, recs []kafka.Record, logAppend bool) (log.Message, error) {
	spec := kafka.BatchSpec{
		Attributes:     hdr.Attributes &^ 0x30, // keep the timestamp type; not transactional nor control
		FirstTimestamp: hdr.FirstTimestamp, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1,
	}
	b, err := kafka.AppendBatch(nil, spec, recs, kafka.CodecNone)
	if err != nil {
		return log.Message{}, fmt.Errorf("kafkaapi: delayed batch: %w", err)
	}
	var keys []string
	var tags []int64
	for i, r := range recs {
		if r.Key != nil && len(r.Key) <= maxIndexedKey {
			keys = append(keys, string(r.Key))
		}
		keys = xprotoIndexKeys(keys, r) // KEYS and UNIQ_KEY headers, as a produced batch
		if v, ok := headerLookup(r.Headers)(tagsHeader); ok {
			for len(tags) < i {
				tags = append(tags, 0)
			}
			tags = append(tags, remoting.TagsHashCode(v))
		}
	}
	for len(tags) > 0 && len(tags) < len(recs) {
		tags = append(tags, 0)
	}
	return batchEntry(topic, part, int32(len(recs)), tags, keys, b, logAppend, h.leaderEpoch()), nil
}

// appendSplit appends a re-stored batch's entries in one Append; with
// nowN 1 the first is the partition's and acks wait for it.
func (h *Handler) appendSplit(ctx context.Context, cfg topics.Config, entries []log.Message, nowN int, acks int16) appendResult {
	pos, err := h.logs.Append(ctx, entries)
	if err != nil && len(pos) == 0 {
		h.log.Warn("kafkaapi: append delayed batch", "topic", cfg.Name, "err", err)
		return appendResult{code: codeOf(err), baseOffset: -1}
	}
	// With an error, written but not confirmed by the replicas (appendPlain).
	if nowN == 0 {
		return appendResult{code: codeOf(err), written: true, baseOffset: -1, appendTime: pos[0].StoreTime}
	}
	res := appendResult{code: codeOf(err), written: true, baseOffset: pos[0].QueueOffset, appendTime: pos[0].StoreTime}
	if acks != 0 && err == nil {
		last := res.baseOffset + int64(entries[0].Count) - 1
		if err := h.waitVisible(ctx, cfg.Name, entries[0].QueueID, last); err != nil {
			res.code = errRequestTimedOut
		}
	}
	return res
}
