package index

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"syscall"
)

// Flush makes everything Put so far durable: each in-memory file writes
// its dirty pages and then its header (see the package doc), and full
// files are then sealed (replaced by a mapped view, freeing their buffer).
// An I/O error is sticky: every later Flush, Truncate and DeleteBefore
// returns it, since an fsync that failed is not retried as if the data
// were safe.
func (x *Index) Flush() error {
	if x.failed != nil {
		return x.failed
	}
	x.mu.RLock()
	closed, files := x.closed, slices.Clone(x.files)
	x.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	for i, m := range files {
		if !m.inMemory() {
			continue
		}
		err := x.flushFile(m)
		if err == nil && (i < len(files)-1 || m.h.full()) {
			err = x.seal(m)
		}
		if err != nil {
			if !errors.Is(err, errNoSpaceRetry) {
				x.failed = err
			}
			return err
		}
	}
	return nil
}

// errNoSpaceRetry marks a flush that a full disk stopped before any fsync
// of the data it wrote: nothing was claimed durable, the pages stay dirty
// in memory, and the next Flush writes them again. Not sticky.
var errNoSpaceRetry = errors.New("index: no space; flush retried later")

// isNoSpace reports whether err says the file system is full.
func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// flushFile writes an in-memory file's dirty pages, fsyncs, writes its
// header and fsyncs again; a new file is created first and its directory
// synced last. Only the writer goroutine calls it, and it only reads the
// buffer, so it runs without Index.mu.
func (x *Index) flushFile(m *file) error {
	used := fileSize(m.h.slots, m.h.count)
	var hb [headerSize]byte
	m.h.encode(hb[:])
	if m.f != nil && hb == m.diskHdr && m.diskSize == used && !m.anyDirty() {
		return nil
	}
	if m.f == nil {
		f, err := x.cfg.FS.Create(m.path)
		if err != nil && isNoSpace(err) {
			return fmt.Errorf("index: flush: %w: %w", errNoSpaceRetry, err)
		}
		if err != nil {
			return fmt.Errorf("index: flush: %w", err)
		}
		m.f, m.created, m.diskSize = f, true, 0
	}
	werr := m.dirtyRuns(func(lo, hi int64) error {
		lo, hi = max(lo, headerSize), min(hi, used)
		if lo >= hi {
			return nil
		}
		_, err := m.f.WriteAt(m.b[lo:hi], lo)
		return err
	})
	if werr == nil {
		werr = m.resize(used)
	}
	if werr != nil {
		if isNoSpace(werr) {
			return fmt.Errorf("index: flush %s: %w: %w", m.path, errNoSpaceRetry, werr)
		}
		return fmt.Errorf("index: flush %s: %w", m.path, werr)
	}
	err := m.f.Sync()
	if err == nil {
		_, err = m.f.WriteAt(hb[:], 0)
	}
	if err == nil {
		err = m.f.Sync()
	}
	if err == nil && m.created {
		err = x.cfg.FS.SyncDir(x.cfg.Dir)
	}
	if err != nil {
		return fmt.Errorf("index: flush %s: %w", m.path, err)
	}
	clear(m.dirty)
	m.created, m.diskHdr, m.diskSize = false, hb, used
	return nil
}

// resize makes the file on disk exactly used bytes. Pages past what was
// written are either on disk already or all zero, so extending is safe.
func (m *file) resize(used int64) error {
	size, err := m.f.Size()
	if err != nil || size == used {
		return err
	}
	return m.f.Truncate(used)
}

// seal replaces a flushed in-memory file's buffer by a mapped view.
func (x *Index) seal(m *file) error {
	view, err := m.f.Map(int(m.diskSize))
	if err != nil {
		return fmt.Errorf("index: seal %s: %w", m.path, err)
	}
	x.mu.Lock()
	m.b, m.mapped, m.dirty = view, true, nil
	x.mu.Unlock()
	return nil
}

// Truncate drops every entry with a phyOffset >= phyOffset (crash
// recovery: the store then re-dispatches from there): newer files are
// removed whole, and the file holding the cut is loaded into memory if it
// was sealed, cut, and its chains rebuilt so that none points at a dropped
// entry. The result is durable when Truncate returns. Queries wait while
// the chains are rebuilt.
func (x *Index) Truncate(phyOffset int64) error {
	if err := x.Flush(); err != nil {
		return err
	}
	phyOffset = max(phyOffset, 0)
	removed := false
	for {
		m := x.newest()
		if m == nil || m.h.beginPhy < phyOffset {
			break
		}
		if err := x.removeNewest(); err != nil {
			return err
		}
		removed = true
	}
	if removed {
		if err := x.syncDir(); err != nil {
			return err
		}
	}
	m := x.newest()
	if m == nil || m.h.endPhy < phyOffset {
		return nil
	}
	if m.mapped {
		var err error
		if m, err = x.unseal(m); err != nil {
			return err
		}
	}
	// Entries 1..count have non-decreasing phyOffsets: keep those below.
	n := sort.Search(int(m.h.count), func(i int) bool {
		return int64(be.Uint64(m.b[m.h.entryOff(uint32(i+1))+4:])) >= phyOffset
	})
	x.mu.Lock()
	m.rebuildLocked(uint32(n)) // n >= 1, as beginPhy < phyOffset
	x.endPhy = m.h.endPhy
	x.mu.Unlock()
	return x.Flush()
}

// newest is the newest file, or nil.
func (x *Index) newest() *file {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if n := len(x.files); n > 0 {
		return x.files[n-1]
	}
	return nil
}

// removeNewest drops the newest file from the index and from disk; the
// caller syncs the directory.
func (x *Index) removeNewest() error {
	x.mu.Lock()
	m := x.files[len(x.files)-1]
	x.files = x.files[:len(x.files)-1]
	x.endPhy = -1
	if n := len(x.files); n > 0 {
		x.endPhy = x.files[n-1].h.endPhy
	}
	x.mu.Unlock()
	return x.removeFile(m)
}

func (x *Index) removeFile(m *file) error {
	err := m.close()
	if err == nil {
		err = x.cfg.FS.Remove(m.path)
	}
	if err != nil {
		x.failed = fmt.Errorf("index: remove %s: %w", m.path, err)
		return x.failed
	}
	return nil
}

func (x *Index) syncDir() error {
	if err := x.cfg.FS.SyncDir(x.cfg.Dir); err != nil {
		x.failed = fmt.Errorf("index: sync %s: %w", x.cfg.Dir, err)
		return x.failed
	}
	return nil
}

// unseal replaces the newest file, sealed, by an in-memory copy so that it
// can be cut and written again.
func (x *Index) unseal(old *file) (*file, error) {
	m, err := x.loadActive(old.path, old.seq)
	if err != nil {
		return nil, err
	}
	if m == nil { // no valid entry: cannot happen after beginPhy matched
		return nil, corrupt(old.path, old.h.entriesOff(), "sealed file has no valid entry")
	}
	x.mu.Lock()
	x.files[len(x.files)-1] = m
	x.mu.Unlock()
	if err := old.close(); err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	return m, nil
}

// DeleteBefore deletes, oldest first, the whole files whose endPhyOffset
// is below phyOffset (retention, after the CommitLog segments holding
// them are gone). The newest file is kept.
func (x *Index) DeleteBefore(phyOffset int64) error {
	if err := x.Flush(); err != nil {
		return err
	}
	removed := false
	for {
		x.mu.Lock()
		if len(x.files) < 2 || x.files[0].h.endPhy >= phyOffset {
			x.mu.Unlock()
			break
		}
		m := x.files[0]
		x.files = slices.Delete(x.files, 0, 1)
		x.mu.Unlock()
		if err := x.removeFile(m); err != nil {
			return err
		}
		removed = true
	}
	if removed {
		return x.syncDir()
	}
	return nil
}
