package commitlog

import (
	"fmt"
	"path"
	"strconv"
	"sync/atomic"

	"github.com/twinmq/twinmq/storage/vfs"
)

// segment is one file of the log, named by its 20-digit start offset. Its
// view covers the whole segment size and the file grows into it: readers
// read it, and the appender stores into the active segment's zero-filled
// part through it (Log.writeLocked).
//
// refs counts the log's own reference plus one per reader; the file is
// unmapped and closed when the count reaches zero, so retention can delete
// a segment while a reader still sends its bytes.
type segment struct {
	start int64
	name  string
	file  vfs.File
	view  []byte
	// end bounds the bytes readers may touch, relative to start: the
	// file's size when Open found it, SegmentSize for a segment this
	// process writes, whose file holds every byte below WrittenOffset.
	// Past a file's end the view faults on the OS (SIGBUS): a segment
	// damaged short below the checkpoint must read as ErrCorrupt instead.
	// Set before the log is shared (Open, Recover), read-only after.
	end  int64
	refs atomic.Int32
	// touched: read since its pages were last evicted (Log.evictOld);
	// true from the start, as recovery may have read it.
	touched atomic.Bool
}

func segmentName(start int64) string { return fmt.Sprintf("%020d", start) }

func parseSegmentName(name string) (int64, bool) {
	if len(name) != 20 {
		return 0, false
	}
	n, err := strconv.ParseInt(name, 10, 64)
	return n, err == nil && n >= 0
}

func openSegment(fs vfs.FS, dir string, start, size int64, create bool) (*segment, error) {
	p := path.Join(dir, segmentName(start))
	var f vfs.File
	var err error
	if create {
		f, err = fs.Create(p)
		if err == nil {
			err = fs.SyncDir(dir)
		}
	} else {
		f, err = fs.OpenReadWrite(p)
	}
	if err != nil {
		if f != nil {
			f.Close()
		}
		return nil, fmt.Errorf("commitlog: open segment %s: %w", p, err)
	}
	end := size
	if !create {
		if end, err = f.Size(); err != nil {
			f.Close()
			return nil, fmt.Errorf("commitlog: stat segment %s: %w", p, err)
		}
		end = min(end, size)
	}
	view, err := f.MapWritable(int(size))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("commitlog: map segment %s: %w", p, err)
	}
	s := &segment{start: start, name: p, file: f, view: view, end: end}
	s.refs.Store(1)
	s.touched.Store(true)
	return s, nil
}

// acquire takes a reader's reference; false if the segment is gone.
func (s *segment) acquire() bool {
	for {
		r := s.refs.Load()
		if r <= 0 {
			return false
		}
		if s.refs.CompareAndSwap(r, r+1) {
			return true
		}
	}
}

// pastEnd is the error for a read at rel, at or past s.end but below
// WrittenOffset: the file is shorter than the log it belonged to.
func (s *segment) pastEnd(rel int64) error {
	return fmt.Errorf("commitlog: %s@%d: %w: the file ends at %d", s.name, rel, ErrCorrupt, s.end)
}

// release drops a reference and closes the segment after the last one.
func (s *segment) release() {
	if s.refs.Add(-1) == 0 {
		s.file.Unmap(s.view)
		s.file.Close()
	}
}
