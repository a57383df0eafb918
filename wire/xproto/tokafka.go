package xproto

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"iter"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"

	"github.com/twinmq/twinmq/wire/remoting"
)

// ErrBody is returned for a RocketMQ body whose compression cannot be
// undone.
var ErrBody = errors.New("xproto: cannot decompress RocketMQ body")

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
//
// The batch is written once, at its exact size: when dst lacks the room,
// the new buffer is not zeroed first (bytes.Join), and each body is copied
// straight from msgs into it. The result does not alias msgs.
func ToKafka(dst []byte, base int64, msgs [][]byte) ([]byte, error) {
	if len(msgs) == 0 {
		return dst, nil
	}
	w := getWriter()
	defer w.put()
	if err := w.encode(base, msgs, 0, false); err != nil {
		return dst, err
	}
	start := len(dst)
	w.parts = w.appendParts(append(w.parts[:0], dst))
	if w.size <= cap(dst)-len(dst) {
		for _, p := range w.parts[1:] {
			dst = append(dst, p...)
		}
	} else {
		dst = bytes.Join(w.parts, nil)
	}
	b := dst[start:]
	binary.BigEndian.PutUint32(b[batchCRCPos:], crc32.Checksum(b[batchAttributesPos:], castagnoli))
	return dst, nil
}

// ToKafkaParts is ToKafka without the copy: it appends to parts the
// pieces of the batch, which written in order are the bytes ToKafka
// gives, and returns them with their total size. A body of at least
// ZeroCopyMin bytes is a piece by itself, a slice of msgs (or of its
// decompressed copy): the caller keeps msgs valid (the storage read
// unreleased) until the pieces are written, and must not change them.
// The other pieces are new memory, owned by the caller.
func ToKafkaParts(parts [][]byte, base int64, msgs [][]byte) ([][]byte, int, error) {
	if len(msgs) == 0 {
		return parts, 0, nil
	}
	w := getWriter()
	defer w.put()
	if err := w.encode(base, msgs, ZeroCopyMin, true); err != nil {
		return parts, 0, err
	}
	n := len(parts)
	parts = w.appendParts(parts)
	crc := crc32.Update(0, castagnoli, parts[n][batchAttributesPos:])
	for _, p := range parts[n+1:] {
		crc = crc32.Update(crc, castagnoli, p)
	}
	binary.BigEndian.PutUint32(parts[n][batchCRCPos:], crc)
	return parts, w.size, nil
}

// ZeroCopyMin is the smallest body ToKafkaParts does not copy. Each body
// left in place costs an iovec (and a CRC call); measured on loopback TCP
// (1 MiB responses of 100-byte framing pieces between bodies), writev of
// the pieces matched copying them into a new buffer and writing that at
// 256 and 512-byte bodies and was 15-70% faster from 1 KiB up; smaller
// bodies are copied.
const ZeroCopyMin = 256

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

// plainBody undoes RocketMQ body compression (SYSFLAG bit 0; the type in
// bits 8-10: 0 or 3 zlib, 1 lz4, 2 zstd), which a Kafka client cannot
// know about.
func plainBody(sysFlag int32, body []byte) ([]byte, error) {
	if sysFlag&remoting.SysFlagCompressed == 0 {
		return body, nil
	}
	var rd io.Reader
	switch (sysFlag >> 8) & 0x7 {
	case 0, 3:
		z, err := zlib.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, fmt.Errorf("%w: zlib: %w", ErrBody, err)
		}
		defer z.Close()
		rd = z
	case 1:
		rd = lz4.NewReader(bytes.NewReader(body))
	case 2:
		z, err := zstd.NewReader(bytes.NewReader(body), zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, fmt.Errorf("%w: zstd: %w", ErrBody, err)
		}
		defer z.Close()
		rd = z
	default:
		return nil, fmt.Errorf("%w: compression type %d", ErrBody, (sysFlag>>8)&0x7)
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
