package convert

import (
	"bytes"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"iter"
	"slices"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"

	"github.com/twinmq/twinmq/wire/kafka"
	"github.com/twinmq/twinmq/wire/remoting"
)

// ErrBody is returned for a RocketMQ body whose compression cannot be
// undone.
var ErrBody = errors.New("convert: cannot decompress RocketMQ body")

// maxBody bounds a decompressed RocketMQ body (RocketMQ's default max
// message size is 4 MiB; a compressed body may expand).
const maxBody = 64 << 20

// ToKafka appends one Kafka record batch holding the RocketMQ stored
// messages msgs, which are the entries at the consecutive queue offsets
// base, base+1, ... (the storage read says so; the stored QUEUEOFFSET is
// not trusted for it). Every message becomes a record, whatever its
// content, so a consumer never stops on one: a body whose compression
// cannot be undone is passed as stored and a damaged record becomes an
// empty value, both with a HeaderConvertError header; a malformed
// properties string is added whole as HeaderRawProperties.
func ToKafka(dst []byte, base int64, msgs [][]byte) ([]byte, error) {
	if len(msgs) == 0 {
		return dst, nil
	}
	// The records' keys, values and header values are slices of msgs (or
	// of an inflated body): AppendBatch copies them once, into dst, sized
	// here for the whole batch (a record is not larger than its stored
	// message), so nothing is copied again as dst grows.
	size := batchOverhead
	for _, raw := range msgs {
		size += len(raw)
	}
	dst = slices.Grow(dst, size)
	recs := make([]kafka.Record, len(msgs))
	hdrs := make([]kafka.RecordHeader, 0, 6*len(msgs)) // shared by the records' Headers
	spec := kafka.BatchSpec{BaseOffset: base, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}
	first := true
	for i, raw := range msgs {
		m, _, err := remoting.DecodeStoredMessage(raw)
		if err != nil {
			recs[i] = kafka.Record{Value: []byte{}, TimestampDelta: 0,
				Headers: []kafka.RecordHeader{{Key: HeaderConvertError, Value: []byte(err.Error())}}}
			continue
		}
		if first {
			spec.FirstTimestamp, first = m.BornTimestamp, false
		}
		start := len(hdrs)
		recs[i], hdrs = record(m, spec.FirstTimestamp, hdrs)
		recs[i].Headers = hdrs[start:len(hdrs):len(hdrs)]
	}
	out, err := kafka.AppendBatch(dst, spec, recs, kafka.CodecNone)
	if err != nil {
		return dst, fmt.Errorf("convert: build batch at %d: %w", base, err)
	}
	return out, nil
}

// batchOverhead is a record batch's header size (KIP-98).
const batchOverhead = 61

// record maps one stored RocketMQ message (doc.go's table), appending its
// headers to hdrs; the caller sets the record's Headers from them.
func record(m remoting.MessageExt, firstTS int64, hdrs []kafka.RecordHeader) (kafka.Record, []kafka.RecordHeader) {
	r := kafka.Record{TimestampDelta: m.BornTimestamp - firstTS}
	body, err := plainBody(m)
	if err != nil {
		body = m.Body
		hdrs = append(hdrs, kafka.RecordHeader{Key: HeaderConvertError, Value: []byte(err.Error())})
	}
	r.Value = body
	if body == nil {
		r.Value = []byte{}
	}
	wellFormed := true
	for k, v := range eachProperty(m.Properties, &wellFormed) {
		if bytes.HasPrefix(k, escHeaderPrefixBytes) {
			if h, ok := unescapeHeader(remoting.Property{Key: string(k), Value: string(v)}); ok {
				hdrs = append(hdrs, h)
				continue
			}
		}
		switch string(k) {
		case propKeys:
			if r.Key == nil {
				r.Key = v
			}
		case escKey:
			if k, err := b64.AppendDecode(nil, v); err == nil {
				r.Key = k
				continue
			}
		}
		hdrs = append(hdrs, kafka.RecordHeader{Key: propertyName(k), Value: v})
	}
	if !wellFormed {
		hdrs = append(hdrs, kafka.RecordHeader{Key: HeaderRawProperties, Value: m.Properties})
	}
	return r, hdrs
}

var escHeaderPrefixBytes = []byte(escHeaderPrefix)

// eachProperty yields the well-formed items of a properties string as
// slices of it, as remoting.ParsePropertyList reads them, and clears
// *wellFormed if the parser skips any bytes: an item without 0x01, with
// an empty name or value, or an empty item other than after the final
// 0x02 (ToKafka then adds the raw string).
func eachProperty(s []byte, wellFormed *bool) iter.Seq2[[]byte, []byte] {
	return func(yield func(k, v []byte) bool) {
		for len(s) > 0 {
			item := s
			if i := bytes.IndexByte(s, remoting.PropertySeparator); i >= 0 {
				item, s = s[:i], s[i+1:]
			} else {
				s = nil
			}
			sep := bytes.IndexByte(item, remoting.NameValueSeparator)
			if len(item) < 3 || sep <= 0 || sep >= len(item)-1 {
				*wellFormed = false
				continue
			}
			if !yield(item[:sep], item[sep+1:]) {
				return
			}
		}
	}
}

// propertyName is a property name as a header name, without allocating
// for the names RocketMQ clients and brokers set on most messages.
func propertyName(k []byte) string {
	switch string(k) {
	case propTags:
		return propTags
	case propKeys:
		return propKeys
	case propUniqKey:
		return propUniqKey
	case "WAIT":
		return "WAIT"
	case "CLUSTER":
		return "CLUSTER"
	case "MIN_OFFSET":
		return "MIN_OFFSET"
	case "MAX_OFFSET":
		return "MAX_OFFSET"
	case "CONSUME_START_TIME":
		return "CONSUME_START_TIME"
	}
	return string(k)
}

// plainBody undoes RocketMQ body compression (SYSFLAG bit 0; the type in
// bits 8-10: 0 or 3 zlib, 1 lz4, 2 zstd), which a Kafka client cannot
// know about.
func plainBody(m remoting.MessageExt) ([]byte, error) {
	if m.SysFlag&remoting.SysFlagCompressed == 0 {
		return m.Body, nil
	}
	var rd io.Reader
	switch (m.SysFlag >> 8) & 0x7 {
	case 0, 3:
		z, err := zlib.NewReader(bytes.NewReader(m.Body))
		if err != nil {
			return nil, fmt.Errorf("%w: zlib: %w", ErrBody, err)
		}
		defer z.Close()
		rd = z
	case 1:
		rd = lz4.NewReader(bytes.NewReader(m.Body))
	case 2:
		z, err := zstd.NewReader(bytes.NewReader(m.Body), zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, fmt.Errorf("%w: zstd: %w", ErrBody, err)
		}
		defer z.Close()
		rd = z
	default:
		return nil, fmt.Errorf("%w: compression type %d", ErrBody, (m.SysFlag>>8)&0x7)
	}
	b, err := io.ReadAll(io.LimitReader(rd, maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBody, err)
	}
	if len(b) > maxBody {
		return nil, fmt.Errorf("%w: over %d bytes", ErrBody, maxBody)
	}
	return b, nil
}
