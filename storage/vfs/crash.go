package vfs

import (
	"bytes"
	"math/rand/v2"
)

// tornBlock is the unit in which overwritten, unsynced bytes inside a
// file's synced size survive a torn crash: a disk sector.
const tornBlock = 512

// CrashConfig chooses what CrashClone keeps of the unsynced state.
type CrashConfig struct {
	// Rand drives torn crashes. With Rand nil or UnsyncedDataPercent <= 0
	// the crash is clean: nothing unsynced survives.
	Rand *rand.Rand
	// UnsyncedDataPercent is the chance, 0 to 100, that each unsynced unit
	// of a file survives: the appended tail (then a random non-empty
	// prefix of it survives), a shrinking truncation, and each overwritten
	// 512-byte block inside the synced size.
	UnsyncedDataPercent int
}

// CrashClone returns a new, independent MemFS holding what a power loss
// would leave of m: from the root, only directory entries made durable by
// SyncDir, and in each surviving file its content as of its last Sync,
// plus, with a torn configuration, part of what was written since.
// Directory operations are all-or-nothing per directory: a create, rename
// or remove not followed by SyncDir of its directory is undone. Files
// reachable by several durable names (a rename synced in the new
// directory but not in the old one) stay one file. m is not changed, and
// views into m stay valid. The clone has no locks held, no error
// injection, and everything in it is durable.
func (m *MemFS) CrashClone(cfg CrashConfig) *MemFS {
	m.mu.RLock()
	defer m.mu.RUnlock()
	c := &crasher{cfg: cfg, seen: map[*memNode]*memNode{}}
	if cfg.Rand == nil || cfg.UnsyncedDataPercent <= 0 {
		c.cfg.UnsyncedDataPercent = 0
	}
	return &MemFS{root: c.cloneLocked(m.root), locked: map[*memNode]bool{}}
}

// crasher builds one crash clone.
type crasher struct {
	cfg  CrashConfig
	seen map[*memNode]*memNode // original -> clone, keeps hard links
}

func (c *crasher) cloneLocked(n *memNode) *memNode {
	if d, ok := c.seen[n]; ok {
		return d
	}
	var d *memNode
	if n.isDir {
		d = newDir()
		c.seen[n] = d
		for k, child := range n.durable {
			cc := c.cloneLocked(child)
			d.children[k] = cc
			d.durable[k] = cc
		}
		return d
	}
	d = newFile()
	d.data = c.survivingLocked(n)
	d.synced = bytes.Clone(d.data)
	c.seen[n] = d
	return d
}

// keep reports whether one unsynced unit survives.
func (c *crasher) keep() bool {
	return c.cfg.UnsyncedDataPercent > 0 && c.cfg.Rand.IntN(100) < c.cfg.UnsyncedDataPercent
}

// survivingLocked returns the content of file n after the crash: its
// synced content, with torn parts of the unsynced changes.
func (c *crasher) survivingLocked(n *memNode) []byte {
	out := bytes.Clone(n.synced)
	if out == nil {
		out = []byte{}
	}
	if !n.dirty || c.cfg.UnsyncedDataPercent == 0 {
		return out
	}
	cur := n.data
	switch {
	case len(cur) > len(out) && c.keep():
		tail := len(cur) - len(out)
		keep := 1 + c.cfg.Rand.IntN(tail)
		out = append(out, cur[len(out):len(out)+keep]...)
	case len(cur) < len(out) && c.keep():
		out = out[:len(cur)]
	}
	// Overwritten blocks inside what both the synced and the current
	// content hold; bytes beyond len(n.synced) came from cur already.
	lim := min(len(cur), len(n.synced), len(out), n.dirtyHi)
	for lo := n.dirtyLo / tornBlock * tornBlock; lo < lim; lo += tornBlock {
		hi := min(lo+tornBlock, lim)
		if !bytes.Equal(out[lo:hi], cur[lo:hi]) && c.keep() {
			copy(out[lo:hi], cur[lo:hi])
		}
	}
	return out
}
