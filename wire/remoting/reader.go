package remoting

import (
	"encoding/binary"
	"fmt"
)

// reader reads big-endian fields from a byte slice. It keeps its first error
// (kbin style): after a failure every read returns zero values, and the
// caller checks err once.
type reader struct {
	b    []byte
	off  int
	err  error
	what error // sentinel to wrap: ErrMalformed or ErrCorrupt
}

func (r *reader) remaining() int { return len(r.b) - r.off }

// need reports whether n more bytes are available and records an error if
// not. field names the read in the error.
func (r *reader) need(n int, field string) bool {
	if r.err != nil {
		return false
	}
	if n < 0 || n > r.remaining() {
		r.err = fmt.Errorf("%w: %s needs %d bytes at offset %d, %d left", r.what, field, n, r.off, r.remaining())
		return false
	}
	return true
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: "+format, append([]any{r.what}, args...)...)
	}
}

func (r *reader) u8(field string) uint8 {
	if !r.need(1, field) {
		return 0
	}
	v := r.b[r.off]
	r.off++
	return v
}

func (r *reader) i16(field string) int16 {
	if !r.need(2, field) {
		return 0
	}
	v := int16(binary.BigEndian.Uint16(r.b[r.off:]))
	r.off += 2
	return v
}

func (r *reader) i32(field string) int32 {
	if !r.need(4, field) {
		return 0
	}
	v := int32(binary.BigEndian.Uint32(r.b[r.off:]))
	r.off += 4
	return v
}

func (r *reader) i64(field string) int64 {
	if !r.need(8, field) {
		return 0
	}
	v := int64(binary.BigEndian.Uint64(r.b[r.off:]))
	r.off += 8
	return v
}

// bytes returns the next n bytes, aliasing the input, with full capacity
// clipped so an append by the caller cannot overwrite what follows.
func (r *reader) bytes(n int, field string) []byte {
	if !r.need(n, field) {
		return nil
	}
	v := r.b[r.off : r.off+n : r.off+n]
	r.off += n
	return v
}

func appendU16(dst []byte, v uint16) []byte { return binary.BigEndian.AppendUint16(dst, v) }
func appendU32(dst []byte, v uint32) []byte { return binary.BigEndian.AppendUint32(dst, v) }
func appendU64(dst []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(dst, v) }

func putU32(b []byte, v uint32) { binary.BigEndian.PutUint32(b, v) }
func putU64(b []byte, v uint64) { binary.BigEndian.PutUint64(b, v) }

func fmtErr(sentinel error, format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{sentinel}, args...)...)
}
