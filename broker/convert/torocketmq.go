package convert

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strings"

	"github.com/twinmq/twinmq/wire/kafka"
	"github.com/twinmq/twinmq/wire/remoting"
)

// Property names of the mapping.
const (
	propKeys    = "KEYS"
	propTags    = "TAGS"
	propUniqKey = "UNIQ_KEY"
)

// KafkaEntry locates a stored Kafka batch.
type KafkaEntry struct {
	Topic     string
	QueueID   int32
	Phys      int64 // the entry's CommitLog offset
	StoreTime int64
	StoreHost netip.AddrPort
}

// ToRocketMQ appends, as RocketMQ stored messages, the records of the
// stored Kafka batch whose offsets are >= from and for which keep (when
// not nil) accepts the TAGS header. It returns the messages and the
// offset after the last record examined. Control batches (transaction
// markers) yield nothing.
//
// Every record of the batch shares the entry's CommitLog offset, so
// PHYSICALOFFSET (and the offset message id) names the batch; UNIQ_KEY,
// when the producer sent none, is made stable from the batch offset and
// the record's index, so the message id a RocketMQ consumer sees is the
// same on every read.
func ToRocketMQ(dst []byte, batch []byte, e KafkaEntry, from int64, keep func(tags string) bool) ([]byte, int64, error) {
	h, err := kafka.ParseBatchHeader(batch)
	if err != nil {
		return dst, from, fmt.Errorf("convert: kafka batch: %w", err)
	}
	next := h.BaseOffset + int64(h.LastOffsetDelta) + 1
	if h.IsControl() {
		return dst, next, nil
	}
	err = kafka.ForEachRecord(batch, kafka.DefaultMaxDecompressed, func(r kafka.Record) error {
		off := h.BaseOffset + int64(r.OffsetDelta)
		if off < from {
			return nil
		}
		props, tags := properties(r, e.Phys, r.OffsetDelta)
		if keep != nil && !keep(tags) {
			return nil
		}
		ts := h.FirstTimestamp + r.TimestampDelta
		if h.TimestampType() == kafka.TimestampLogAppendTime {
			ts = h.MaxTimestamp
		}
		m := remoting.MessageExt{
			QueueID: e.QueueID, QueueOffset: off, CommitLogOffset: e.Phys,
			BornTimestamp: ts, BornHost: e.StoreHost, StoreTimestamp: e.StoreTime, StoreHost: e.StoreHost,
			Body: r.Value, Topic: e.Topic, Properties: props,
		}
		m.SysFlag = remoting.HostSysFlags(m.BornHost, m.StoreHost)
		dst = remoting.AppendStoredMessage(dst, &m)
		return nil
	})
	if err != nil {
		return dst, from, fmt.Errorf("convert: kafka records: %w", err)
	}
	return dst, next, nil
}

// properties builds the RocketMQ properties of a Kafka record: its
// headers, KEYS from the key, and a stable UNIQ_KEY. It returns the TAGS
// value too.
func properties(r kafka.Record, phys int64, index int32) ([]byte, string) {
	list := make([]remoting.Property, 0, len(r.Headers)+2)
	var tags string
	hasKeys, hasUniq := false, false
	for _, h := range r.Headers {
		if h.Key == "" || strings.ContainsAny(h.Key, "\x01\x02") || strings.ContainsAny(string(h.Value), "\x01\x02") {
			continue // cannot be carried in a properties string
		}
		switch h.Key {
		case propTags:
			tags = string(h.Value)
		case propKeys:
			hasKeys = true
		case propUniqKey:
			hasUniq = true
		}
		list = append(list, remoting.Property{Key: h.Key, Value: string(h.Value)})
	}
	if !hasKeys && len(r.Key) > 0 && !strings.ContainsAny(string(r.Key), "\x01\x02") {
		list = append(list, remoting.Property{Key: propKeys, Value: string(r.Key)})
	}
	if !hasUniq {
		list = append(list, remoting.Property{Key: propUniqKey, Value: UniqKey(phys, index)})
	}
	return remoting.AppendPropertyList(nil, list), tags
}

// UniqKey is the message id given to record index of the Kafka batch at
// CommitLog offset phys: 32 upper-case hex characters, like a client's
// UNIQ_KEY, stable across reads.
func UniqKey(phys int64, index int32) string {
	var b [16]byte
	copy(b[:4], "TQKB")
	binary.BigEndian.PutUint64(b[4:], uint64(phys))
	binary.BigEndian.PutUint32(b[12:], uint32(index))
	return strings.ToUpper(hex.EncodeToString(b[:]))
}
