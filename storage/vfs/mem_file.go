package vfs

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// memFile is an open MemFS file. It holds its node, not its name, so it
// keeps working after a rename or remove, as a descriptor does.
type memFile struct {
	fs       *MemFS
	node     *memNode
	name     string
	writable bool
	closed   bool // guarded by fs.mu
}

// checkLocked returns the error for op on a closed or read-only file.
func (f *memFile) checkLocked(op string, write bool) error {
	if f.closed {
		return pathErr(op, f.name, fs.ErrClosed)
	}
	if f.node.isDir && (write || op == "read") {
		return pathErr(op, f.name, syscall.EISDIR)
	}
	if write && !f.writable {
		return pathErr(op, f.name, syscall.EBADF)
	}
	return nil
}

// checkRange validates a positional write's offset and end.
func (f *memFile) checkRange(op string, off int64, n int) error {
	if off < 0 {
		return pathErr(op, f.name, fmt.Errorf("negative offset %d: %w", off, fs.ErrInvalid))
	}
	if off > maxMemFileSize-int64(n) {
		return pathErr(op, f.name, syscall.EFBIG)
	}
	return nil
}

func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	if err := f.fs.injected(OpRead, f.name); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, pathErr("read", f.name, fmt.Errorf("negative offset %d: %w", off, fs.ErrInvalid))
	}
	f.fs.mu.RLock()
	defer f.fs.mu.RUnlock()
	if err := f.checkLocked("read", false); err != nil {
		return 0, err
	}
	if off >= int64(len(f.node.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.node.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (f *memFile) WriteAt(p []byte, off int64) (int, error) {
	if err := f.fs.injected(OpWrite, f.name); err != nil {
		return 0, err
	}
	if err := f.checkRange("write", off, len(p)); err != nil {
		return 0, err
	}
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.checkLocked("write", true); err != nil {
		return 0, err
	}
	f.node.writeLocked(p, int(off))
	return len(p), nil
}

func (f *memFile) Close() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.closed {
		return pathErr("close", f.name, fs.ErrClosed)
	}
	f.closed = true
	return nil
}

func (f *memFile) Sync() error {
	if err := f.fs.injected(OpSync, f.name); err != nil {
		return err
	}
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.checkLocked("sync", false); err != nil {
		return err
	}
	if !f.node.isDir {
		f.node.syncLocked()
	}
	return nil
}

func (f *memFile) Truncate(size int64) error {
	if err := f.fs.injected(OpTruncate, f.name); err != nil {
		return err
	}
	if err := f.checkRange("truncate", size, 0); err != nil {
		return err
	}
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.checkLocked("truncate", true); err != nil {
		return err
	}
	f.node.resizeLocked(int(size))
	return nil
}

func (f *memFile) Size() (int64, error) {
	f.fs.mu.RLock()
	defer f.fs.mu.RUnlock()
	if f.closed {
		return 0, pathErr("stat", f.name, fs.ErrClosed)
	}
	return int64(len(f.node.data)), nil
}

// Map returns a view that aliases the file's backing array; writes into
// the mapped range stay visible in it even if the file later reallocates.
func (f *memFile) Map(length int) ([]byte, error) {
	if length <= 0 || length > maxMemFileSize {
		return nil, fmt.Errorf("vfs: map %s: length %d: %w", f.name, length, os.ErrInvalid)
	}
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.checkLocked("mmap", false); err != nil {
		return nil, err
	}
	if f.node.isDir {
		return nil, pathErr("mmap", f.name, syscall.ENODEV)
	}
	return f.node.mapLocked(length), nil
}

// MapWritable returns a view like Map's, of a file opened for writing.
// Stores into it land in the file's backing array; Wrote makes them
// writes.
func (f *memFile) MapWritable(length int) ([]byte, error) {
	f.fs.mu.Lock()
	writable := f.writable
	f.fs.mu.Unlock()
	if !writable {
		return nil, pathErr("mmap", f.name, syscall.EACCES)
	}
	return f.Map(length)
}

// Wrote records the store into view[off:off+n] as a write of the file:
// dirty until Sync, so a crash drops or tears it. A store beyond the
// file's size would have faulted on the OS; it is an error here.
func (f *memFile) Wrote(view []byte, off int64, n int) error {
	if off < 0 || n < 0 || off > int64(len(view))-int64(n) {
		return pathErr("mapped write", f.name, fmt.Errorf("[%d, +%d) outside a view of %d bytes: %w", off, n, len(view), fs.ErrInvalid))
	}
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.checkLocked("write", true); err != nil {
		return err
	}
	return f.node.wroteLocked(f.name, view, int(off), int(off)+n)
}

func (f *memFile) Unmap(view []byte) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if !f.node.unmapLocked(view) {
		return fmt.Errorf("vfs: munmap %s: not a live view: %w", f.name, os.ErrInvalid)
	}
	return nil
}

func (f *memFile) Name() string { return f.name }
