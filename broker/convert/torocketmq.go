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

// Keep selects records by their RocketMQ view: the TAGS value and the
// whole properties string. A nil Keep keeps every record.
type Keep func(tags string, props []byte) bool

// ToRocketMQ appends, as RocketMQ stored messages, the records of the
// stored Kafka batch whose offsets are >= from and that keep accepts. It returns the messages and the
// offset after the last record examined. Control batches (transaction
// markers) yield nothing.
//
// Every record of the batch shares the entry's CommitLog offset, so
// PHYSICALOFFSET (and the offset message id) names the batch; UNIQ_KEY,
// when the producer sent none, is made stable from the batch offset and
// the record's index, so the message id a RocketMQ consumer sees is the
// same on every read.
func ToRocketMQ(dst []byte, batch []byte, e KafkaEntry, from int64, keep Keep) ([]byte, int64, error) {
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
		if keep != nil && !keep(tags, props) {
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
// headers (escaped where they cannot be carried, headers.go), KEYS from
// the key, and a stable UNIQ_KEY. It returns the TAGS value too.
func properties(r kafka.Record, phys int64, index int32) ([]byte, string) {
	list := make([]remoting.Property, 0, len(r.Headers)+2)
	seen := make(map[string]struct{}, len(r.Headers))
	var tags string
	for i, h := range r.Headers {
		_, dup := seen[h.Key]
		if dup || reserved(h.Key) || !carriable(h.Key) || !carriable(string(h.Value)) {
			list = append(list, escapeHeader(i, h))
			continue
		}
		seen[h.Key] = struct{}{}
		if h.Key == propTags {
			tags = string(h.Value)
		}
		list = append(list, remoting.Property{Key: h.Key, Value: string(h.Value)})
	}
	if _, ok := seen[propKeys]; !ok && len(r.Key) > 0 {
		if carriable(string(r.Key)) {
			list = append(list, remoting.Property{Key: propKeys, Value: string(r.Key)})
		} else {
			list = append(list, remoting.Property{Key: escKey, Value: b64.EncodeToString(r.Key)})
		}
	}
	if _, ok := seen[propUniqKey]; !ok {
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

// ParseUniqKey is the inverse of UniqKey: ok is false for any other id (a
// producer's own UNIQ_KEY), which is then looked up in the IndexFile.
func ParseUniqKey(id string) (phys int64, index int32, ok bool) {
	if len(id) != 32 {
		return 0, 0, false
	}
	var b [16]byte
	if _, err := hex.Decode(b[:], []byte(id)); err != nil || string(b[:4]) != "TQKB" || id != strings.ToUpper(id) {
		return 0, 0, false
	}
	phys, index = int64(binary.BigEndian.Uint64(b[4:])), int32(binary.BigEndian.Uint32(b[12:]))
	return phys, index, phys >= 0 && index >= 0
}

// HasKey is the Keep of a query by key (QUERY_MESSAGE): one of the
// space-separated KEYS, or the UNIQ_KEY, equals key.
func HasKey(key string) Keep {
	return func(_ string, props []byte) bool {
		if u, _ := remoting.LookupProperty(props, propUniqKey); u == key {
			return true
		}
		keys, _ := remoting.LookupProperty(props, propKeys)
		for k := range strings.FieldsSeq(keys) {
			if k == key {
				return true
			}
		}
		return false
	}
}
