package vfs

import (
	"fmt"
	"io/fs"
	"math"
	"slices"
	"time"
)

// maxMemFileSize bounds a MemFS file so that a bad offset fails with EFBIG
// instead of allocating the machine away.
const maxMemFileSize = 1 << 32

// memNode is an inode of a MemFS: a directory or a regular file. All its
// fields are guarded by the owning MemFS's mu.
type memNode struct {
	isDir bool

	// Directory state: the entries now, and the entries as of the last
	// SyncDir of this directory (what a crash leaves).
	children map[string]*memNode
	durable  map[string]*memNode

	// File state. data is the current content (len = size). synced is the
	// content as of the last Sync. Bytes in [dirtyLo, dirtyHi) may differ
	// between the two; dirty says whether anything (including a shrink)
	// happened since the last Sync.
	data             []byte
	synced           []byte
	dirty            bool
	dirtyLo, dirtyHi int

	// gen counts reallocations of data's backing array. A view made at an
	// older generation no longer aliases data, so writes are copied into it
	// (mirrorLocked): a view keeps seeing the file whatever happens to data.
	gen   int
	views []memView
}

// memView is a live view returned by Map.
type memView struct {
	b   []byte
	gen int
}

func newDir() *memNode {
	return &memNode{isDir: true, children: map[string]*memNode{}, durable: map[string]*memNode{}}
}

func newFile() *memNode { return &memNode{dirtyLo: math.MaxInt} }

// markLocked records that [lo, hi) may differ from the synced content.
func (n *memNode) markLocked(lo, hi int) {
	n.dirty = true
	n.dirtyLo = min(n.dirtyLo, lo)
	n.dirtyHi = max(n.dirtyHi, hi)
}

// reserveLocked makes data's capacity at least c, reallocating (and so
// starting a new generation) only when it must.
func (n *memNode) reserveLocked(c int) {
	if cap(n.data) >= c {
		return
	}
	nc := max(c, 2*cap(n.data), 4096)
	if nc > maxMemFileSize {
		nc = max(c, maxMemFileSize)
	}
	nd := make([]byte, len(n.data), nc)
	copy(nd, n.data)
	n.data = nd
	n.gen++
}

// resizeLocked sets the size to size (<= maxMemFileSize). Growth reads as
// zeros, as on a real file system.
func (n *memNode) resizeLocked(size int) {
	old := len(n.data)
	if size <= old {
		n.data = n.data[:size]
		n.dirty = true
		return
	}
	n.reserveLocked(size)
	n.data = n.data[:size]
	clear(n.data[old:size]) // the array may hold bytes from before a shrink
	n.markLocked(old, size)
	n.mirrorLocked(old, size)
}

// writeLocked writes p at off (off+len(p) <= maxMemFileSize), growing the
// file as needed.
func (n *memNode) writeLocked(p []byte, off int) {
	end := off + len(p)
	if end > len(n.data) {
		n.resizeLocked(end)
	}
	copy(n.data[off:end], p)
	n.markLocked(off, end)
	n.mirrorLocked(off, end)
}

// wroteLocked records a store into view[lo:hi] as a write. A view of an
// older generation no longer aliases data: its bytes are copied in.
func (n *memNode) wroteLocked(name string, view []byte, lo, hi int) error {
	i := slices.IndexFunc(n.views, func(v memView) bool {
		return len(v.b) == len(view) && &v.b[0] == &view[0]
	})
	if i < 0 {
		return pathErr("mapped write", name, fmt.Errorf("not a live view: %w", fs.ErrInvalid))
	}
	if hi > len(n.data) {
		return pathErr("mapped write", name, fmt.Errorf("store up to %d past the end of the file (%d): SIGBUS on the OS", hi, len(n.data)))
	}
	if n.views[i].gen != n.gen {
		copy(n.data[lo:hi], view[lo:hi])
	}
	n.markLocked(lo, hi)
	n.mirrorLocked(lo, hi)
	return nil
}

// mirrorLocked copies data[lo:hi] into the views that no longer alias data.
func (n *memNode) mirrorLocked(lo, hi int) {
	for _, v := range n.views {
		if v.gen == n.gen || lo >= len(v.b) {
			continue
		}
		copy(v.b[lo:min(hi, len(v.b))], n.data[lo:hi])
	}
}

// syncLocked makes the current content the synced content, copying only
// the dirty range: every byte beyond the last synced size was written or
// zero-filled since, so it lies inside [dirtyLo, dirtyHi).
func (n *memNode) syncLocked() {
	if !n.dirty {
		return
	}
	size := len(n.data)
	if cap(n.synced) < size {
		// Grow geometrically: appends then Sync must stay amortized O(1).
		ns := make([]byte, len(n.synced), max(size, 2*cap(n.synced)))
		copy(ns, n.synced)
		n.synced = ns
	}
	n.synced = n.synced[:size]
	if hi := min(n.dirtyHi, size); n.dirtyLo < hi {
		copy(n.synced[n.dirtyLo:hi], n.data[n.dirtyLo:hi])
	}
	n.dirty, n.dirtyLo, n.dirtyHi = false, math.MaxInt, 0
}

// mapLocked returns a view of the first length bytes. The backing array
// gets capacity length first, so later writes inside the view land in it
// directly.
func (n *memNode) mapLocked(length int) []byte {
	n.reserveLocked(length)
	v := n.data[:length:length]
	n.views = append(n.views, memView{b: v, gen: n.gen})
	return v
}

// unmapLocked forgets a view; it reports false if view is not a live view.
func (n *memNode) unmapLocked(view []byte) bool {
	if len(view) == 0 {
		return false
	}
	i := slices.IndexFunc(n.views, func(v memView) bool {
		return len(v.b) == len(view) && &v.b[0] == &view[0]
	})
	if i < 0 {
		return false
	}
	n.views = slices.Delete(n.views, i, i+1)
	return true
}

// memInfo is the os.FileInfo of a MemFS node.
type memInfo struct {
	name  string
	size  int64
	isDir bool
}

func (i memInfo) Name() string       { return i.name }
func (i memInfo) Size() int64        { return i.size }
func (i memInfo) ModTime() time.Time { return time.Time{} } // no clock: deterministic
func (i memInfo) IsDir() bool        { return i.isDir }
func (i memInfo) Sys() any           { return nil }
func (i memInfo) Mode() fs.FileMode {
	if i.isDir {
		return fs.ModeDir | 0o755
	}
	return 0o644
}
