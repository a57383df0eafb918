package kafka

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"math/bits"
	"sync"
)

// BatchSpec is the batch-level part of a batch that AppendBatch builds.
// For a batch without idempotence set ProducerID, ProducerEpoch and
// BaseSequence to -1 (what kgo, librdkafka and Kafka itself write).
type BatchSpec struct {
	BaseOffset           int64
	PartitionLeaderEpoch int32
	// Attributes carries the timestamp-type, transactional and control
	// bits; AppendBatch sets the codec bits from its codec argument.
	Attributes     int16
	FirstTimestamp int64
	ProducerID     int64
	ProducerEpoch  int16
	BaseSequence   int32
}

// compressScratch holds the uncompressed records section while AppendBatch
// compresses it into dst.
var compressScratch = sync.Pool{New: func() any { return new([]byte) }}

// AppendBatch appends a magic 2 batch holding records to dst and returns
// it. Record i gets OffsetDelta i whatever records[i].OffsetDelta says;
// timestamps are FirstTimestamp + TimestampDelta, and MaxTimestamp is the
// largest of them (FirstTimestamp under LogAppendTime). The CRC is computed
// over the final (compressed) bytes. On error dst is returned unchanged.
func AppendBatch(dst []byte, spec BatchSpec, records []Record, codec int8) ([]byte, error) {
	if len(records) == 0 {
		return dst, ErrEmptyBatch
	}
	if len(records) > math.MaxInt32 {
		return dst, fmt.Errorf("kafka: append batch: %d records: %w", len(records), ErrTooLarge)
	}
	if codec < CodecNone || codec > CodecZstd {
		return dst, fmt.Errorf("kafka: append batch: codec %d: %w", codec, ErrUnknownCodec)
	}
	start := len(dst)
	var maxDelta int64
	for i := range records {
		maxDelta = max(maxDelta, records[i].TimestampDelta)
	}
	attrs := spec.Attributes&^attrCodecMask | int16(codec)
	maxTS := spec.FirstTimestamp + maxDelta
	if attrs&attrLogAppendTime != 0 {
		maxTS = spec.FirstTimestamp
	}

	dst = binary.BigEndian.AppendUint64(dst, uint64(spec.BaseOffset))
	dst = append(dst, 0, 0, 0, 0) // BatchLength, below
	dst = binary.BigEndian.AppendUint32(dst, uint32(spec.PartitionLeaderEpoch))
	dst = append(dst, 2)          // Magic
	dst = append(dst, 0, 0, 0, 0) // CRC, below
	dst = binary.BigEndian.AppendUint16(dst, uint16(attrs))
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(records)-1))
	dst = binary.BigEndian.AppendUint64(dst, uint64(spec.FirstTimestamp))
	dst = binary.BigEndian.AppendUint64(dst, uint64(maxTS))
	dst = binary.BigEndian.AppendUint64(dst, uint64(spec.ProducerID))
	dst = binary.BigEndian.AppendUint16(dst, uint16(spec.ProducerEpoch))
	dst = binary.BigEndian.AppendUint32(dst, uint32(spec.BaseSequence))
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(records)))

	if codec == CodecNone {
		dst = appendRecords(dst, records)
	} else {
		sp := compressScratch.Get().(*[]byte)
		raw := appendRecords((*sp)[:0], records)
		var err error
		dst, err = Compress(codec, raw, dst)
		if cap(raw) <= maxRetainedBuf {
			*sp = raw[:0]
		}
		compressScratch.Put(sp)
		if err != nil {
			return dst[:start], err
		}
	}

	b := dst[start:]
	if len(b)-batchLengthOverhead > math.MaxInt32 {
		return dst[:start], fmt.Errorf("kafka: append batch: %d bytes: %w", len(b), ErrTooLarge)
	}
	binary.BigEndian.PutUint32(b[offBatchLength:], uint32(len(b)-batchLengthOverhead))
	binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:], castagnoli))
	return dst, nil
}

// appendRecords appends the encoded records (the uncompressed records
// section) to dst.
func appendRecords(dst []byte, records []Record) []byte {
	for i := range records {
		rec := &records[i]
		dst = binary.AppendVarint(dst, int64(recordBodySize(rec, int32(i))))
		dst = append(dst, byte(rec.Attributes))
		dst = binary.AppendVarint(dst, rec.TimestampDelta)
		dst = binary.AppendVarint(dst, int64(i))
		dst = appendNullableBytes(dst, rec.Key)
		dst = appendNullableBytes(dst, rec.Value)
		dst = binary.AppendVarint(dst, int64(len(rec.Headers)))
		for _, h := range rec.Headers {
			dst = binary.AppendVarint(dst, int64(len(h.Key)))
			dst = append(dst, h.Key...)
			dst = appendNullableBytes(dst, h.Value)
		}
	}
	return dst
}

func appendNullableBytes(dst, b []byte) []byte {
	if b == nil {
		return binary.AppendVarint(dst, -1)
	}
	dst = binary.AppendVarint(dst, int64(len(b)))
	return append(dst, b...)
}

// recordBodySize is the encoded size of rec after its length varint.
func recordBodySize(rec *Record, offsetDelta int32) int {
	n := 1 + VarintLen(rec.TimestampDelta) + VarintLen(int64(offsetDelta))
	n += nullableBytesLen(rec.Key) + nullableBytesLen(rec.Value)
	n += VarintLen(int64(len(rec.Headers)))
	for _, h := range rec.Headers {
		n += VarintLen(int64(len(h.Key))) + len(h.Key) + nullableBytesLen(h.Value)
	}
	return n
}

func nullableBytesLen(b []byte) int {
	if b == nil {
		return 1
	}
	return VarintLen(int64(len(b))) + len(b)
}

// VarintLen is the size of v as a zig-zag varint
// (binary.AppendVarint(nil, v)).
func VarintLen(v int64) int {
	u := uint64(v<<1) ^ uint64(v>>63)
	return (bits.Len64(u|1) + 6) / 7
}
