package index

import (
	"math/bits"

	"github.com/twinmq/twinmq/storage/vfs"
)

// file is one IndexFile. It is either in memory (the active file, or a full
// one not yet flushed: b is the whole file, allocated once, and dirty says
// which pages differ from disk) or sealed (b is a read-only Map view of the
// file on disk, never written).
//
// h and the bytes of b that Query reads are guarded by Index.mu. The other
// fields are owned by the writer goroutine (Put, Flush, Truncate,
// DeleteBefore).
type file struct {
	path   string
	seq    int64    // the number in the name; orders files
	f      vfs.File // nil until the first Flush creates it
	b      []byte
	mapped bool // b is a Map view of f
	h      header

	dirty    []uint64         // bitmap of dirty pages of b (in-memory files)
	diskSize int64            // bytes of the file on disk, as far as we know
	created  bool             // f was created and its directory not yet synced
	diskHdr  [headerSize]byte // the header as last written or read
}

// newMemFile starts an empty in-memory file with the given geometry.
func newMemFile(path string, seq int64, slots, capacity uint32) *file {
	size := fileSize(slots, capacity)
	pages := (size + pageSize - 1) / pageSize
	return &file{
		path:  path,
		seq:   seq,
		b:     make([]byte, size),
		h:     header{slots: slots, capacity: capacity},
		dirty: make([]uint64, (pages+63)/64),
	}
}

func (m *file) inMemory() bool { return !m.mapped }

func (m *file) markDirty(off, n int64) {
	for p := off / pageSize; p <= (off+n-1)/pageSize; p++ {
		m.dirty[p/64] |= 1 << (p % 64)
	}
}

// putLocked appends one entry and makes it its slot's head. The caller
// holds Index.mu for writing and has checked that the file is not full.
func (m *file) putLocked(hash uint32, phy, ts int64) {
	h := &m.h
	if h.count == 0 {
		h.baseTs, h.beginPhy = ts, phy
		h.beginTs, h.endTs = ts, ts
	}
	diff := timeDiff(ts, h.baseTs)
	t := entryTime(h.baseTs, diff)
	h.beginTs, h.endTs = min(h.beginTs, t), max(h.endTs, t)
	h.endPhy = phy
	h.count++
	soff := int64(headerSize) + slotSize*int64(hash%h.slots)
	eoff := h.entryOff(h.count)
	e := entry{keyHash: hash, phy: phy, timeDiff: diff, prev: be.Uint32(m.b[soff:])}
	e.encode(m.b[eoff:])
	be.PutUint32(m.b[soff:], h.count)
	m.markDirty(soff, slotSize)
	m.markDirty(eoff, entrySize)
}

// query appends to out the phyOffsets of the entries with the given key
// hash and a time overlapping [begin, end], newest first, skipping a value
// equal to the last one in out, until out holds max values. A chain that
// leaves the file is an ErrCorrupt naming the file and offset. The caller
// holds Index.mu for reading.
func (m *file) query(hash uint32, max int, begin, end int64, out []int64) ([]int64, error) {
	h := &m.h
	if h.count == 0 || !(h.beginTs <= end && h.endTs+999 >= begin) {
		return out, nil
	}
	soff := int64(headerSize) + slotSize*int64(hash%h.slots)
	k := be.Uint32(m.b[soff:])
	for k != 0 {
		if k > h.count {
			return out, corrupt(m.path, soff, "chain points at entry %d of %d", k, h.count)
		}
		eoff := h.entryOff(k)
		e := decodeEntry(m.b[eoff:])
		if e.keyHash == hash && inSecond(entryTime(h.baseTs, e.timeDiff), begin, end) &&
			(len(out) == 0 || out[len(out)-1] != e.phy) {
			if out = append(out, e.phy); len(out) >= max {
				return out, nil
			}
		}
		if e.prev >= k {
			return out, corrupt(m.path, eoff+16, "entry %d chains forward to %d", k, e.prev)
		}
		k, soff = e.prev, eoff+16
	}
	return out, nil
}

// validEntries is the number of leading entries of the in-memory file, of
// at most n, that are well formed: prevEntry below their own number and
// phyOffset non-negative and non-decreasing.
func (m *file) validEntries(n uint32) uint32 {
	last := int64(0)
	for k := uint32(1); k <= n; k++ {
		e := decodeEntry(m.b[m.h.entryOff(k):])
		if e.prev >= k || e.phy < last {
			return k - 1
		}
		last = e.phy
	}
	return n
}

// rebuildLocked recomputes everything derived from the first count entries
// (header offsets and times, prevEntry links, the slot table) and zeroes
// the bytes of dropped entries, marking what changed dirty. It runs after
// Open or Truncate cut the entry count, so no chain points past it.
func (m *file) rebuildLocked(count uint32) {
	h := &m.h
	oldEnd := h.entriesOff() + entrySize*int64(h.count)
	h.count = count
	slots := make([]uint32, h.slots)
	for k := uint32(1); k <= count; k++ {
		off := h.entryOff(k)
		e := decodeEntry(m.b[off:])
		if k == 1 {
			h.beginPhy, h.beginTs, h.endTs = e.phy, h.baseTs, h.baseTs
		}
		t := entryTime(h.baseTs, e.timeDiff)
		h.beginTs, h.endTs, h.endPhy = min(h.beginTs, t), max(h.endTs, t), e.phy
		s := e.keyHash % h.slots
		if e.prev != slots[s] {
			be.PutUint32(m.b[off+16:], slots[s])
			m.markDirty(off+16, 4)
		}
		slots[s] = k
	}
	for i, k := range slots {
		off := int64(headerSize) + slotSize*int64(i)
		if be.Uint32(m.b[off:]) != k {
			be.PutUint32(m.b[off:], k)
			m.markDirty(off, slotSize)
		}
	}
	if end := h.entriesOff() + entrySize*int64(count); end < oldEnd {
		clear(m.b[end:oldEnd]) // the file on disk shrinks at the next Flush
	}
	if count == 0 {
		*h = header{slots: h.slots, capacity: h.capacity}
	}
}

// dirtyRuns calls fn for each run of consecutive dirty pages.
func (m *file) dirtyRuns(fn func(lo, hi int64) error) error {
	var start int64 = -1
	n := int64(len(m.dirty)) * 64
	for p := int64(0); p <= n; p++ {
		d := p < n && m.dirty[p/64]&(1<<(p%64)) != 0
		if p < n && p%64 == 0 && m.dirty[p/64] == 0 && start < 0 {
			p += 63 // skip a clean word
			continue
		}
		switch {
		case d && start < 0:
			start = p
		case !d && start >= 0:
			if err := fn(start*pageSize, p*pageSize); err != nil {
				return err
			}
			start = -1
		}
	}
	return nil
}

func (m *file) anyDirty() bool {
	for _, w := range m.dirty {
		if bits.OnesCount64(w) != 0 {
			return true
		}
	}
	return false
}
