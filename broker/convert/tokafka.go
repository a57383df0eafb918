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
// messages msgs, which must have consecutive queue offsets (each becomes
// the record at its own offset). It returns the batch and how many
// messages went into it: a gap in the offsets ends the batch early, and
// the caller converts the rest into the next batch.
func ToKafka(dst []byte, msgs [][]byte) ([]byte, int, error) {
	var recs []kafka.Record
	var spec kafka.BatchSpec
	n := 0
	for i, raw := range msgs {
		m, _, err := remoting.DecodeStoredMessage(raw)
		if err != nil {
			return dst, 0, fmt.Errorf("convert: stored message: %w", err)
		}
		if i == 0 {
			spec = kafka.BatchSpec{BaseOffset: m.QueueOffset, FirstTimestamp: m.BornTimestamp,
				ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}
		} else if m.QueueOffset != spec.BaseOffset+int64(i) {
			break
		}
		r, err := record(m, spec.FirstTimestamp)
		if err != nil {
			return dst, 0, err
		}
		recs = append(recs, r)
		n++
	}
	if n == 0 {
		return dst, 0, nil
	}
	out, err := kafka.AppendBatch(dst, spec, recs, kafka.CodecNone)
	if err != nil {
		return dst, 0, fmt.Errorf("convert: build batch: %w", err)
	}
	return out, n, nil
}

func record(m remoting.MessageExt, firstTS int64) (kafka.Record, error) {
	body, err := plainBody(m)
	if err != nil {
		return kafka.Record{}, err
	}
	r := kafka.Record{TimestampDelta: m.BornTimestamp - firstTS, Value: body}
	if body == nil {
		r.Value = []byte{}
	}
	for _, p := range remoting.ParsePropertyList(m.Properties) {
		if p.Key == propKeys {
			r.Key = []byte(p.Value)
		}
		r.Headers = append(r.Headers, kafka.RecordHeader{Key: p.Key, Value: []byte(p.Value)})
	}
	return r, nil
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
