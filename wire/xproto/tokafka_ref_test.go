package xproto

import (
	"bytes"
	"fmt"

	"github.com/twinmq/twinmq/wire/kafka"
	"github.com/twinmq/twinmq/wire/remoting"
)

// refToKafka is ToKafka as it was before it encoded records itself: the
// stored messages fully decoded (remoting.DecodeStoredMessage), every
// record built as a kafka.Record and the batch written by
// kafka.AppendBatch. ToKafka and ToKafkaParts must give the same bytes
// (TestToKafkaSameAsReference, FuzzToKafka): the mapping of
// docs/cross-protocol.md is unchanged by the faster encoder.
func refToKafka(dst []byte, base int64, msgs [][]byte) ([]byte, error) {
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
		recs[i] = refRecord(m, spec.FirstTimestamp)
	}
	out, err := kafka.AppendBatch(dst, spec, recs, kafka.CodecNone)
	if err != nil {
		return dst, fmt.Errorf("xproto: build batch at %d: %w", base, err)
	}
	return out, nil
}

func refRecord(m remoting.MessageExt, firstTS int64) kafka.Record {
	r := kafka.Record{TimestampDelta: m.BornTimestamp - firstTS}
	body, err := plainBody(m.SysFlag, m.Body)
	if err != nil {
		body = m.Body
		r.Headers = append(r.Headers, kafka.RecordHeader{Key: HeaderConvertError, Value: []byte(err.Error())})
	}
	r.Value = body
	if body == nil {
		r.Value = []byte{}
	}
	wellFormed := true
	for k, v := range eachProperty(m.Properties, &wellFormed) {
		if bytes.HasPrefix(k, []byte(escHeaderPrefix)) {
			if h, ok := unescapeHeader(remoting.Property{Key: string(k), Value: string(v)}); ok {
				r.Headers = append(r.Headers, h)
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
		r.Headers = append(r.Headers, kafka.RecordHeader{Key: string(k), Value: v})
	}
	if !wellFormed {
		r.Headers = append(r.Headers, kafka.RecordHeader{Key: HeaderRawProperties, Value: m.Properties})
	}
	return r
}
