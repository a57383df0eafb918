package xproto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/twinmq/twinmq/wire/kafka"
	"github.com/twinmq/twinmq/wire/remoting"
)

// The record walk of a converting pull. kafka.BatchReader decodes each
// record into a kafka.Record, its headers into a slice of strings and
// slices, which appendProperties then reads again. Here a record's fields
// are read straight from the records section (Kafka's DefaultRecord,
// KIP-98):
//
//	length varint | attributes int8 | timestampDelta varlong |
//	offsetDelta varint | keyLength varint | key | valueLength varint |
//	value | headerCount varint | (headerKeyLength varint | headerKey |
//	headerValueLength varint | headerValue)...
//
// and the headers become properties as they are read. The walk accepts
// exactly what kafka.BatchReader.ForEach accepts (FuzzPullSame compares
// them through the reference conversion): a record that ForEach would
// refuse fails the whole batch.

// errRecord marks a records section ForEach would refuse.
var errRecord = errors.New("xproto: kafka record: bad varint or length")

// recordsOf checks the batch as kafka.BatchReader.ForEach does and
// returns its records section, decompressed into scratch when needed.
func recordsOf(b []byte, h *kafka.BatchHeader, scratch []byte) (records, buf []byte, err error) {
	if size := h.Size(); size != len(b) {
		return nil, scratch, fmt.Errorf("xproto: kafka batch length %d, %d bytes: %w", h.BatchLength, len(b), kafka.ErrCorruptBatch)
	}
	codec := h.Compression()
	if codec > kafka.CodecZstd {
		return nil, scratch, fmt.Errorf("xproto: kafka batch codec %d: %w", codec, kafka.ErrUnknownCodec)
	}
	if h.NumRecords < 1 || h.LastOffsetDelta != h.NumRecords-1 {
		return nil, scratch, fmt.Errorf("xproto: kafka batch NumRecords %d, LastOffsetDelta %d: %w", h.NumRecords, h.LastOffsetDelta, kafka.ErrCorruptBatch)
	}
	records = b[kafka.BatchHeaderSize:]
	if codec != kafka.CodecNone {
		if scratch, err = kafka.Decompress(codec, records, scratch[:0], kafka.DefaultMaxDecompressed); err != nil {
			return nil, scratch, err
		}
		records = scratch
	}
	if int64(h.NumRecords)*7 > int64(len(records)) {
		return nil, scratch, fmt.Errorf("xproto: kafka batch NumRecords %d in %d bytes: %w", h.NumRecords, len(records), kafka.ErrCorruptBatch)
	}
	return records, scratch, nil
}

// rawRecord is one record as read by nextRecord: key and value alias the
// section (nil when null), headers is the undecoded header list.
type rawRecord struct {
	timestampDelta int64
	offsetDelta    int32
	key, value     []byte
	headers        []byte
	headerCount    int32
}

// nextRecord reads the record at the start of b; the headers are checked
// by appendRawProperties, which must see every one of them.
func nextRecord(b []byte) (rawRecord, []byte, bool) {
	var r rawRecord
	l, n := kafka.Varint32(b)
	if n <= 0 || l < 0 || int64(l) > int64(len(b)-n) {
		return r, nil, false
	}
	d, rest := b[n:n+int(l)], b[n+int(l):]
	if len(d) < 1 {
		return r, nil, false
	}
	d = d[1:] // attributes: unused by the mapping
	ok := true
	r.timestampDelta, d, ok = varlong(d)
	if !ok {
		return r, nil, false
	}
	if r.offsetDelta, n = kafka.Varint32(d); n <= 0 {
		return r, nil, false
	}
	d = d[n:]
	if r.key, d, ok = nullableBytes(d); !ok {
		return r, nil, false
	}
	if r.value, d, ok = nullableBytes(d); !ok {
		return r, nil, false
	}
	if r.headerCount, n = kafka.Varint32(d); n <= 0 {
		return r, nil, false
	}
	r.headers = d[n:]
	if r.headerCount < 0 || int64(r.headerCount)*2 > int64(len(r.headers)) {
		return r, nil, false
	}
	return r, rest, true
}

// appendRawProperties is appendProperties over a raw record: the same
// properties in the same order. ok is false when a header is malformed
// or bytes follow the last one (the record is then refused).
func appendRawProperties(dst []byte, r *rawRecord, phys int64, index int32) (out, tags []byte, ok bool) {
	var seen rawNameSet
	d := r.headers
	for i := range int(r.headerCount) {
		kl, n := kafka.Varint32(d)
		if n <= 0 || kl < 0 || int64(kl) > int64(len(d)-n) {
			return dst, nil, false // a null or overlong header key
		}
		key := d[n : n+int(kl)]
		var v []byte
		if v, d, ok = nullableBytes(d[n+int(kl):]); !ok {
			return dst, nil, false
		}
		if seen.has(key) || rawReserved(key) || !carriableBytes(key) || !carriableBytes(v) {
			dst = appendEscapedRaw(dst, i, key, v)
			continue
		}
		seen.add(key)
		if string(key) == propTags {
			tags = v
		}
		dst = append(dst, key...)
		dst = append(dst, remoting.NameValueSeparator)
		dst = append(dst, v...)
		dst = append(dst, remoting.PropertySeparator)
	}
	if len(d) != 0 {
		return dst, nil, false
	}
	if !seen.has([]byte(propKeys)) && len(r.key) > 0 {
		if carriableBytes(r.key) {
			dst = appendPropertyBytes(dst, propKeys, r.key)
		} else {
			dst = append(dst, escKey...)
			dst = append(dst, remoting.NameValueSeparator)
			dst = b64.AppendEncode(dst, r.key)
			dst = append(dst, remoting.PropertySeparator)
		}
	}
	if !seen.has([]byte(propUniqKey)) {
		dst = append(dst, propUniqKey...)
		dst = append(dst, remoting.NameValueSeparator)
		dst = appendUniqKey(dst, phys, index)
		dst = append(dst, remoting.PropertySeparator)
	}
	return dst, tags, true
}

// appendEscapedRaw is appendEscapedHeader for a raw header.
func appendEscapedRaw(dst []byte, i int, key, value []byte) []byte {
	return appendEscapedHeader(dst, i, kafka.RecordHeader{Key: string(key), Value: value})
}

// rawReserved is reserved for a raw name.
func rawReserved(name []byte) bool {
	return bytes.HasPrefix(name, []byte(escHeaderPrefix)) || string(name) == escKey
}

// rawNameSet is nameSet for raw names.
type rawNameSet struct {
	few  [8][]byte
	n    int
	many map[string]struct{}
}

func (s *rawNameSet) has(name []byte) bool {
	if s.many != nil {
		_, ok := s.many[string(name)]
		return ok
	}
	for _, k := range s.few[:s.n] {
		if bytes.Equal(k, name) {
			return true
		}
	}
	return false
}

func (s *rawNameSet) add(name []byte) {
	if s.many == nil && s.n < len(s.few) {
		s.few[s.n] = name
		s.n++
		return
	}
	if s.many == nil {
		s.many = make(map[string]struct{}, 2*len(s.few))
		for _, k := range s.few[:s.n] {
			s.many[string(k)] = struct{}{}
		}
	}
	s.many[string(name)] = struct{}{}
}

func varlong(b []byte) (int64, []byte, bool) {
	v, n := binary.Varint(b)
	if n <= 0 {
		return 0, nil, false
	}
	return v, b[n:], true
}

// nullableBytes reads a varint length (-1: null) and that many bytes.
func nullableBytes(b []byte) ([]byte, []byte, bool) {
	l, n := kafka.Varint32(b)
	if n <= 0 || l < -1 || int64(l) > int64(len(b)-n) {
		return nil, nil, false
	}
	if l == -1 {
		return nil, b[n:], true
	}
	return b[n : n+int(l) : n+int(l)], b[n+int(l):], true
}
