package kafka

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// DefaultMaxDecompressed is the decompressed-size limit used when a caller
// passes a limit <= 0: above Kafka's 100 MiB request limit's worth of
// records at a modest ratio, far below what a bomb would ask for.
const DefaultMaxDecompressed = 64 << 20

// zstdMaxWindow bounds the window a zstd frame may ask the decoder to
// allocate. Kafka producers use level-3-ish settings (kgo 64 KiB, others up
// to 8 MiB for large inputs).
const zstdMaxWindow = 16 << 20

// zstdPooledWindow is the largest window of a zstd decoder put back in
// the pool (kgo's frames use 64 KiB; others up to 8 MiB for large
// inputs, which then cost a new decoder each).
const zstdPooledWindow = 1 << 20

// zstdWindow is the window the zstd frame at the start of src asks for
// (its content size for a single-segment frame), or 0 if its header does
// not say (the decoder then fails on it or uses little), and the content
// size it declares (0: none; a batch of several frames decodes to more).
func zstdWindow(src []byte) (window, size int64) {
	var h zstd.Header
	if err := h.Decode(src); err != nil {
		return 0, 0
	}
	w := h.WindowSize
	if h.SingleSegment {
		w = h.FrameContentSize
	}
	if h.HasFCS {
		size = int64(min(h.FrameContentSize, 1<<40))
	}
	return int64(min(w, zstdMaxWindow)), size
}

// xerialMagic starts a snappy-java (xerial) framed stream: magic, then
// version and min-compatible version (int32 each), then chunks of int32
// length + raw snappy block. sarama and kafka-go send it; kgo and
// librdkafka send a raw block.
var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

const xerialHeaderSize = 16

// Codec pools. A sync.Pool of codecs is the package's only shared state.
var (
	gzipReaders = sync.Pool{New: func() any { return new(gzipReader) }}
	gzipWriters = sync.Pool{New: func() any {
		w := new(gzipWriter)
		w.w = gzip.NewWriter(&w.out)
		return w
	}}
	lz4Writers = sync.Pool{New: func() any {
		w := new(lz4Writer)
		w.w = lz4.NewWriter(&w.out)
		return w
	}}
	zstdReaders = sync.Pool{New: func() any {
		r := new(zstdReader)
		// Concurrency 1: stream decoding runs on the caller's goroutine.
		d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxWindow(zstdMaxWindow))
		r.d, r.err = d, err
		return r
	}}
	zstdWriters = sync.Pool{New: func() any {
		e, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithZeroFrames(true))
		return &zstdWriter{e: e, err: err}
	}}
)

type gzipReader struct {
	src bytes.Reader
	r   gzip.Reader
}

type gzipWriter struct {
	out appendWriter
	w   *gzip.Writer
}

type lz4Writer struct {
	out appendWriter
	w   *lz4.Writer
}

type zstdReader struct {
	src bytes.Reader
	d   *zstd.Decoder
	err error
}

type zstdWriter struct {
	e   *zstd.Encoder
	err error
}

// appendWriter is an io.Writer that appends to a slice: the streaming
// compressors write into the caller's dst through it.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// Budget bounds decompression output across the broker: it is charged
// for the output as it grows and released once the batch is read
// (netio.Budget implements it). TryCharge must not block.
type Budget interface {
	TryCharge(n int64) bool
	Release(n int64)
}

// Decompress appends the decompression of src (one batch's records
// section) to dst. More than limit decompressed bytes (limit <= 0 means
// DefaultMaxDecompressed) gives ErrTooLarge; bad input wraps
// ErrCorruptBatch; a codec outside 1..4 gives ErrUnknownCodec (CodecNone is
// not a compression and is refused too). Snappy accepts both the raw block
// and the xerial framing.
func Decompress(codec int8, src, dst []byte, limit int) ([]byte, error) {
	dst, _, err := decompress(codec, src, dst, limit, nil)
	return dst, err
}

// decompress is Decompress charging budget (if not nil) for every byte
// of dst's growth; it returns what it charged, which the caller releases.
// A refused charge fails with ErrBudget, having released its charge.
func decompress(codec int8, src, dst []byte, limit int, budget Budget) (_ []byte, charged int64, err error) {
	if limit <= 0 {
		limit = DefaultMaxDecompressed
	}
	g := grower{budget: budget}
	defer func() {
		if err != nil && g.charged > 0 {
			budget.Release(g.charged)
			g.charged = 0
		}
		charged = g.charged
	}()
	start := len(dst)
	switch codec {
	case CodecGzip:
		r := gzipReaders.Get().(*gzipReader)
		r.src.Reset(src)
		if err = r.r.Reset(&r.src); err == nil {
			dst, err = g.readLimited(&r.r, dst, limit, len(src))
		}
		r.src.Reset(nil)
		gzipReaders.Put(r)
	case CodecSnappy:
		dst, err = g.decodeSnappy(src, dst, limit)
	case CodecLZ4:
		dst, err = g.decodeLZ4(src, dst, limit)
	case CodecZstd:
		// The decoder keeps a window of the frame's size (up to
		// zstdMaxWindow) besides the output: charged too, before the
		// decoder allocates it, and a decoder that grew one larger than
		// zstdPooledWindow is dropped, not pooled, so a burst of such
		// frames does not stay held in the pool.
		window, size := zstdWindow(src)
		if size > int64(limit) {
			// The frame says it is larger: refuse before decoding.
			return dst, 0, fmt.Errorf("kafka: decompress codec %d: frame of %d bytes over %d: %w", codec, size, limit, ErrTooLarge)
		}
		if budget != nil && window > 0 {
			if !budget.TryCharge(window) {
				return dst, 0, fmt.Errorf("kafka: decompress codec %d: %w", codec, ErrBudget)
			}
			g.charged += window
		}
		r := zstdReaders.Get().(*zstdReader)
		if err = r.err; err == nil {
			r.src.Reset(src)
			if err = r.d.Reset(&r.src); err == nil {
				// A declared content size sizes the output at once: no
				// doubling copies left for the collector (sixteen 60 MiB
				// bombs peaked 200 MiB higher without it).
				dst, err = g.readLimitedSized(r.d, dst, limit, len(src), int(size))
			}
			r.src.Reset(nil)
		}
		if window <= zstdPooledWindow {
			zstdReaders.Put(r)
		} else if r.d != nil {
			r.d.Close()
		}
	default:
		return dst, 0, fmt.Errorf("kafka: decompress codec %d: %w", codec, ErrUnknownCodec)
	}
	if err != nil {
		switch {
		case errors.Is(err, ErrTooLarge):
			return dst[:start], 0, fmt.Errorf("kafka: decompress codec %d: over %d bytes: %w", codec, limit, ErrTooLarge)
		case errors.Is(err, ErrBudget):
			return dst[:start], 0, fmt.Errorf("kafka: decompress codec %d: %w", codec, ErrBudget)
		}
		return dst[:start], 0, fmt.Errorf("kafka: decompress codec %d: %w: %v", codec, ErrCorruptBatch, err)
	}
	return dst, 0, nil
}

// grower grows decompression output, charging its budget (if any) for
// every byte of capacity added.
type grower struct {
	budget  Budget
	charged int64
}

// grow returns dst with room for at least n more bytes.
func (g *grower) grow(dst []byte, n int) ([]byte, error) {
	if g.budget == nil {
		return slices.Grow(dst, n), nil
	}
	want := int64(len(dst) + n - cap(dst))
	if want <= 0 {
		return dst, nil
	}
	// Charge before allocating: a refused growth allocates nothing (and
	// the decoder has read nothing yet on the first one).
	if !g.budget.TryCharge(want) {
		return dst, ErrBudget
	}
	g.charged += want
	before := cap(dst)
	dst = slices.Grow(dst, n)
	if extra := int64(cap(dst)-before) - want; extra > 0 && g.budget.TryCharge(extra) {
		g.charged += extra // the allocator's rounding, when it fits
	}
	return dst, nil
}

// readLimited appends all of r to dst, failing with ErrTooLarge past limit
// bytes. It never allocates past limit+1 new bytes; hint (the compressed
// size) sizes the first growth.
func (g *grower) readLimited(r io.Reader, dst []byte, limit, hint int) ([]byte, error) {
	return g.readLimitedSized(r, dst, limit, hint, 0)
}

// readLimitedSized is readLimited whose first growth is size+1 bytes
// when size, the output the input declares, is positive (the +1 finds
// the end without growing again).
func (g *grower) readLimitedSized(r io.Reader, dst []byte, limit, hint, size int) ([]byte, error) {
	start := len(dst)
	grow := min(max(4*hint, 4<<10), limit+1)
	if size > 0 {
		grow = min(size+1, limit+1)
	}
	for {
		if len(dst) == cap(dst) {
			room := start + limit + 1 - len(dst)
			var err error
			if dst, err = g.grow(dst, min(grow, room)); err != nil {
				return dst, err
			}
			grow *= 2
		}
		n, err := r.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if len(dst)-start > limit {
			return dst, ErrTooLarge
		}
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return dst, err
		}
	}
}

// decodeSnappy decodes a raw snappy block or a xerial-framed stream.
func (g *grower) decodeSnappy(src, dst []byte, limit int) ([]byte, error) {
	if len(src) < xerialHeaderSize || !bytes.HasPrefix(src, xerialMagic) {
		return g.snappyBlock(src, dst, limit)
	}
	start := len(dst)
	for b := src[xerialHeaderSize:]; len(b) > 0; {
		if len(b) < 4 {
			return dst, errors.New("snappy: truncated xerial chunk length")
		}
		l := binary.BigEndian.Uint32(b)
		if uint64(l) > uint64(len(b)-4) {
			return dst, errors.New("snappy: xerial chunk past end")
		}
		var err error
		if dst, err = g.snappyBlock(b[4:4+l], dst, limit-(len(dst)-start)); err != nil {
			return dst, err
		}
		b = b[4+l:]
	}
	return dst, nil
}

// snappyBlock appends one raw snappy block, checking its declared size
// against limit before allocating.
func (g *grower) snappyBlock(src, dst []byte, limit int) ([]byte, error) {
	n, err := s2.DecodedLen(src)
	if err != nil {
		return dst, err
	}
	if n > limit {
		return dst, ErrTooLarge
	}
	if dst, err = g.grow(dst, n); err != nil {
		return dst, err
	}
	out, err := s2.Decode(dst[len(dst):len(dst)+n], src)
	if err != nil {
		return dst, err
	}
	if len(out) != n {
		return dst, errors.New("snappy: decoded length mismatch")
	}
	tail := dst[len(dst) : len(dst)+n]
	if n > 0 && &out[0] != &tail[0] {
		copy(tail, out) // s2 decoded elsewhere; not expected with room for n
	}
	return dst[:len(dst)+n], nil
}

// Compress appends src compressed with codec to dst: gzip (default level),
// snappy as a raw block (what kgo and librdkafka send; every client reads
// it), lz4 as an LZ4 frame (KIP-57), zstd as one frame.
func Compress(codec int8, src, dst []byte) ([]byte, error) {
	switch codec {
	case CodecGzip:
		w := gzipWriters.Get().(*gzipWriter)
		w.out.b = dst
		w.w.Reset(&w.out)
		_, err := w.w.Write(src)
		if err == nil {
			err = w.w.Close()
		}
		dst, w.out.b = w.out.b, nil
		gzipWriters.Put(w)
		return dst, wrapCompress(codec, err)
	case CodecSnappy:
		m := s2.MaxEncodedLen(len(src))
		if m < 0 {
			return dst, fmt.Errorf("kafka: compress snappy: %d bytes: %w", len(src), ErrTooLarge)
		}
		dst = slices.Grow(dst, m)
		out := s2.EncodeSnappy(dst[len(dst):len(dst)+m], src)
		return dst[:len(dst)+len(out)], nil
	case CodecLZ4:
		w := lz4Writers.Get().(*lz4Writer)
		w.out.b = dst
		w.w.Reset(&w.out)
		_, err := w.w.Write(src)
		if err == nil {
			err = w.w.Close()
		}
		dst, w.out.b = w.out.b, nil
		lz4Writers.Put(w)
		return dst, wrapCompress(codec, err)
	case CodecZstd:
		w := zstdWriters.Get().(*zstdWriter)
		defer zstdWriters.Put(w)
		if w.err != nil {
			return dst, wrapCompress(codec, w.err)
		}
		return w.e.EncodeAll(src, dst), nil
	default:
		return dst, fmt.Errorf("kafka: compress codec %d: %w", codec, ErrUnknownCodec)
	}
}

func wrapCompress(codec int8, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("kafka: compress codec %d: %w", codec, err)
}
