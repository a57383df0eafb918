//go:build unix

package vfs

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// OS is the operating system's file system: pwrite + fdatasync, read-only
// MAP_SHARED mmap views, flock locks. Its zero value is ready to use.
type OS struct{}

var _ FS = OS{}

// Default returns the operating system's file system.
func Default() FS { return OS{} }

// Create implements FS.
func (OS) Create(name string) (File, error) {
	return openOS(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC)
}

// OpenReadWrite implements FS.
func (OS) OpenReadWrite(name string) (File, error) { return openOS(name, os.O_RDWR) }

// Open implements FS.
func (OS) Open(name string) (File, error) { return openOS(name, os.O_RDONLY) }

func openOS(name string, flag int) (File, error) {
	f, err := os.OpenFile(filepath.FromSlash(name), flag, 0o644)
	if err != nil {
		return nil, err // *os.PathError names the op and the path
	}
	return &osFile{f: f}, nil
}

// Remove implements FS.
func (OS) Remove(name string) error { return os.Remove(filepath.FromSlash(name)) }

// RemoveAll implements FS.
func (OS) RemoveAll(name string) error { return os.RemoveAll(filepath.FromSlash(name)) }

// Rename implements FS.
func (OS) Rename(oldname, newname string) error {
	return os.Rename(filepath.FromSlash(oldname), filepath.FromSlash(newname))
}

// MkdirAll implements FS.
func (OS) MkdirAll(dir string, perm os.FileMode) error {
	return os.MkdirAll(filepath.FromSlash(dir), perm)
}

// SyncDir implements FS: it opens the directory and fsyncs it, which makes
// its entries durable: a created, renamed or removed name survives a power
// loss only once its directory is fsynced.
func (OS) SyncDir(dir string) error {
	d, err := os.Open(filepath.FromSlash(dir))
	if err != nil {
		return err
	}
	serr := d.Sync()
	cerr := d.Close()
	if serr != nil {
		return serr
	}
	return cerr
}

// List implements FS. os.ReadDir sorts by name.
func (OS) List(dir string) ([]string, error) {
	ents, err := os.ReadDir(filepath.FromSlash(dir))
	if err != nil {
		return nil, err
	}
	names := make([]string, len(ents))
	for i, e := range ents {
		names[i] = e.Name()
	}
	return names, nil
}

// Stat implements FS.
func (OS) Stat(name string) (os.FileInfo, error) { return os.Stat(filepath.FromSlash(name)) }

// Lock implements FS with flock(LOCK_EX|LOCK_NB). flock locks belong to the
// open file description, so a second Lock of the same file fails even
// within one process. Closing the returned Closer closes the descriptor,
// which releases the lock.
func (OS) Lock(name string) (io.Closer, error) {
	f, err := os.OpenFile(filepath.FromSlash(name), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	err = withFd(f, func(fd int) error { return unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB) })
	if err != nil {
		_ = f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("vfs: lock %s: %w", name, ErrLocked)
		}
		return nil, &os.PathError{Op: "flock", Path: name, Err: err}
	}
	return f, nil
}

// withFd runs fn with f's descriptor, retrying on EINTR, without the side
// effects of (*os.File).Fd.
func withFd(f *os.File, fn func(fd int) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) {
		for {
			ferr = fn(int(fd))
			if ferr != unix.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	return ferr
}

// osFile is a File on the operating system.
type osFile struct {
	f *os.File
}

func (o *osFile) ReadAt(p []byte, off int64) (int, error)  { return o.f.ReadAt(p, off) }
func (o *osFile) WriteAt(p []byte, off int64) (int, error) { return o.f.WriteAt(p, off) }
func (o *osFile) Close() error                             { return o.f.Close() }
func (o *osFile) Truncate(size int64) error                { return o.f.Truncate(size) }
func (o *osFile) Name() string                             { return o.f.Name() }

// Sync is fdatasync: it flushes the data and the metadata needed to read it
// back (the size), not timestamps.
func (o *osFile) Sync() error {
	if err := withFd(o.f, fdatasync); err != nil {
		return &os.PathError{Op: "fdatasync", Path: o.f.Name(), Err: err}
	}
	return nil
}

func (o *osFile) Size() (int64, error) {
	fi, err := o.f.Stat()
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// Map maps the first length bytes read-only and shared, so that pwrites
// through any descriptor show in the view (the page cache is coherent).
// Pages wholly beyond the end of the file fault with SIGBUS when read.
func (o *osFile) Map(length int) ([]byte, error) { return o.mmap(length, unix.PROT_READ) }

// MapWritable maps the first length bytes for reading and writing,
// shared with the page cache: a store is a write of the file, made
// durable by the next fdatasync like a pwrite's bytes.
func (o *osFile) MapWritable(length int) ([]byte, error) {
	return o.mmap(length, unix.PROT_READ|unix.PROT_WRITE)
}

// Evict madvises view MADV_DONTNEED: on a shared file mapping that only
// unmaps the pages from this process (a dirty page stays dirty in the page
// cache), and the next access maps them again from the page cache or the
// file.
func (o *osFile) Evict(view []byte) error {
	if len(view) == 0 {
		return nil
	}
	if err := unix.Madvise(view, unix.MADV_DONTNEED); err != nil {
		return &os.PathError{Op: "madvise", Path: o.f.Name(), Err: err}
	}
	return nil
}

// Wrote does nothing: the store already dirtied the page-cache pages.
func (o *osFile) Wrote([]byte, int64, int) error { return nil }

func (o *osFile) mmap(length, prot int) ([]byte, error) {
	if length <= 0 {
		return nil, fmt.Errorf("vfs: map %s: length %d: %w", o.f.Name(), length, os.ErrInvalid)
	}
	var view []byte
	err := withFd(o.f, func(fd int) error {
		var err error
		view, err = unix.Mmap(fd, 0, length, prot, unix.MAP_SHARED)
		return err
	})
	if err != nil {
		return nil, &os.PathError{Op: "mmap", Path: o.f.Name(), Err: err}
	}
	return view, nil
}

// Unmap releases a view returned by Map; view must be that exact slice.
func (o *osFile) Unmap(view []byte) error {
	if err := unix.Munmap(view); err != nil {
		return &os.PathError{Op: "munmap", Path: o.f.Name(), Err: err}
	}
	return nil
}

// FreeSpace reports the bytes an unprivileged writer may still allocate
// on the file system that holds dir (statfs f_bavail).
func (OS) FreeSpace(dir string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(filepath.FromSlash(dir), &st); err != nil {
		return 0, fmt.Errorf("vfs: statfs %s: %w", dir, err)
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}
