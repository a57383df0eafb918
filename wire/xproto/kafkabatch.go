package xproto

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"slices"
	"sync"

	"github.com/twinmq/twinmq/wire/kafka"
	"github.com/twinmq/twinmq/wire/remoting"
)

// The record batch ToKafka writes (KIP-98, magic 2; the layout of
// wire/kafka, version 1), uncompressed, with no producer:
//
//	offset size  field
//	0      8     baseOffset               the first message's queue offset
//	8      4     batchLength              bytes after this field
//	12     4     partitionLeaderEpoch     0
//	16     1     magic                    2
//	17     4     crc                      CRC-32C of bytes 21..end
//	21     2     attributes               0: no compression, CreateTime
//	23     4     lastOffsetDelta          records - 1
//	27     8     firstTimestamp           born timestamp of the first readable message
//	35     8     maxTimestamp             firstTimestamp + max(0, deltas)
//	43     8     producerId               -1
//	51     2     producerEpoch            -1
//	53     4     baseSequence             -1
//	57     4     records count
//	61           records, each:
//	               length varint | attributes int8 (0) | timestampDelta varlong |
//	               offsetDelta varint (the record's index) | key varint length
//	               (-1: null) + bytes | value varint length + bytes (never
//	               null) | header count varint | per header: key varint
//	               length + bytes, value varint length (-1: null) + bytes
//
// batchWriter writes everything but the bodies into one buffer, meta, and
// notes where each body goes (cuts), so the batch is either joined once
// into its exact size (ToKafka) or written as pieces with the bodies left
// where they are (ToKafkaParts).
const (
	batchLengthPos     = 8
	batchCRCPos        = 17
	batchAttributesPos = 21
	batchHeaderLen     = 61
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// batchWriter is the scratch of one conversion; writers pools them.
type batchWriter struct {
	views  []remoting.StoredView
	errs   []error  // why message i could not be read (nil: views[i] is good)
	meta   []byte   // pooled: never handed out
	out    []byte   // the meta of the batch: meta, or a copy of it (fresh)
	cuts   []int    // bodies[j] goes after out[:cuts[j]]
	bodies [][]byte // the bodies not copied into meta
	hdrs   []byte   // one record's encoded headers
	parts  [][]byte // ToKafka's list of pieces to join
	size   int      // the batch's bytes: meta and bodies
}

var writers = sync.Pool{New: func() any { return new(batchWriter) }}

func getWriter() *batchWriter { return writers.Get().(*batchWriter) }

// maxRetainedMeta bounds the meta buffer a pooled writer keeps.
const maxRetainedMeta = 1 << 20

// put drops the writer's references into the converted messages and
// pools it.
func (w *batchWriter) put() {
	clear(w.views)
	clear(w.errs)
	clear(w.bodies)
	clear(w.parts)
	w.out = nil
	if cap(w.meta) > maxRetainedMeta {
		w.meta = nil
	}
	writers.Put(w)
}

// encode writes the batch of msgs at base into meta, cutting out each
// body of at least zeroCopyMin bytes (all non-empty ones for 0). With
// fresh, out is a new buffer that the caller may keep; without, out is
// the pooled meta, to be copied before put.
func (w *batchWriter) encode(base int64, msgs [][]byte, zeroCopyMin int, fresh bool) error {
	if len(msgs) > math.MaxInt32 {
		return fmt.Errorf("xproto: build batch at %d: %d records: %w", base, len(msgs), kafka.ErrTooLarge)
	}
	// Pass 1: read the messages in place (remoting.StoredView), for the
	// batch's timestamps (before the records, so the header is final when
	// they are written) and the size of meta.
	w.views = slices.Grow(w.views[:0], len(msgs))[:len(msgs)]
	w.errs = slices.Grow(w.errs[:0], len(msgs))[:len(msgs)]
	var first int64
	found, est := false, batchHeaderLen
	for i, raw := range msgs {
		v := &w.views[i]
		_, err := v.Parse(raw)
		w.errs[i] = err
		if err != nil {
			est += 256
			continue
		}
		if !found {
			first, found = v.BornTimestamp, true
		}
		est += 32 + 3*len(v.Properties)
		if len(v.Body) < zeroCopyMin {
			est += len(v.Body)
		}
	}
	var maxDelta int64
	for i := range w.views {
		if w.errs[i] == nil {
			maxDelta = max(maxDelta, w.views[i].BornTimestamp-first)
		}
	}
	b := slices.Grow(w.meta[:0], est)
	b = binary.BigEndian.AppendUint64(b, uint64(base))
	b = append(b, 0, 0, 0, 0) // batchLength, below
	b = append(b, 0, 0, 0, 0) // partitionLeaderEpoch
	b = append(b, 2)          // magic
	b = append(b, 0, 0, 0, 0) // crc, by the caller
	b = append(b, 0, 0)       // attributes
	b = binary.BigEndian.AppendUint32(b, uint32(len(msgs)-1))
	b = binary.BigEndian.AppendUint64(b, uint64(first))
	b = binary.BigEndian.AppendUint64(b, uint64(first+maxDelta))
	b = binary.BigEndian.AppendUint64(b, math.MaxUint64) // producerId -1
	b = binary.BigEndian.AppendUint16(b, math.MaxUint16) // producerEpoch -1
	b = binary.BigEndian.AppendUint32(b, math.MaxUint32) // baseSequence -1
	b = binary.BigEndian.AppendUint32(b, uint32(len(msgs)))

	// Pass 2: the records.
	w.cuts, w.bodies = w.cuts[:0], w.bodies[:0]
	w.size = 0
	for i := range msgs {
		var key, value []byte
		var tsDelta int64
		var nh int
		w.hdrs = w.hdrs[:0]
		if err := w.errs[i]; err != nil {
			// A damaged record: an empty value saying why.
			w.hdrs, nh = appendHeader(w.hdrs, HeaderConvertError, []byte(err.Error())), 1
		} else {
			v := &w.views[i]
			tsDelta = v.BornTimestamp - first
			body, err := plainBody(v.SysFlag, v.Body)
			if err != nil {
				body = v.Body
				w.hdrs, nh = appendHeader(w.hdrs, HeaderConvertError, []byte(err.Error())), 1
			}
			value = body
			key, nh = w.appendHeaders(v.Properties, nh)
		}
		n := 1 + kafka.VarintLen(tsDelta) + kafka.VarintLen(int64(i)) + nullableLen(key) +
			kafka.VarintLen(int64(len(value))) + len(value) + kafka.VarintLen(int64(nh)) + len(w.hdrs)
		b = binary.AppendVarint(b, int64(n))
		b = append(b, 0) // attributes
		b = binary.AppendVarint(b, tsDelta)
		b = binary.AppendVarint(b, int64(i))
		b = appendNullable(b, key)
		b = binary.AppendVarint(b, int64(len(value)))
		if len(value) > 0 && len(value) >= zeroCopyMin {
			w.cuts = append(w.cuts, len(b))
			w.bodies = append(w.bodies, value)
			w.size += len(value)
		} else {
			b = append(b, value...)
		}
		b = binary.AppendVarint(b, int64(nh))
		b = append(b, w.hdrs...)
	}
	w.size += len(b)
	if w.size-batchLengthPos-4 > math.MaxInt32 {
		return fmt.Errorf("xproto: build batch at %d: %d bytes: %w", base, w.size, kafka.ErrTooLarge)
	}
	binary.BigEndian.PutUint32(b[batchLengthPos:], uint32(w.size-batchLengthPos-4))
	w.meta, w.out = b, b
	if fresh {
		// Copied out of the pooled buffer at its exact size: append to a
		// nil slice does not zero the new memory first, as make would.
		w.out = append([]byte(nil), b...)
	}
	return nil
}

// appendHeaders appends the headers of a properties string to w.hdrs
// (docs/cross-protocol.md: escaped headers restored, KEYS and TWINMQ_KEY
// giving the key, a malformed string added whole) and returns the record
// key and the header count, starting from nh.
func (w *batchWriter) appendHeaders(props []byte, nh int) (key []byte, _ int) {
	wellFormed := true
	for k, v := range eachProperty(props, &wellFormed) {
		if bytes.HasPrefix(k, escHeaderPrefixBytes) {
			// Rare (a Kafka header RocketMQ could not carry): the strings
			// are fine here.
			if h, ok := unescapeHeader(remoting.Property{Key: string(k), Value: string(v)}); ok {
				w.hdrs = appendHeader(w.hdrs, h.Key, h.Value)
				nh++
				continue
			}
		}
		switch string(k) {
		case propKeys:
			if key == nil {
				key = v
			}
		case escKey:
			if k, err := b64.AppendDecode(nil, v); err == nil {
				key = k
				continue
			}
		}
		w.hdrs = appendHeader(w.hdrs, k, v)
		nh++
	}
	if !wellFormed {
		w.hdrs = appendHeader(w.hdrs, HeaderRawProperties, props)
		nh++
	}
	return key, nh
}

var escHeaderPrefixBytes = []byte(escHeaderPrefix)

// appendParts appends the batch's pieces: out cut around the bodies.
func (w *batchWriter) appendParts(parts [][]byte) [][]byte {
	parts = slices.Grow(parts, 2*len(w.cuts)+1)
	prev, m := 0, w.out
	for j, c := range w.cuts {
		parts = append(parts, m[prev:c:c], w.bodies[j])
		prev = c
	}
	return append(parts, m[prev:len(m):len(m)])
}

// appendHeader appends one record header; a nil value is null.
func appendHeader[K string | []byte](dst []byte, k K, v []byte) []byte {
	dst = binary.AppendVarint(dst, int64(len(k)))
	dst = append(dst, k...)
	return appendNullable(dst, v)
}

// appendNullable appends a key or a header value: nil is null.
func appendNullable(dst, b []byte) []byte {
	if b == nil {
		return binary.AppendVarint(dst, -1)
	}
	dst = binary.AppendVarint(dst, int64(len(b)))
	return append(dst, b...)
}

func nullableLen(b []byte) int {
	if b == nil {
		return 1
	}
	return kafka.VarintLen(int64(len(b))) + len(b)
}
