package xproto

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/twinmq/twinmq/wire/kafka"
	"github.com/twinmq/twinmq/wire/remoting"
)

// refToRocketMQ is ToRocketMQ as it was before the pull conversion (one
// buffer per pull, bodies left in place) was written: the reference the
// new code must match byte for byte. It appends, as RocketMQ stored messages, the records of the
// stored Kafka batch whose offsets are >= from and that keep accepts. It returns the messages and the
// offset after the last record examined. Control batches (transaction
// markers) yield nothing.
//
// Every record of the batch shares the entry's CommitLog offset, so
// PHYSICALOFFSET (and the offset message id) names the batch; UNIQ_KEY,
// when the producer sent none, is made stable from the batch offset and
// the record's index, so the message id a RocketMQ consumer sees is the
// same on every read.
func refToRocketMQ(dst []byte, batch []byte, e KafkaEntry, from int64, keep Keep) ([]byte, int64, error) {
	h, err := kafka.ParseBatchHeader(batch)
	if err != nil {
		return dst, from, fmt.Errorf("xproto: kafka batch: %w", err)
	}
	next := h.BaseOffset + int64(h.LastOffsetDelta) + 1
	if h.IsControl() {
		return dst, next, nil
	}
	// Size dst once for the whole batch (an uncompressed batch holds at
	// most its own length of keys, values and headers; each message adds
	// its fixed fields, the topic and about KEYS and UNIQ_KEY), so the
	// messages are not copied again as dst grows.
	// The header is not trusted: an encoded record takes at least
	// minRecordLen bytes, so the batch's own length bounds the count (a
	// compressed batch's records grow dst as they come).
	n := min(max(int(h.LastOffsetDelta)+1, 0), len(batch)/minRecordLen)
	dst = slices.Grow(dst, len(batch)+n*(storedOverhead+len(e.Topic)))
	var scratch []byte // one record's properties; copied into dst
	err = kafka.ForEachRecord(batch, kafka.DefaultMaxDecompressed, func(r kafka.Record) error {
		off := h.BaseOffset + int64(r.OffsetDelta)
		if off < from {
			return nil
		}
		var tags []byte
		scratch, tags = refAppendProperties(scratch[:0], r, e.Phys, r.OffsetDelta)
		if keep != nil && !keep(string(tags), scratch) {
			return nil
		}
		ts := h.FirstTimestamp + r.TimestampDelta
		if h.TimestampType() == kafka.TimestampLogAppendTime {
			ts = h.MaxTimestamp
		}
		m := remoting.MessageExt{
			QueueID: e.QueueID, QueueOffset: off, CommitLogOffset: e.Phys,
			BornTimestamp: ts, BornHost: e.StoreHost, StoreTimestamp: e.StoreTime, StoreHost: e.StoreHost,
			Body: r.Value, Topic: e.Topic, Properties: scratch,
		}
		m.SysFlag = remoting.HostSysFlags(m.BornHost, m.StoreHost)
		dst = remoting.AppendStoredMessage(dst, &m)
		return nil
	})
	if err != nil {
		return dst, from, fmt.Errorf("xproto: kafka records: %w", err)
	}
	return dst, next, nil
}

// appendProperties appends to dst the RocketMQ properties of a Kafka
// record: its headers (escaped where they cannot be carried, headers.go),
// KEYS from the key, and a stable UNIQ_KEY. It returns the TAGS value too,
// a slice of the record. It allocates only for escaped headers: it runs
// once per record of every cross-protocol pull.
func refAppendProperties(dst []byte, r kafka.Record, phys int64, index int32) ([]byte, []byte) {
	var tags []byte
	var seen nameSet
	for i, h := range r.Headers {
		if seen.has(h.Key) || reserved(h.Key) || !refCarriable(h.Key) || !refCarriableBytes(h.Value) {
			p := refEscapeHeader(i, h)
			dst = remoting.AppendProperty(dst, p.Key, p.Value)
			continue
		}
		seen.add(h.Key)
		if h.Key == propTags {
			tags = h.Value
		}
		dst = appendPropertyBytes(dst, h.Key, h.Value)
	}
	if !seen.has(propKeys) && len(r.Key) > 0 {
		if refCarriableBytes(r.Key) {
			dst = appendPropertyBytes(dst, propKeys, r.Key)
		} else {
			dst = remoting.AppendProperty(dst, escKey, b64.EncodeToString(r.Key))
		}
	}
	if !seen.has(propUniqKey) {
		dst = append(dst, propUniqKey...)
		dst = append(dst, remoting.NameValueSeparator)
		dst = appendUniqKey(dst, phys, index)
		dst = append(dst, remoting.PropertySeparator)
	}
	return dst, tags
}

func refCarriable(s string) bool {
	return s != "" && utf8.ValidString(s) && !strings.ContainsAny(s, "\x01\x02")
}

func refCarriableBytes(b []byte) bool {
	return len(b) > 0 && utf8.Valid(b) && !bytes.ContainsAny(b, "\x01\x02")
}

func refEscapeHeader(i int, h kafka.RecordHeader) remoting.Property {
	v := b64.EncodeToString([]byte(h.Key))
	if h.Value != nil {
		v += "." + b64.EncodeToString(h.Value)
	}
	return remoting.Property{Key: escHeaderPrefix + strconv.Itoa(i), Value: v}
}
