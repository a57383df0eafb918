package convert

import (
	"bytes"
	"compress/zlib"
	"errors"
	"fmt"
	"io"

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
	recs := make([]kafka.Record, len(msgs))
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
		recs[i] = record(m, spec.FirstTimestamp)
	}
	out, err := kafka.AppendBatch(dst, spec, recs, kafka.CodecNone)
	if err != nil {
		return dst, fmt.Errorf("convert: build batch at %d: %w", base, err)
	}
	return out, nil
}

// record maps one stored RocketMQ message (doc.go's table).
func record(m remoting.MessageExt, firstTS int64) kafka.Record {
	r := kafka.Record{TimestampDelta: m.BornTimestamp - firstTS}
	body, err := plainBody(m)
	if err != nil {
		body = m.Body
		r.Headers = append(r.Headers, kafka.RecordHeader{Key: HeaderConvertError, Value: []byte(err.Error())})
	}
	r.Value = body
	if body == nil {
		r.Value = []byte{}
	}
	items := remoting.ParsePropertyList(m.Properties)
	for _, p := range items {
		if h, ok := unescapeHeader(p); ok {
			r.Headers = append(r.Headers, h)
			continue
		}
		switch p.Key {
		case propKeys:
			if r.Key == nil {
				r.Key = []byte(p.Value)
			}
		case escKey:
			if k, err := b64.DecodeString(p.Value); err == nil {
				r.Key = k
				continue
			}
		}
		r.Headers = append(r.Headers, kafka.RecordHeader{Key: p.Key, Value: []byte(p.Value)})
	}
	if !wellFormed(m.Properties, items) {
		r.Headers = append(r.Headers, kafka.RecordHeader{Key: HeaderRawProperties, Value: m.Properties})
	}
	return r
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
