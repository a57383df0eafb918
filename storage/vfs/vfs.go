// Package vfs is the file-system interface that all storage I/O goes through.
//
// Two implementations exist: Default (the operating system, pwrite + fdatasync,
// read-only mmap for zero-copy reads) and MemFS (an in-memory file system that
// can simulate a crash: data written after a file's last Sync, and directory
// entries created, renamed or removed after the directory's last Sync, are lost
// or torn in the crash clone). Storage code never calls package os directly, so
// the same engine runs under crash tests and on disk.
//
// # Crash model
//
// MemFS keeps two states of everything, the current one and the durable one:
//
//	file node:  data   (what reads see)      synced  (as of the last File.Sync)
//	directory:  entries (what List sees)     durable (as of the last SyncDir)
//
// CrashClone(cfg) builds a new MemFS from the durable state only, as a power
// loss would leave it (file data is durable once the file is synced, a
// name once its directory is):
//
//   - A name exists after the crash only if every directory on its path
//     holds it durably: a file created, or a directory made by MkdirAll,
//     vanishes unless its parent was synced afterwards. The root always
//     exists.
//   - A rename or remove not followed by SyncDir of the directory is undone;
//     a removed tree comes back as it was last made durable.
//   - Each surviving file holds its content as of its last Sync: unsynced
//     appends, overwrites and truncations are lost.
//   - With cfg.Rand set and cfg.UnsyncedDataPercent > 0 the crash is torn:
//     each unsynced unit survives with that chance: the appended tail (a
//     random non-empty prefix of it), a shrinking truncation, and each
//     overwritten 512-byte block. Directory operations are never torn.
//
// A Sync or SyncDir that fails (InjectError) makes nothing durable, so a test
// can check that the engine stops acknowledging after a failed fsync (rule 6).
//
// Map views on MemFS see every later write into the mapped range, as a
// MAP_SHARED mapping on the OS sees pwrite. Mapped bytes are never durable
// by themselves; only File.Sync is. A store into a MapWritable view is a
// write once Wrote reports it: unsynced, it is lost or torn in a crash
// like any other write.
package vfs

import (
	"io"
	"os"
)

// File is an open file. Writes are positional (WriteAt); there is no shared
// cursor, so concurrent ReadAt calls are safe with one writer.
type File interface {
	io.ReaderAt
	io.WriterAt
	io.Closer
	// Sync makes the file's data (and the metadata needed to read it back,
	// such as its size) durable: fdatasync on Linux.
	Sync() error
	// Truncate changes the file's size. The change is durable after Sync.
	Truncate(size int64) error
	// Size reports the file's current size in bytes.
	Size() (int64, error)
	// Map returns a read-only view of the first length bytes of the file.
	// length may exceed the current size: the file may grow into the view
	// through WriteAt, and bytes written become visible in it. Callers must
	// not read bytes of the view beyond what has been written (on the OS this
	// faults). The view stays valid until Unmap; Unmap before Close.
	Map(length int) ([]byte, error)
	// MapWritable is Map with write access, for a file opened for
	// writing: a store into the view below the file's size writes the
	// file as WriteAt would (not durable until Sync) without a system
	// call. Report every store with Wrote. A store at or past the file's
	// size faults on the OS (SIGBUS): grow the file first, with WriteAt
	// of zeros, so that the blocks are allocated and a full disk fails a
	// WriteAt, not a store.
	MapWritable(length int) ([]byte, error)
	// Wrote reports that view[off:off+n], of a view from MapWritable,
	// was stored into. On the OS it does nothing (the page cache already
	// holds the bytes); MemFS records the write for Sync and crashes.
	Wrote(view []byte, off int64, n int) error
	// Unmap releases a view returned by Map or MapWritable.
	Unmap(view []byte) error
	// Name reports the path the file was opened with.
	Name() string
}

// SpaceReporter is an FS that can tell how much space is left: the store
// refuses appends while less than its reserve is free (storage.Config
// DiskReserveBytes). OS implements it; MemFS does not (its tests inject
// ENOSPC instead).
// Evicter is a File whose mapped views can give their resident pages
// back to the kernel: they stay in the page cache (reclaimable, written
// back if dirty), leave the process's resident set, and a later read of
// the view faults them in again. MemFS files do not implement it: their
// views are heap memory.
type Evicter interface {
	// Evict drops view's pages from the process's resident set; view
	// is a whole view from Map or MapWritable of this file.
	Evict(view []byte) error
}

type SpaceReporter interface {
	// FreeSpace reports the bytes that may still be allocated on the file
	// system holding dir.
	FreeSpace(dir string) (int64, error)
}

// FS is a file system. Paths use '/' separators (package path/filepath on
// the OS).
type FS interface {
	// Create creates or truncates the named file for reading and writing.
	// The new directory entry is durable only after SyncDir of its parent.
	Create(name string) (File, error)
	// OpenReadWrite opens an existing file for reading and writing.
	OpenReadWrite(name string) (File, error)
	// Open opens an existing file read-only.
	Open(name string) (File, error)
	// Remove removes a file or an empty directory; durable after SyncDir.
	Remove(name string) error
	// RemoveAll removes a directory tree; durable after SyncDir of its parent.
	RemoveAll(name string) error
	// Rename atomically replaces newname by oldname; durable after SyncDir.
	Rename(oldname, newname string) error
	// MkdirAll creates a directory and its parents. Each created directory is
	// durable only after SyncDir of its parent.
	MkdirAll(dir string, perm os.FileMode) error
	// SyncDir makes the directory's entries (creates, renames, removes)
	// durable.
	SyncDir(dir string) error
	// List returns the names of a directory's entries, sorted.
	List(dir string) ([]string, error)
	// Stat describes the named file or directory.
	Stat(name string) (os.FileInfo, error)
	// Lock takes an exclusive advisory lock on the named file (created if
	// missing) so that two processes never open the same store. Close the
	// returned Closer to release it.
	Lock(name string) (io.Closer, error)
}
