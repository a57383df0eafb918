package index

import (
	"fmt"
	"path"
	"sync"

	"github.com/twinmq/twinmq/storage/vfs"
)

// Defaults of the store config (storage.Config.IndexSlots, IndexEntries):
// about 42 MB per file.
const (
	DefaultSlots   = 500_000
	DefaultEntries = 2_000_000
)

// Config configures an Index.
type Config struct {
	// FS is the file system; vfs.Default() when nil.
	FS vfs.FS
	// Dir holds the index files (created if missing).
	Dir string
	// Slots and Entries size each new file (defaults DefaultSlots and
	// DefaultEntries; at most 1<<26 each). Files already on disk keep the
	// geometry written in their header.
	Slots, Entries int
}

func (c *Config) validate() error {
	if c.FS == nil {
		c.FS = vfs.Default()
	}
	if c.Dir == "" {
		return fmt.Errorf("index: Dir is empty: %w", ErrConfig)
	}
	if c.Slots == 0 {
		c.Slots = DefaultSlots
	}
	if c.Entries == 0 {
		c.Entries = DefaultEntries
	}
	if c.Slots < 1 || c.Slots > maxSlots || c.Entries < 1 || c.Entries > maxEntries {
		return fmt.Errorf("index: Slots %d, Entries %d not in [1,%d]: %w",
			c.Slots, c.Entries, maxSlots, ErrConfig)
	}
	return nil
}

// Index is the set of IndexFiles of one store.
//
// Concurrency: one writer goroutine (the dispatcher) calls Put, Flush,
// Truncate, DeleteBefore and Close; any number of goroutines call Query
// and EndPhyOffset. mu guards files, the header and bytes of each file
// that Query reads, endPhy and closed. Query holds it for reading for the
// whole chain walk; Put holds it for writing only to write one 20-byte
// entry and one slot. Flush does its I/O without it (the writer only reads
// the buffers then) and takes it to swap a flushed full file for its
// mapped view. It is the only lock; no lock is held while calling out.
type Index struct {
	cfg Config

	mu     sync.RWMutex
	files  []*file // oldest first; the last one is active if in memory
	endPhy int64   // largest phyOffset indexed, -1 if none
	closed bool

	failed error // first I/O error of Flush; sticky (writer-owned)
}

// Open loads the index files in cfg.Dir. Every header is validated; the
// newest file is loaded into memory, its torn tail (from a crash during
// Flush) is dropped and its chains rebuilt.
func Open(cfg Config) (*Index, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := mkdirDurable(cfg.FS, cfg.Dir); err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	names, err := cfg.FS.List(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	x := &Index{cfg: cfg, endPhy: -1}
	var seqs []int64
	names, seqs = fileNames(names)
	for i, name := range names {
		p := path.Join(cfg.Dir, name)
		var m *file
		if i == len(names)-1 {
			m, err = x.loadActive(p, seqs[i])
		} else {
			m, err = openSealed(cfg.FS, p, seqs[i])
		}
		if err == nil && m == nil { // never flushed: derived data, drop it
			if err = cfg.FS.Remove(p); err == nil {
				err = cfg.FS.SyncDir(cfg.Dir)
			}
			if err != nil {
				err = fmt.Errorf("index: drop unflushed %s: %w", p, err)
			}
		}
		if err != nil {
			x.release()
			return nil, err
		}
		if m != nil {
			x.files = append(x.files, m)
			x.endPhy = m.h.endPhy
		}
	}
	return x, nil
}

// mkdirDurable creates dir if missing and syncs the parent of every
// directory it created, so that the directory survives a crash.
func mkdirDurable(fs vfs.FS, dir string) error {
	var missing []string
	for d := dir; ; d = path.Dir(d) {
		if _, err := fs.Stat(d); err == nil {
			break
		}
		missing = append(missing, d)
		if d == path.Dir(d) {
			break
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if err := fs.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, d := range missing {
		if err := fs.SyncDir(path.Dir(d)); err != nil {
			return err
		}
	}
	return nil
}

// fileNames keeps the names of index files (20 decimal digits), in order,
// with their numbers.
func fileNames(names []string) ([]string, []int64) {
	var keep []string
	var seqs []int64
	for _, n := range names {
		if len(n) != 20 {
			continue
		}
		var v int64
		ok := true
		for i := 0; i < len(n) && ok; i++ {
			c := n[i]
			ok = c >= '0' && c <= '9' && v <= (1<<63-1-9)/10
			v = v*10 + int64(c-'0')
		}
		if ok {
			keep, seqs = append(keep, n), append(seqs, v)
		}
	}
	return keep, seqs
}

// Put indexes key for the CommitLog entry at phyOffset stored at
// storeTimestampMs. phyOffsets must not decrease (ErrOrder). It does no
// I/O: a full active file stays in memory until Flush, and the next one is
// allocated before the lock is taken.
func (x *Index) Put(key string, phyOffset int64, storeTimestampMs int64) error {
	x.mu.RLock()
	closed, end := x.closed, x.endPhy
	a := x.activeLocked()
	x.mu.RUnlock()
	switch {
	case closed:
		return ErrClosed
	case phyOffset < 0 || phyOffset < end:
		return fmt.Errorf("index: put %q at %d after %d: %w", key, phyOffset, end, ErrOrder)
	}
	if a == nil || a.h.full() {
		a = x.newFile(phyOffset)
		x.mu.Lock()
		x.files = append(x.files, a)
		x.mu.Unlock()
	}
	hash, ts := keyHash(key), clampTs(storeTimestampMs)
	x.mu.Lock()
	a.putLocked(hash, phyOffset, ts)
	x.endPhy = phyOffset
	x.mu.Unlock()
	return nil
}

// activeLocked is the newest file if it is in memory, else nil.
func (x *Index) activeLocked() *file {
	if n := len(x.files); n > 0 && x.files[n-1].inMemory() {
		return x.files[n-1]
	}
	return nil
}

// newFile starts the in-memory file whose first entry is at phy.
func (x *Index) newFile(phy int64) *file {
	seq := phy
	if n := len(x.files); n > 0 && seq <= x.files[n-1].seq {
		seq = x.files[n-1].seq + 1
	}
	p := path.Join(x.cfg.Dir, fmt.Sprintf("%020d", seq))
	return newMemFile(p, seq, uint32(x.cfg.Slots), uint32(x.cfg.Entries))
}

// Query returns the phyOffsets of the entries indexed under key (by hash:
// the caller checks the key in the CommitLog) whose store time overlaps
// [beginMs, endMs] at one-second granularity, newest first, without
// repeats, at most maxResults, across every file whose time range overlaps.
func (x *Index) Query(key string, maxResults int, beginMs, endMs int64) ([]int64, error) {
	if maxResults <= 0 || beginMs > endMs {
		return nil, nil
	}
	hash := keyHash(key)
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.closed {
		return nil, ErrClosed
	}
	out := make([]int64, 0, min(maxResults, 32))
	for i := len(x.files) - 1; i >= 0 && len(out) < maxResults; i-- {
		var err error
		if out, err = x.files[i].query(hash, maxResults, beginMs, endMs, out); err != nil {
			return out, err
		}
	}
	return out, nil
}

// EndPhyOffset is the largest phyOffset indexed, or -1 if none.
func (x *Index) EndPhyOffset() int64 {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.endPhy
}

// Close flushes the index and releases its files. The Index is unusable
// afterwards.
func (x *Index) Close() error {
	x.mu.RLock()
	closed := x.closed
	x.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	err := x.Flush()
	x.mu.Lock()
	x.closed = true
	x.mu.Unlock()
	if rerr := x.release(); err == nil {
		err = rerr
	}
	return err
}

// release unmaps and closes every file.
func (x *Index) release() error {
	var first error
	for _, m := range x.files {
		if err := m.close(); first == nil {
			first = err
		}
	}
	x.files = nil
	return first
}
