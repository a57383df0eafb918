package consumequeue

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sync"
	"sync/atomic"

	"github.com/twinmq/twinmq/storage/vfs"
)

// Queue is one ConsumeQueue. See the package doc for who may call what
// concurrently.
type Queue struct {
	fs        vfs.FS
	dir       string
	upf       int64 // units per file
	fileBytes int   // upf * UnitSize

	// mu is held for reading while a reader touches a view, and for writing
	// by the writer while it changes bytes below MaxOffset or unmaps views.
	mu  sync.RWMutex
	st  atomic.Pointer[files] // nil once closed
	min atomic.Int64
	max atomic.Int64
	// pend is the tail page: the newest units, not yet written to their
	// file. See pending.
	pend atomic.Pointer[pending]

	// Writer-owned: only the writer goroutine (and Close) touch these.
	dirty []*segment // written since the last Flush
	pendN int        // units in pend not yet written to the file
	buf   []byte     // encoding scratch
	werr  error      // sticky write or sync error
	// syncDirs are directories whose new entries (a file or directory
	// created in them) the next Flush makes durable. Created on the
	// dispatch path, which a produce waits on, and synced at Flush (the
	// checkpoint), which claims nothing about the queue before: a
	// directory fsync per new queue file was 8.6% of the broker's CPU
	// with 1,000 partitions (issue 19).
	syncDirs []string

	// syncMu is held by Dirty.Sync while it syncs the queue's files, and
	// by the writer while it closes files, so that no file is closed
	// under a Sync (sync.go). It guards segment.closed and gone.
	syncMu sync.Mutex
	gone   bool                  // Destroy removed the queue's directory
	serr   atomic.Pointer[error] // a Dirty.Sync's error, sticky like werr
}

// files is an immutable snapshot of a queue's files: segs[i] holds units
// [segs[i].start, segs[i].start+upf) and starts are contiguous.
type files struct {
	segs []*segment
}

// segment is one open, mapped file.
type segment struct {
	start  int64    // logical offset of its first unit
	path   string   // dir/<20-digit byte offset>
	f      vfs.File // read-write
	view   []byte   // read-only view of fileBytes bytes
	dirty  bool     // writer-owned: listed in Queue.dirty
	closed bool     // released; guarded by Queue.syncMu
}

// Open opens the queue in dir, creating dir if it is missing (durably at
// the first Flush). unitsPerFile 0 means DefaultUnitsPerFile. It validates
// and recovers the files as the package doc says.
func Open(fsys vfs.FS, dir string, unitsPerFile int) (*Queue, error) {
	if unitsPerFile == 0 {
		unitsPerFile = DefaultUnitsPerFile
	}
	if unitsPerFile < 0 || unitsPerFile > maxFileBytes/UnitSize {
		return nil, fmt.Errorf("consumequeue: open %s: unitsPerFile %d out of [1, %d]", dir, unitsPerFile, maxFileBytes/UnitSize)
	}
	q := &Queue{fs: fsys, dir: path.Clean(dir), upf: int64(unitsPerFile), fileBytes: unitsPerFile * UnitSize}
	created, err := ensureDir(fsys, q.dir)
	if err != nil {
		return nil, fmt.Errorf("consumequeue: open %s: %w", q.dir, err)
	}
	for _, d := range created {
		q.syncDirs = append(q.syncDirs, path.Dir(d))
	}
	st, err := q.load()
	if err != nil {
		return nil, err
	}
	q.st.Store(st)
	return q, nil
}

// ensureDir creates dir if it is missing and returns the directories it
// created, deepest first: each is durable once its parent is synced.
func ensureDir(fsys vfs.FS, dir string) ([]string, error) {
	var created []string
	for d := dir; ; d = path.Dir(d) {
		fi, err := fsys.Stat(d)
		if err == nil {
			if !fi.IsDir() {
				return nil, fmt.Errorf("%s is not a directory: %w", d, ErrCorrupt)
			}
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		created = append(created, d)
		if d == path.Dir(d) {
			break
		}
	}
	if len(created) == 0 {
		return nil, nil
	}
	if err := fsys.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return created, nil
}

// fileName returns the name of the file whose first unit is offset.
func fileName(start int64) string { return fmt.Sprintf("%020d", start*UnitSize) }

// fileStart returns the logical offset of the first unit of the file that
// holds offset.
func (q *Queue) fileStart(offset int64) int64 { return offset - offset%q.upf }

// Dir returns the queue's directory.
func (q *Queue) Dir() string { return q.dir }

// MinOffset returns the first readable offset.
func (q *Queue) MinOffset() int64 { return q.min.Load() }

// MaxOffset returns the next offset to be written (RocketMQ's maxOffset,
// Kafka's log end offset). MinOffset() == MaxOffset() means empty.
func (q *Queue) MaxOffset() int64 { return q.max.Load() }

// Close flushes (unless a write already failed), unmaps and closes the
// files. The writer must have stopped; readers that call in afterwards get
// ErrClosed.
func (q *Queue) Close() error {
	var ferr error
	if q.st.Load() != nil && q.werr == nil {
		ferr = q.Flush()
	}
	return errors.Join(ferr, q.release())
}

// release unmaps and closes every file; readers get ErrClosed afterwards.
func (q *Queue) release() error {
	q.mu.Lock()
	st := q.st.Swap(nil)
	q.mu.Unlock()
	if st == nil {
		return fmt.Errorf("consumequeue: close %s: %w", q.dir, ErrClosed)
	}
	errs := make([]error, 0, len(st.segs))
	q.syncMu.Lock()
	for _, s := range st.segs {
		errs = append(errs, s.release())
	}
	q.syncMu.Unlock()
	q.dirty = nil
	return errors.Join(errs...)
}

// Destroy closes the queue without flushing and removes its files and
// directory durably (topic deletion). It may follow Close.
func (q *Queue) Destroy() error {
	q.dropPending()
	if err := q.release(); err != nil && !errors.Is(err, ErrClosed) {
		return err
	}
	q.syncMu.Lock()
	q.gone = true
	q.syncMu.Unlock()
	if err := q.fs.RemoveAll(q.dir); err != nil {
		return fmt.Errorf("consumequeue: destroy %s: %w", q.dir, err)
	}
	if err := q.fs.SyncDir(path.Dir(q.dir)); err != nil {
		return fmt.Errorf("consumequeue: destroy %s: %w", q.dir, err)
	}
	return nil
}

// release unmaps and closes s. Callers ensure no reader uses s.view, and
// hold the queue's syncMu.
func (s *segment) release() error {
	s.closed = true
	var uerr error
	if s.view != nil {
		uerr = s.f.Unmap(s.view)
		s.view = nil
	}
	return errors.Join(uerr, s.f.Close())
}
