package kafka

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"sync"
)

// minRecordSize is the smallest encoded record: length, attributes,
// timestampDelta, offsetDelta, keyLength, valueLength and headerCount, one
// byte each. It bounds NumRecords against the bytes present.
const minRecordSize = 7

// Record is one record of a batch. Key, Value and header values alias the
// batch (or the BatchReader's decompression buffer) and are valid only
// until the callback returns; Headers is reused across records. Header keys
// are real strings and may be kept.
type Record struct {
	Attributes     int8
	TimestampDelta int64
	OffsetDelta    int32
	Key            []byte // nil when null
	Value          []byte // nil when null
	Headers        []RecordHeader
}

// RecordHeader is one record header. Value is nil when null.
type RecordHeader struct {
	Key   string
	Value []byte
}

// BatchReader validates and iterates record batches, keeping a
// decompression buffer and a headers slice between batches so that
// iterating needs no allocation per record. It is not safe for concurrent
// use; the zero value is ready.
type BatchReader struct {
	// MaxDecompressed bounds a compressed batch's decompressed records
	// section; <= 0 means DefaultMaxDecompressed. Over it: ErrTooLarge.
	MaxDecompressed int
	// Budget, if set, is charged for the decompression buffer's growth
	// while a batch is read, and released when the read returns; a
	// refusal fails the read with ErrBudget.
	Budget Budget

	buf     []byte
	headers []RecordHeader
}

// maxRetainedBuf caps the decompression buffer a reader keeps (and that
// the pool keeps) so one huge batch does not pin memory forever.
const maxRetainedBuf = 4 << 20

var batchReaders = sync.Pool{New: func() any { return new(BatchReader) }}

// Validate checks that b is exactly one well-formed magic 2 batch, as a
// broker must before appending a produced batch:
//   - len(b) == BatchLength+12 (short: ErrTruncatedBatch; long: ErrCorruptBatch);
//   - magic 2 (0/1: ErrLegacyMagic), codec 0..4, CRC-32C of bytes 21..end
//     (ErrCRCMismatch with ErrCorruptBatch);
//   - NumRecords >= 1 and LastOffsetDelta == NumRecords-1;
//   - after decompression exactly NumRecords records, each with
//     consistent varint lengths, OffsetDelta equal to its index, a
//     non-null header key, and no byte left over.
//
// fn, if not nil, sees each record as it is checked, saving a second pass
// (and a second decompression) for key and header extraction; if Validate
// then fails, discard what fn collected. An error from fn stops the walk and
// is returned as is. It does not check BaseOffset, the control bit or the
// producer fields: those are the adapter's (produce) rules.
func (r *BatchReader) Validate(b []byte, fn func(Record) error) (BatchHeader, error) {
	return r.read(b, true, fn)
}

// ForEach calls fn for each record of batch b, decompressing when needed.
// It checks everything Validate does except the CRC, so it is safe on any
// input; use it on batches validated before (stored ones).
func (r *BatchReader) ForEach(b []byte, fn func(Record) error) (BatchHeader, error) {
	return r.read(b, false, fn)
}

// ValidateBatch is BatchReader.Validate without a callback, with a pooled
// reader. maxDecompressed <= 0 means DefaultMaxDecompressed.
func ValidateBatch(b []byte, maxDecompressed int) (BatchHeader, error) {
	r := batchReaders.Get().(*BatchReader)
	r.MaxDecompressed = maxDecompressed
	h, err := r.Validate(b, nil)
	batchReaders.Put(r)
	return h, err
}

// ValidateBatchFunc is BatchReader.Validate with a pooled reader charged
// to budget (nil: none) and the default decompression limit. The pooled
// reader keeps its decompression buffer: a new one per produced batch,
// grown by doubling and cleared as it grew, was a third of the broker's
// CPU with four lz4 producers (issue 19).
func ValidateBatchFunc(b []byte, budget Budget, fn func(Record) error) (BatchHeader, error) {
	r := batchReaders.Get().(*BatchReader)
	r.MaxDecompressed, r.Budget = 0, budget
	h, err := r.Validate(b, fn)
	r.Budget = nil
	batchReaders.Put(r)
	return h, err
}

// ForEachRecord is BatchReader.ForEach with a pooled reader.
func ForEachRecord(b []byte, maxDecompressed int, fn func(Record) error) error {
	r := batchReaders.Get().(*BatchReader)
	r.MaxDecompressed = maxDecompressed
	_, err := r.ForEach(b, fn)
	batchReaders.Put(r)
	return err
}

// errFromFn marks an error returned by the caller's fn so it passes through
// unwrapped.
type errFromFn struct{ err error }

func (e errFromFn) Error() string { return e.err.Error() }

func (r *BatchReader) read(b []byte, checkCRC bool, fn func(Record) error) (BatchHeader, error) {
	h, err := ParseBatchHeader(b)
	if err != nil {
		return h, err
	}
	if size := h.Size(); size != len(b) {
		if size > len(b) {
			return h, fmt.Errorf("kafka: batch length %d, %d bytes: %w", h.BatchLength, len(b), ErrTruncatedBatch)
		}
		return h, fmt.Errorf("kafka: batch length %d, %d bytes: trailing bytes: %w", h.BatchLength, len(b), ErrCorruptBatch)
	}
	if checkCRC {
		if got := crc32.Checksum(b[offAttributes:], castagnoli); got != h.CRC {
			return h, fmt.Errorf("kafka: batch crc %08x, computed %08x: %w: %w", h.CRC, got, ErrCorruptBatch, ErrCRCMismatch)
		}
	}
	codec := h.Compression()
	if codec > CodecZstd {
		return h, fmt.Errorf("kafka: batch codec %d: %w: %w", codec, ErrCorruptBatch, ErrUnknownCodec)
	}
	if h.NumRecords < 1 || h.LastOffsetDelta != h.NumRecords-1 {
		return h, fmt.Errorf("kafka: batch NumRecords %d, LastOffsetDelta %d: %w", h.NumRecords, h.LastOffsetDelta, ErrCorruptBatch)
	}
	records := b[BatchHeaderSize:]
	if codec != CodecNone {
		if cap(r.buf) > maxRetainedBuf {
			r.buf = nil
		}
		if r.Budget != nil && cap(r.buf) > 0 {
			// A kept buffer is output in use too: charged while read, or
			// dropped when the budget has no room for it.
			if n := int64(cap(r.buf)); r.Budget.TryCharge(n) {
				defer r.Budget.Release(n)
			} else {
				r.buf = nil
			}
		}
		var charged int64
		r.buf, charged, err = decompress(codec, records, r.buf[:0], r.MaxDecompressed, r.Budget)
		if err != nil {
			return h, err
		}
		if charged > 0 {
			defer r.Budget.Release(charged)
		}
		records = r.buf
	}
	if int64(h.NumRecords)*minRecordSize > int64(len(records)) {
		return h, fmt.Errorf("kafka: batch NumRecords %d in %d bytes: %w", h.NumRecords, len(records), ErrCorruptBatch)
	}
	err = r.walk(records, h.NumRecords, fn)
	if cap(r.buf) > maxRetainedBuf {
		r.buf = nil
	}
	if fe, ok := err.(errFromFn); ok {
		return h, fe.err
	}
	return h, err
}

// walk decodes n records from b, which must hold exactly them.
func (r *BatchReader) walk(b []byte, n int32, fn func(Record) error) error {
	for i := range n {
		rec, rest, hdrs, err := readRecord(b, r.headers[:0])
		r.headers = hdrs
		if err != nil {
			return fmt.Errorf("kafka: record %d: %w", i, err)
		}
		if rec.OffsetDelta != i {
			return fmt.Errorf("kafka: record %d: offset delta %d: %w", i, rec.OffsetDelta, ErrCorruptBatch)
		}
		if fn != nil {
			if err := fn(rec); err != nil {
				return errFromFn{err}
			}
		}
		b = rest
	}
	if len(b) != 0 {
		return fmt.Errorf("kafka: %d bytes after %d records: %w", len(b), n, ErrCorruptBatch)
	}
	return nil
}

var errRecordEncoding = errors.New("bad varint or length")

// readRecord decodes the record at the start of b and returns it with the
// bytes after it. hdrs is the reused headers slice: a header key equal to
// the one at the same index in the previous record reuses that string, so
// batches whose records carry the same header names decode without
// allocating.
func readRecord(b []byte, hdrs []RecordHeader) (Record, []byte, []RecordHeader, error) {
	var rec Record
	l, n := Varint32(b)
	if n <= 0 || l < 0 || int64(l) > int64(len(b)-n) {
		return rec, nil, hdrs, fmt.Errorf("length: %w: %w", errRecordEncoding, ErrCorruptBatch)
	}
	body, rest := b[n:n+int(l)], b[n+int(l):]
	d := decoder{b: body}
	rec.Attributes = int8(d.byte())
	rec.TimestampDelta = d.varlong()
	rec.OffsetDelta = d.varint()
	rec.Key = d.nullableBytes()
	rec.Value = d.nullableBytes()
	count := d.varint()
	if count < 0 || int64(count)*2 > int64(len(d.b)) {
		d.bad = true
	}
	for j := 0; j < int(count) && !d.bad; j++ {
		kl := d.varint()
		if kl < 0 || int64(kl) > int64(len(d.b)) {
			d.bad = true // a null or overlong header key
			break
		}
		kb := d.b[:kl]
		d.b = d.b[kl:]
		v := d.nullableBytes()
		if j < cap(hdrs) && hdrs[:j+1][j].Key == string(kb) {
			hdrs = append(hdrs, RecordHeader{Key: hdrs[:j+1][j].Key, Value: v})
		} else {
			hdrs = append(hdrs, RecordHeader{Key: string(kb), Value: v})
		}
	}
	if d.bad || len(d.b) != 0 {
		return rec, nil, hdrs, fmt.Errorf("record of %d bytes: %w: %w", l, errRecordEncoding, ErrCorruptBatch)
	}
	rec.Headers = hdrs
	return rec, rest, hdrs, nil
}

// decoder reads a record's fields; it keeps its first failure in bad and
// is checked once (kbin's habit).
type decoder struct {
	b   []byte
	bad bool
}

func (d *decoder) byte() byte {
	if len(d.b) < 1 {
		d.bad = true
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) varlong() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.bad = true
		d.b = nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int32 {
	v, n := Varint32(d.b)
	if n <= 0 {
		d.bad = true
		d.b = nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

// nullableBytes reads a varint length (-1 = null) and that many bytes.
func (d *decoder) nullableBytes() []byte {
	l := d.varint()
	if l == -1 || d.bad {
		return nil
	}
	if l < 0 || int64(l) > int64(len(d.b)) {
		d.bad = true
		d.b = nil
		return nil
	}
	v := d.b[:l:l]
	d.b = d.b[l:]
	return v
}

// Varint32 decodes a zig-zag varint that must fit an int32 (at most 5
// bytes, as Kafka's ByteUtils.readVarint). n <= 0 on failure.
func Varint32(b []byte) (int32, int) {
	if len(b) > 0 && b[0] < 0x80 {
		u := uint32(b[0])
		return int32(u>>1) ^ -int32(u&1), 1
	}
	v, n := binary.Varint(b)
	if n <= 0 || n > 5 || v < math.MinInt32 || v > math.MaxInt32 {
		return 0, -1
	}
	return int32(v), n
}
