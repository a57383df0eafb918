package kafka

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// Byte offsets of the record batch header fields (see the package doc).
const (
	offBaseOffset      = 0
	offBatchLength     = 8
	offLeaderEpoch     = 12
	offMagic           = 16
	offCRC             = 17
	offAttributes      = 21
	offLastOffsetDelta = 23
	offFirstTimestamp  = 27
	offMaxTimestamp    = 35
	offProducerID      = 43
	offProducerEpoch   = 51
	offBaseSequence    = 53
	offNumRecords      = 57

	// BatchHeaderSize is the size of a magic 2 batch header; records follow.
	BatchHeaderSize = 61
	// batchLengthOverhead is what BatchLength does not count: BaseOffset
	// and BatchLength itself.
	batchLengthOverhead = 12
)

// Attribute bits (KIP-98, KIP-32, KIP-534).
const (
	attrCodecMask     = 0x07
	attrLogAppendTime = 0x08
	attrTransactional = 0x10
	attrControl       = 0x20
)

// Compression codecs as stored in Attributes bits 0-2.
const (
	CodecNone   int8 = 0
	CodecGzip   int8 = 1
	CodecSnappy int8 = 2
	CodecLZ4    int8 = 3
	CodecZstd   int8 = 4
)

// Timestamp types (KIP-32), Attributes bit 3.
const (
	TimestampCreateTime    int8 = 0
	TimestampLogAppendTime int8 = 1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// BatchHeader is the fixed 61-byte header of a magic 2 record batch.
type BatchHeader struct {
	BaseOffset           int64
	BatchLength          int32
	PartitionLeaderEpoch int32
	Magic                int8
	CRC                  uint32
	Attributes           int16
	LastOffsetDelta      int32
	FirstTimestamp       int64
	MaxTimestamp         int64
	ProducerID           int64
	ProducerEpoch        int16
	BaseSequence         int32
	NumRecords           int32
}

// Compression returns the codec (CodecNone..CodecZstd; 5-7 are invalid).
func (h *BatchHeader) Compression() int8 { return int8(h.Attributes & attrCodecMask) }

// TimestampType returns TimestampCreateTime or TimestampLogAppendTime.
func (h *BatchHeader) TimestampType() int8 {
	if h.Attributes&attrLogAppendTime != 0 {
		return TimestampLogAppendTime
	}
	return TimestampCreateTime
}

// IsTransactional reports the transactional bit (KIP-98).
func (h *BatchHeader) IsTransactional() bool { return h.Attributes&attrTransactional != 0 }

// IsControl reports the control bit: the batch holds one commit/abort marker.
func (h *BatchHeader) IsControl() bool { return h.Attributes&attrControl != 0 }

// Size is the whole batch's size in bytes: BatchLength plus 12.
func (h *BatchHeader) Size() int { return int(h.BatchLength) + batchLengthOverhead }

// ParseBatchHeader reads the header at the start of b. It checks only what
// it needs to read safely: b holds a whole header, BatchLength covers at
// least the header, and the magic is 2 (0 and 1 give ErrLegacyMagic with
// BaseOffset, BatchLength and Magic filled). It does not check that b holds
// BatchLength bytes or the CRC; ValidateBatch does.
func ParseBatchHeader(b []byte) (BatchHeader, error) {
	var h BatchHeader
	if len(b) < offMagic+1 {
		return h, fmt.Errorf("kafka: batch header: %d bytes: %w", len(b), ErrTruncatedBatch)
	}
	h.BaseOffset = int64(binary.BigEndian.Uint64(b[offBaseOffset:]))
	h.BatchLength = int32(binary.BigEndian.Uint32(b[offBatchLength:]))
	h.PartitionLeaderEpoch = int32(binary.BigEndian.Uint32(b[offLeaderEpoch:]))
	h.Magic = int8(b[offMagic])
	switch {
	case h.Magic == 0 || h.Magic == 1:
		return h, fmt.Errorf("kafka: batch at offset %d: magic %d: %w", h.BaseOffset, h.Magic, ErrLegacyMagic)
	case h.Magic != 2:
		return h, fmt.Errorf("kafka: batch at offset %d: magic %d: %w", h.BaseOffset, h.Magic, ErrCorruptBatch)
	}
	if len(b) < BatchHeaderSize {
		return h, fmt.Errorf("kafka: batch header: %d bytes: %w", len(b), ErrTruncatedBatch)
	}
	if h.BatchLength < BatchHeaderSize-batchLengthOverhead {
		return h, fmt.Errorf("kafka: batch length %d under header size: %w", h.BatchLength, ErrCorruptBatch)
	}
	h.CRC = binary.BigEndian.Uint32(b[offCRC:])
	h.Attributes = int16(binary.BigEndian.Uint16(b[offAttributes:]))
	h.LastOffsetDelta = int32(binary.BigEndian.Uint32(b[offLastOffsetDelta:]))
	h.FirstTimestamp = int64(binary.BigEndian.Uint64(b[offFirstTimestamp:]))
	h.MaxTimestamp = int64(binary.BigEndian.Uint64(b[offMaxTimestamp:]))
	h.ProducerID = int64(binary.BigEndian.Uint64(b[offProducerID:]))
	h.ProducerEpoch = int16(binary.BigEndian.Uint16(b[offProducerEpoch:]))
	h.BaseSequence = int32(binary.BigEndian.Uint32(b[offBaseSequence:]))
	h.NumRecords = int32(binary.BigEndian.Uint32(b[offNumRecords:]))
	return h, nil
}

// SplitBatches splits a produce partition's records field (or a stored run
// of batches) into whole batches, each aliasing records, by the length at
// offset 8, which legacy message sets share. A trailing partial batch gives
// ErrTruncatedBatch. It returns dst with the batches appended, so a caller
// can reuse the slice. Each batch still needs ValidateBatch.
func SplitBatches(dst [][]byte, records []byte) ([][]byte, error) {
	for off := 0; off < len(records); {
		rest := records[off:]
		if len(rest) < batchLengthOverhead {
			return dst, fmt.Errorf("kafka: batch at byte %d: %d bytes left: %w", off, len(rest), ErrTruncatedBatch)
		}
		l := int64(int32(binary.BigEndian.Uint32(rest[offBatchLength:])))
		if l < 0 {
			return dst, fmt.Errorf("kafka: batch at byte %d: length %d: %w", off, l, ErrCorruptBatch)
		}
		size := l + batchLengthOverhead
		if size > int64(len(rest)) {
			return dst, fmt.Errorf("kafka: batch at byte %d: length %d, %d bytes left: %w", off, l, len(rest), ErrTruncatedBatch)
		}
		dst = append(dst, rest[:size:size])
		off += int(size)
	}
	return dst, nil
}

// SetBaseOffset writes BaseOffset in place. The CRC does not cover it.
// b must hold a whole batch header, else ErrTruncatedBatch.
func SetBaseOffset(b []byte, offset int64) error {
	if len(b) < BatchHeaderSize {
		return fmt.Errorf("kafka: set base offset: %d bytes: %w", len(b), ErrTruncatedBatch)
	}
	binary.BigEndian.PutUint64(b[offBaseOffset:], uint64(offset))
	return nil
}

// SetPartitionLeaderEpoch writes PartitionLeaderEpoch in place. The CRC does
// not cover it. b must hold a whole batch header, else ErrTruncatedBatch.
func SetPartitionLeaderEpoch(b []byte, epoch int32) error {
	if len(b) < BatchHeaderSize {
		return fmt.Errorf("kafka: set leader epoch: %d bytes: %w", len(b), ErrTruncatedBatch)
	}
	binary.BigEndian.PutUint32(b[offLeaderEpoch:], uint32(epoch))
	return nil
}

// SetLogAppendTime stamps a batch with the broker's time when the topic uses
// message.timestamp.type=LogAppendTime: it sets the timestamp-type bit,
// FirstTimestamp and MaxTimestamp to ts (Kafka's LogValidator does the same;
// consumers then read ts for every record), and recomputes the CRC.
// b must be exactly one whole batch (the CRC covers everything after
// Attributes), else ErrTruncatedBatch.
func SetLogAppendTime(b []byte, ts int64) error {
	if len(b) < BatchHeaderSize {
		return fmt.Errorf("kafka: set log append time: %d bytes: %w", len(b), ErrTruncatedBatch)
	}
	attrs := binary.BigEndian.Uint16(b[offAttributes:])
	binary.BigEndian.PutUint16(b[offAttributes:], attrs|attrLogAppendTime)
	binary.BigEndian.PutUint64(b[offFirstTimestamp:], uint64(ts))
	binary.BigEndian.PutUint64(b[offMaxTimestamp:], uint64(ts))
	binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:], castagnoli))
	return nil
}
