package kafkaapi

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/broker/log"
	"github.com/twinmq/twinmq/broker/topics"
	"github.com/twinmq/twinmq/wire/kafka"
	"github.com/twinmq/twinmq/wire/remoting"
)

// Special ListOffsets timestamps and the version each needs (KIP-734,
// KIP-1005).
const (
	tsLatest         = -1
	tsEarliest       = -2
	tsMaxTimestamp   = -3 // v7+
	tsEarliestLocal  = -4 // v8+
	tsLatestTiered   = -5 // v9+
	scanReadMaxBytes = 8 << 20
)

// listOffsets answers key 2. A timestamp resolves to the first record
// whose timestamp is >= it (Kafka's semantics), found through an
// in-memory sparse time index per partition (timeindex.go).
func (h *Handler) listOffsets(r *request, req *kmsg.ListOffsetsRequest) {
	resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
	for _, t := range req.Topics {
		rt := kmsg.NewListOffsetsResponseTopic()
		rt.Topic = t.Topic
		cfg, code := h.readTopic(t.Topic, [16]byte{}, false)
		seen := map[int32]bool{}
		for _, p := range t.Partitions {
			c := code
			if seen[p.Partition] {
				c = errInvalidRequest
			}
			seen[p.Partition] = true
			rt.Partitions = append(rt.Partitions, h.listOffsetPartition(cfg, c, p, req.Version, req.IsolationLevel))
		}
		resp.Topics = append(resp.Topics, rt)
	}
	r.reply(resp)
}

func (h *Handler) listOffsetPartition(cfg topics.Config, code int16, p kmsg.ListOffsetsRequestTopicPartition, version int16, isolation int8) kmsg.ListOffsetsResponseTopicPartition {
	rp := kmsg.NewListOffsetsResponseTopicPartition()
	rp.Partition, rp.Timestamp, rp.Offset, rp.LeaderEpoch = p.Partition, -1, -1, -1
	if code == errNone {
		p.Partition, code = h.localQueue(cfg, p.Partition) // this broker's queue; rp keeps the client's number
	}
	switch {
	case code != errNone:
	case h.checkLeaderEpoch(p.CurrentLeaderEpoch) != errNone:
		code = h.checkLeaderEpoch(p.CurrentLeaderEpoch)
	case p.Timestamp == tsMaxTimestamp && version < 7, p.Timestamp == tsEarliestLocal && version < 8,
		p.Timestamp == tsLatestTiered && version < 9:
		code = errUnsupportedVersion
	}
	if code != errNone {
		rp.ErrorCode = code
		return rp
	}
	off, ts, err := h.offsetFor(cfg, p.Partition, p.Timestamp)
	if err == nil && isolation == 1 && p.Timestamp == tsLatest {
		// read_committed (v2+): the latest offset is the last stable one.
		var start int64
		if start, _, err = h.queueRange(cfg.Name, p.Partition); err == nil {
			off, _, err = h.txns.Stable(log.PartKey{TopicID: cfg.ID, Queue: p.Partition}, cfg.Name, start, off, off)
		}
	}
	if err != nil {
		rp.ErrorCode = codeOf(err)
		return rp
	}
	rp.Offset, rp.Timestamp = off, ts
	if off >= 0 {
		rp.LeaderEpoch = h.leaderEpoch()
	}
	if version == 0 {
		rp.OldStyleOffsets = []int64{}
		if off >= 0 && p.MaxNumOffsets > 0 {
			rp.OldStyleOffsets = []int64{off}
		}
	}
	return rp
}

// offsetFor resolves one timestamp to (offset, timestamp); -1 offsets
// mean none. Timestamps are looked up in the partition's time index
// (timeindex.go).
func (h *Handler) offsetFor(cfg topics.Config, part int32, ts int64) (int64, int64, error) {
	min, hwm, err := h.queueRange(cfg.Name, part)
	if err != nil {
		return 0, 0, err
	}
	switch ts {
	case tsLatest:
		return hwm, -1, nil
	case tsEarliest, tsEarliestLocal:
		return min, -1, nil
	case tsLatestTiered:
		return -1, -1, nil
	case tsMaxTimestamp:
		return h.maxTimestampOffset(cfg.ID, cfg.Name, part, min, hwm)
	}
	if min == hwm {
		return -1, -1, nil
	}
	return h.offsetForTime(cfg.ID, cfg.Name, part, ts, min, hwm)
}

// recordAtOrAfter returns the offset and timestamp of the batch's first
// record that ok accepts (given its offset and timestamp).
func recordAtOrAfter(b []byte, hdr *kafka.BatchHeader, ok func(off, ts int64) bool) (int64, int64) {
	off, ts := int64(-1), int64(-1)
	errStop := errors.New("stop")
	_ = kafka.ForEachRecord(b, 0, func(rec kafka.Record) error {
		o, t := hdr.BaseOffset+int64(rec.OffsetDelta), hdr.FirstTimestamp+rec.TimestampDelta
		if hdr.TimestampType() == kafka.TimestampLogAppendTime {
			t = hdr.MaxTimestamp // every record has the append time
		}
		if ok(o, t) {
			off, ts = o, t
			return errStop
		}
		return nil
	})
	return off, ts
}

// timedEntry is one stored entry as ListOffsets by timestamp sees it:
// the offsets it covers and the largest timestamp a Kafka consumer reads
// in it. A Kafka batch's is its MaxTimestamp; a RocketMQ message's is its
// born timestamp, the CreateTime a Kafka fetch of it carries
// (wire/xproto). batch and hdr are set for Kafka batches only.
type timedEntry struct {
	base, maxTs int64
	size        int
	batch       []byte
	hdr         *kafka.BatchHeader
}

// scanTimes calls fn for each stored entry of [from, to) in order, Kafka
// batches and RocketMQ messages alike, until fn returns false. Entries
// that do not parse are skipped (a read reports them).
func (h *Handler) scanTimes(topic string, part int32, from, to int64, fn func(*timedEntry) bool) error {
	var hdr kafka.BatchHeader
	var view remoting.StoredView
	for off := from; off < to; {
		res, err := h.logs.Read(topic, part, off, log.ReadOptions{MaxBytes: scanReadMaxBytes})
		if err != nil {
			return err
		}
		more := len(res.Entries) > 0
		for _, e := range res.Entries {
			te := timedEntry{base: e.QueueOffset, size: len(e.Payload)}
			switch e.Kind {
			case log.KindKafka:
				if hdr, err = kafka.ParseBatchHeader(e.Payload); err != nil {
					continue
				}
				te.base, te.maxTs, te.batch, te.hdr = hdr.BaseOffset, hdr.MaxTimestamp, e.Payload, &hdr
			case log.KindRocketMQ:
				if _, err := view.Parse(e.Payload); err != nil {
					continue
				}
				te.maxTs = view.BornTimestamp
			default:
				continue
			}
			if !fn(&te) {
				more = false
				break
			}
		}
		off = res.Next
		res.Release()
		if !more {
			return nil
		}
	}
	return nil
}
