package index

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
)

// Sentinel errors; returned errors wrap them with the file and offset.
var (
	// ErrCorrupt marks an index file whose bytes are not a valid IndexFile.
	ErrCorrupt = errors.New("index: corrupt file")
	// ErrOrder marks a Put whose phyOffset is negative or below the largest
	// one indexed (the dispatcher must go in CommitLog order).
	ErrOrder = errors.New("index: phyOffset out of order")
	// ErrClosed is returned by calls on a closed Index.
	ErrClosed = errors.New("index: closed")
	// ErrConfig marks an invalid Config.
	ErrConfig = errors.New("index: invalid config")
)

// Layout constants of format version 1 (see the package doc). They never
// change; a new layout gets a new version.
const (
	magic      = "TWIX"
	version    = 1
	headerSize = 64
	slotSize   = 4
	entrySize  = 20
	pageSize   = 4096 // dirty-tracking unit of an in-memory file

	offBaseTs   = 8
	offBeginTs  = 16
	offEndTs    = 24
	offBeginPhy = 32
	offEndPhy   = 40
	offSlots    = 48
	offCapacity = 52
	offCount    = 56
	offCRC      = 60

	// maxSlots and maxEntries bound a file's geometry (RocketMQ's defaults,
	// 5,000,000 slots and 20,000,000 entries, fit) so that a header cannot
	// make Open allocate without limit.
	maxSlots   = 1 << 26
	maxEntries = 1 << 26

	// maxTimestamp bounds store times so that time arithmetic never
	// overflows; it is year 146,000,000-odd.
	maxTimestamp = 1 << 62
)

var (
	be         = binary.BigEndian
	castagnoli = crc32.MakeTable(crc32.Castagnoli)
)

// header is the decoded 64-byte file header.
type header struct {
	baseTs, beginTs, endTs int64
	beginPhy, endPhy       int64
	slots, capacity, count uint32
}

// fileSize is the size of a file with the given geometry holding n entries.
func fileSize(slots, n uint32) int64 {
	return headerSize + slotSize*int64(slots) + entrySize*int64(n)
}

func (h *header) entriesOff() int64 { return headerSize + slotSize*int64(h.slots) }

// entryOff is the offset of entry k (1-based).
func (h *header) entryOff(k uint32) int64 { return h.entriesOff() + entrySize*int64(k-1) }

func (h *header) full() bool { return h.count >= h.capacity }

// encode writes the header, with its CRC, into dst[:headerSize].
func (h *header) encode(dst []byte) {
	copy(dst, magic)
	be.PutUint16(dst[4:], version)
	be.PutUint16(dst[6:], 0)
	be.PutUint64(dst[offBaseTs:], uint64(h.baseTs))
	be.PutUint64(dst[offBeginTs:], uint64(h.beginTs))
	be.PutUint64(dst[offEndTs:], uint64(h.endTs))
	be.PutUint64(dst[offBeginPhy:], uint64(h.beginPhy))
	be.PutUint64(dst[offEndPhy:], uint64(h.endPhy))
	be.PutUint32(dst[offSlots:], h.slots)
	be.PutUint32(dst[offCapacity:], h.capacity)
	be.PutUint32(dst[offCount:], h.count)
	be.PutUint32(dst[offCRC:], crc32.Checksum(dst[:offCRC], castagnoli))
}

// corrupt builds the error for a bad byte at off of the named file.
func corrupt(name string, off int64, format string, args ...any) error {
	return fmt.Errorf("index: %s@%d: %s: %w", name, off, fmt.Sprintf(format, args...), ErrCorrupt)
}

// decodeHeader checks and decodes the header at the start of b, which is
// the start of the named file. It checks the header alone, not the size of
// the file.
func decodeHeader(name string, b []byte) (header, error) {
	var h header
	switch {
	case len(b) < headerSize:
		return h, corrupt(name, int64(len(b)), "file shorter than the %d-byte header", headerSize)
	case string(b[:4]) != magic:
		return h, corrupt(name, 0, "bad magic %q", b[:4])
	case be.Uint16(b[4:]) != version:
		return h, corrupt(name, 4, "unknown format version %d", be.Uint16(b[4:]))
	case be.Uint32(b[offCRC:]) != crc32.Checksum(b[:offCRC], castagnoli):
		return h, corrupt(name, offCRC, "header CRC mismatch")
	case be.Uint16(b[6:]) != 0:
		return h, corrupt(name, 6, "reserved bytes not zero")
	}
	h = header{
		baseTs:   int64(be.Uint64(b[offBaseTs:])),
		beginTs:  int64(be.Uint64(b[offBeginTs:])),
		endTs:    int64(be.Uint64(b[offEndTs:])),
		beginPhy: int64(be.Uint64(b[offBeginPhy:])),
		endPhy:   int64(be.Uint64(b[offEndPhy:])),
		slots:    be.Uint32(b[offSlots:]),
		capacity: be.Uint32(b[offCapacity:]),
		count:    be.Uint32(b[offCount:]),
	}
	switch {
	case h.slots == 0 || h.slots > maxSlots:
		return h, corrupt(name, offSlots, "slot count %d not in [1,%d]", h.slots, maxSlots)
	case h.capacity == 0 || h.capacity > maxEntries:
		return h, corrupt(name, offCapacity, "entry capacity %d not in [1,%d]", h.capacity, maxEntries)
	case h.count > h.capacity:
		return h, corrupt(name, offCount, "entry count %d above capacity %d", h.count, h.capacity)
	}
	return h, nil
}

// entry is one decoded 20-byte entry.
type entry struct {
	keyHash  uint32
	phy      int64
	timeDiff int32
	prev     uint32
}

func decodeEntry(b []byte) entry {
	_ = b[entrySize-1] // one bounds check
	return entry{
		keyHash:  be.Uint32(b[0:]),
		phy:      int64(be.Uint64(b[4:])),
		timeDiff: int32(be.Uint32(b[12:])),
		prev:     be.Uint32(b[16:]),
	}
}

func (e entry) encode(b []byte) {
	_ = b[entrySize-1]
	be.PutUint32(b[0:], e.keyHash)
	be.PutUint64(b[4:], uint64(e.phy))
	be.PutUint32(b[12:], uint32(e.timeDiff))
	be.PutUint32(b[16:], e.prev)
}

// keyHash is 32-bit FNV-1a of the key's bytes, inlined so that hashing a
// string neither converts nor allocates.
func keyHash(key string) uint32 {
	const offset32, prime32 = 2166136261, 16777619
	h := uint32(offset32)
	for i := 0; i < len(key); i++ {
		h ^= uint32(key[i])
		h *= prime32
	}
	return h
}

// clampTs bounds a store time to [0, maxTimestamp].
func clampTs(ts int64) int64 { return min(max(ts, 0), maxTimestamp) }

// timeDiff is floor((ts-base)/1000) in seconds, clamped to int32; ts and
// base are clamped store times, so the subtraction cannot overflow.
func timeDiff(ts, base int64) int32 {
	d := ts - base
	s := d / 1000
	if d%1000 < 0 {
		s--
	}
	return int32(min(max(s, math.MinInt32), math.MaxInt32))
}

// entryTime is the start of the second an entry's store time lies in.
// Overflow on a corrupt sealed file wraps and only mis-filters.
func entryTime(base int64, diff int32) int64 { return base + 1000*int64(diff) }

// inSecond reports whether the second starting at t overlaps [begin, end].
func inSecond(t, begin, end int64) bool { return t <= end && t+999 >= begin }

// crc32c is the header checksum.
func crc32c(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }
