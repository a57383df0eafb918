package vfs

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
)

// MemFS is an in-memory FS that records what is durable, so that
// CrashClone can show what a power loss would leave. It is safe for
// concurrent use. Paths are cleaned and rooted: "a/b", "/a/b" and
// "/a/../a/b" name the same file. Errors are *fs.PathError values, so
// errors.Is(err, fs.ErrNotExist) and friends work as on the OS.
type MemFS struct {
	// mu guards root and every memNode reachable from any MemFS handle, and
	// locked. It is the only lock in the package: nothing else to order.
	mu     sync.RWMutex
	root   *memNode
	locked map[*memNode]bool

	inject atomic.Pointer[func(op Op, name string) error]
}

var _ FS = (*MemFS)(nil)

// NewMem returns an empty MemFS. Its root directory always exists.
func NewMem() *MemFS { return &MemFS{root: newDir(), locked: map[*memNode]bool{}} }

// InjectError makes every later operation first call fn with the operation
// and the name it acts on (a file operation passes the name the file was
// opened with); when fn returns an error the operation fails with it,
// wrapped in an *fs.PathError, and has no effect. fn runs without MemFS
// locks held and must be safe for concurrent use. A nil fn stops injection.
func (m *MemFS) InjectError(fn func(op Op, name string) error) {
	if fn == nil {
		m.inject.Store(nil)
		return
	}
	m.inject.Store(&fn)
}

// injected returns the injected error for op on name, if any.
func (m *MemFS) injected(op Op, name string) error {
	fn := m.inject.Load()
	if fn == nil {
		return nil
	}
	if err := (*fn)(op, name); err != nil {
		return &fs.PathError{Op: op.String(), Path: name, Err: err}
	}
	return nil
}

// split cleans name into its components below the root; "", ".", "/" are
// the root (nil).
func split(name string) []string {
	p := path.Clean("/" + name)
	if p == "/" {
		return nil
	}
	return strings.Split(p[1:], "/")
}

func pathErr(op, name string, err error) error {
	return &fs.PathError{Op: op, Path: name, Err: err}
}

// walkLocked returns the node at the components parts.
func (m *MemFS) walkLocked(parts []string) (*memNode, error) {
	n := m.root
	for _, p := range parts {
		if !n.isDir {
			return nil, syscall.ENOTDIR
		}
		c, ok := n.children[p]
		if !ok {
			return nil, fs.ErrNotExist
		}
		n = c
	}
	return n, nil
}

// lookupLocked returns the node named name.
func (m *MemFS) lookupLocked(op, name string) (*memNode, error) {
	n, err := m.walkLocked(split(name))
	if err != nil {
		return nil, pathErr(op, name, err)
	}
	return n, nil
}

// parentLocked returns the directory holding name, and name's last
// component. The root has no parent.
func (m *MemFS) parentLocked(op, name string) (*memNode, string, error) {
	parts := split(name)
	if len(parts) == 0 {
		return nil, "", pathErr(op, name, fs.ErrInvalid)
	}
	dir, err := m.walkLocked(parts[:len(parts)-1])
	if err != nil {
		return nil, "", pathErr(op, name, err)
	}
	if !dir.isDir {
		return nil, "", pathErr(op, name, syscall.ENOTDIR)
	}
	return dir, parts[len(parts)-1], nil
}

// Create implements FS. An existing file is truncated in place (the same
// inode), so its old synced content survives a crash until the next Sync.
func (m *MemFS) Create(name string) (File, error) {
	if err := m.injected(OpCreate, name); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	dir, base, err := m.parentLocked("open", name)
	if err != nil {
		return nil, err
	}
	n, ok := dir.children[base]
	switch {
	case ok && n.isDir:
		return nil, pathErr("open", name, syscall.EISDIR)
	case ok:
		n.resizeLocked(0)
	default:
		n = newFile()
		dir.children[base] = n
	}
	return &memFile{fs: m, node: n, name: name, writable: true}, nil
}

// OpenReadWrite implements FS.
func (m *MemFS) OpenReadWrite(name string) (File, error) { return m.open(name, true) }

// Open implements FS.
func (m *MemFS) Open(name string) (File, error) { return m.open(name, false) }

func (m *MemFS) open(name string, writable bool) (File, error) {
	if err := m.injected(OpOpen, name); err != nil {
		return nil, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	n, err := m.lookupLocked("open", name)
	if err != nil {
		return nil, err
	}
	if n.isDir && writable {
		return nil, pathErr("open", name, syscall.EISDIR)
	}
	return &memFile{fs: m, node: n, name: name, writable: writable}, nil
}

// Remove implements FS.
func (m *MemFS) Remove(name string) error {
	if err := m.injected(OpRemove, name); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	dir, base, err := m.parentLocked("remove", name)
	if err != nil {
		return err
	}
	n, ok := dir.children[base]
	if !ok {
		return pathErr("remove", name, fs.ErrNotExist)
	}
	if n.isDir && len(n.children) > 0 {
		return pathErr("remove", name, syscall.ENOTEMPTY)
	}
	delete(dir.children, base)
	return nil
}

// RemoveAll implements FS. A missing name is not an error. The removed
// nodes keep their durable state, so a crash before SyncDir of the parent
// brings the tree back as it was last made durable.
func (m *MemFS) RemoveAll(name string) error {
	if err := m.injected(OpRemove, name); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	dir, base, err := m.parentLocked("removeall", name)
	if err != nil {
		if len(split(name)) == 0 {
			return err
		}
		return nil // the parent is missing, so is name
	}
	delete(dir.children, base)
	return nil
}

// Rename implements FS, with POSIX rules: a file may replace a file, a
// directory an empty directory, and a directory cannot move below itself.
func (m *MemFS) Rename(oldname, newname string) error {
	if err := m.injected(OpRename, newname); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	odir, obase, err := m.parentLocked("rename", oldname)
	if err != nil {
		return err
	}
	n, ok := odir.children[obase]
	if !ok {
		return pathErr("rename", oldname, fs.ErrNotExist)
	}
	ndir, nbase, err := m.parentLocked("rename", newname)
	if err != nil {
		return err
	}
	if n.isDir && m.containsLocked(n, ndir) {
		return pathErr("rename", newname, fs.ErrInvalid)
	}
	if old, ok := ndir.children[nbase]; ok && old != n {
		switch {
		case n.isDir && !old.isDir:
			return pathErr("rename", newname, syscall.ENOTDIR)
		case !n.isDir && old.isDir:
			return pathErr("rename", newname, syscall.EISDIR)
		case old.isDir && len(old.children) > 0:
			return pathErr("rename", newname, syscall.ENOTEMPTY)
		}
	}
	delete(odir.children, obase)
	ndir.children[nbase] = n
	return nil
}

// containsLocked reports whether dir is d or lies below it.
func (m *MemFS) containsLocked(d, dir *memNode) bool {
	if d == dir {
		return true
	}
	for _, c := range d.children {
		if c.isDir && m.containsLocked(c, dir) {
			return true
		}
	}
	return false
}

// MkdirAll implements FS. perm is ignored. Each new directory is an entry
// of its parent, durable only after SyncDir of that parent.
func (m *MemFS) MkdirAll(dir string, perm os.FileMode) error {
	if err := m.injected(OpMkdir, dir); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	n := m.root
	for _, p := range split(dir) {
		c, ok := n.children[p]
		if !ok {
			c = newDir()
			n.children[p] = c
		} else if !c.isDir {
			return pathErr("mkdir", dir, syscall.ENOTDIR)
		}
		n = c
	}
	return nil
}

// SyncDir implements FS: the directory's current entries become durable.
func (m *MemFS) SyncDir(dir string) error {
	if err := m.injected(OpSyncDir, dir); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.lookupLocked("syncdir", dir)
	if err != nil {
		return err
	}
	if !n.isDir {
		return pathErr("syncdir", dir, syscall.ENOTDIR)
	}
	clear(n.durable)
	for k, c := range n.children {
		n.durable[k] = c
	}
	return nil
}

// List implements FS.
func (m *MemFS) List(dir string) ([]string, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	n, err := m.lookupLocked("readdir", dir)
	if err != nil {
		return nil, err
	}
	if !n.isDir {
		return nil, pathErr("readdir", dir, syscall.ENOTDIR)
	}
	names := make([]string, 0, len(n.children))
	for k := range n.children {
		names = append(names, k)
	}
	slices.Sort(names)
	return names, nil
}

// Stat implements FS.
func (m *MemFS) Stat(name string) (os.FileInfo, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	n, err := m.lookupLocked("stat", name)
	if err != nil {
		return nil, err
	}
	return n.infoLocked(name), nil
}

func (n *memNode) infoLocked(name string) memInfo {
	return memInfo{name: path.Base(path.Clean("/" + name)), size: int64(len(n.data)), isDir: n.isDir}
}

// Lock implements FS: the lock is exclusive within this MemFS (a crash
// clone starts unlocked). It creates the file if missing; the entry is
// durable only after SyncDir, as on the OS.
func (m *MemFS) Lock(name string) (io.Closer, error) {
	if err := m.injected(OpLock, name); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	dir, base, err := m.parentLocked("lock", name)
	if err != nil {
		return nil, err
	}
	n, ok := dir.children[base]
	if !ok {
		n = newFile()
		dir.children[base] = n
	} else if n.isDir {
		return nil, pathErr("lock", name, syscall.EISDIR)
	}
	if m.locked[n] {
		return nil, fmt.Errorf("vfs: lock %s: %w", name, ErrLocked)
	}
	m.locked[n] = true
	return &memLock{fs: m, node: n, name: name}, nil
}

// memLock is a held MemFS lock.
type memLock struct {
	fs   *MemFS
	node *memNode
	name string
	done bool // guarded by fs.mu
}

func (l *memLock) Close() error {
	l.fs.mu.Lock()
	defer l.fs.mu.Unlock()
	if l.done {
		return pathErr("unlock", l.name, fs.ErrClosed)
	}
	l.done = true
	delete(l.fs.locked, l.node)
	return nil
}
