package xproto

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"slices"
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
		scratch, tags = appendProperties(scratch[:0], r, e.Phys, r.OffsetDelta)
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

// storedOverhead estimates what a converted record adds to its key, value
// and headers: the stored message's fixed fields (IPv6 hosts), the
// separators, KEYS and a made UNIQ_KEY.
const storedOverhead = 110 + 64

// minRecordLen is the smallest encoded Kafka record: one byte each for
// its length, attributes, timestamp and offset deltas, null key, empty
// value and header count.
const minRecordLen = 7

// appendProperties appends to dst the RocketMQ properties of a Kafka
// record: its headers (escaped where they cannot be carried, headers.go),
// KEYS from the key, and a stable UNIQ_KEY. It returns the TAGS value too,
// a slice of the record. It allocates only for escaped headers: it runs
// once per record of every cross-protocol pull.
func appendProperties(dst []byte, r kafka.Record, phys int64, index int32) ([]byte, []byte) {
	var tags []byte
	var seen nameSet
	for i, h := range r.Headers {
		if seen.has(h.Key) || reserved(h.Key) || !carriable(h.Key) || !carriableBytes(h.Value) {
			dst = appendEscapedHeader(dst, i, h)
			continue
		}
		seen.add(h.Key)
		if h.Key == propTags {
			tags = h.Value
		}
		dst = appendPropertyBytes(dst, h.Key, h.Value)
	}
	if !seen.has(propKeys) && len(r.Key) > 0 {
		if carriableBytes(r.Key) {
			dst = appendPropertyBytes(dst, propKeys, r.Key)
		} else {
			dst = append(dst, escKey...)
			dst = append(dst, remoting.NameValueSeparator)
			dst = b64.AppendEncode(dst, r.Key)
			dst = append(dst, remoting.PropertySeparator)
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

// nameSet holds the names of the headers carried as themselves so far: a
// record has few headers, so a scan of an array beats a map until it has
// many.
type nameSet struct {
	few  [8]string
	n    int
	many map[string]struct{}
}

func (s *nameSet) has(name string) bool {
	if s.many != nil {
		_, ok := s.many[name]
		return ok
	}
	return slices.Contains(s.few[:s.n], name)
}

func (s *nameSet) add(name string) {
	if s.many == nil && s.n < len(s.few) {
		s.few[s.n] = name
		s.n++
		return
	}
	if s.many == nil {
		s.many = make(map[string]struct{}, 2*len(s.few))
		for _, k := range s.few[:s.n] {
			s.many[k] = struct{}{}
		}
	}
	s.many[name] = struct{}{}
}

func appendPropertyBytes(dst []byte, key string, value []byte) []byte {
	dst = append(dst, key...)
	dst = append(dst, remoting.NameValueSeparator)
	dst = append(dst, value...)
	return append(dst, remoting.PropertySeparator)
}

// UniqKey is the message id given to record index of the Kafka batch at
// CommitLog offset phys: 32 upper-case hex characters, like a client's
// UNIQ_KEY, stable across reads.
func UniqKey(phys int64, index int32) string {
	var b [32]byte
	return string(appendUniqKey(b[:0], phys, index))
}

// appendUniqKey appends UniqKey(phys, index) without allocating.
func appendUniqKey(dst []byte, phys int64, index int32) []byte {
	const upperHex = "0123456789ABCDEF"
	var b [16]byte
	copy(b[:4], "TQKB")
	binary.BigEndian.PutUint64(b[4:], uint64(phys))
	binary.BigEndian.PutUint32(b[12:], uint32(index))
	for _, c := range b {
		dst = append(dst, upperHex[c>>4], upperHex[c&0xf])
	}
	return dst
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
