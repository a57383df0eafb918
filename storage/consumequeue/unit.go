package consumequeue

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// UnitSize is the size of one unit in bytes (format version 1).
const UnitSize = 20

// FormatVersion is the on-disk layout version drawn in the package doc.
const FormatVersion = 1

// DefaultUnitsPerFile is RocketMQ's mappedFileSizeConsumeQueue / 20.
const DefaultUnitsPerFile = 300_000

// maxFileBytes bounds a file so that its view fits comfortably in an int
// and in memory; RocketMQ uses 6,000,000.
const maxFileBytes = 1 << 30

// blankSize is the size field of a blank unit (Integer.MAX_VALUE in
// RocketMQ's fillPreBlank).
const blankSize = math.MaxInt32

// Sentinel errors. They are wrapped with the queue directory, the file and
// the offset concerned.
var (
	// ErrCorrupt reports a queue directory or file that cannot be trusted.
	ErrCorrupt = errors.New("consumequeue: corrupt")
	// ErrOffsetOutOfRange reports an offset outside [MinOffset, MaxOffset).
	ErrOffsetOutOfRange = errors.New("consumequeue: offset out of range")
	// ErrNotContiguous reports an Append at an offset other than MaxOffset.
	ErrNotContiguous = errors.New("consumequeue: append not at max offset")
	// ErrInvalidUnit reports an appended unit that would not read back as a
	// valid unit (size <= 0, negative commit-log offset, or a blank unit).
	ErrInvalidUnit = errors.New("consumequeue: invalid unit")
	// ErrClosed reports use of a closed queue.
	ErrClosed = errors.New("consumequeue: closed")
)

// Unit is one ConsumeQueue entry.
type Unit struct {
	CommitLogOffset int64 // position of the CommitLog entry
	Size            int32 // length of the CommitLog entry
	TagsCode        int64 // tags hash code, or delivery time for delay topics
}

// blank is the pre-fill unit of RocketMQ's fillPreBlank.
func blank() Unit { return Unit{Size: blankSize} }

// IsBlank reports whether u is a blank pre-fill unit.
func (u Unit) IsBlank() bool { return u == blank() }

// valid reports whether u may stand in a queue: it ends the queue at Open
// otherwise. Blank units are valid.
func (u Unit) valid() bool { return u.Size > 0 && u.CommitLogOffset >= 0 }

// AppendUnit appends the 20-byte encoding of u to dst.
func AppendUnit(dst []byte, u Unit) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(u.CommitLogOffset))
	dst = binary.BigEndian.AppendUint32(dst, uint32(u.Size))
	return binary.BigEndian.AppendUint64(dst, uint64(u.TagsCode))
}

// DecodeUnit decodes the unit at the start of b. It does not judge the
// unit's validity; it fails only when b is shorter than UnitSize.
func DecodeUnit(b []byte) (Unit, error) {
	if len(b) < UnitSize {
		return Unit{}, fmt.Errorf("consumequeue: decode unit: %d bytes, want %d: %w", len(b), UnitSize, ErrCorrupt)
	}
	return decode(b), nil
}

// decode decodes the unit at the start of b; len(b) >= UnitSize.
func decode(b []byte) Unit {
	_ = b[UnitSize-1]
	return Unit{
		CommitLogOffset: int64(binary.BigEndian.Uint64(b[0:8])),
		Size:            int32(binary.BigEndian.Uint32(b[8:12])),
		TagsCode:        int64(binary.BigEndian.Uint64(b[12:20])),
	}
}

// validUnits returns how many leading whole units of b are valid.
func validUnits(b []byte) int {
	n := 0
	for len(b) >= UnitSize && decode(b).valid() {
		b = b[UnitSize:]
		n++
	}
	return n
}
