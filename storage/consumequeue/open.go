package consumequeue

import (
	"errors"
	"fmt"
	"math"
	"path"
	"strconv"
)

// nameLen is the length of a file name: 20 decimal digits.
const nameLen = 20

// maxStart bounds a file's first offset so that the byte offset of the
// file after it still fits in an int64 and in 20 digits.
func (q *Queue) maxStart() int64 { return math.MaxInt64/UnitSize - 2*q.upf }

// load opens and recovers the queue's files and sets min and max.
func (q *Queue) load() (*files, error) {
	names, err := q.fs.List(q.dir)
	if err != nil {
		return nil, fmt.Errorf("consumequeue: open %s: %w", q.dir, err)
	}
	starts, err := q.parseNames(names)
	if err != nil {
		return nil, err
	}
	segs := make([]*segment, 0, len(starts))
	sizes := make([]int, 0, len(starts))
	for _, start := range starts {
		s, size, err := q.openSegment(start)
		if err != nil {
			releaseAll(segs)
			return nil, err
		}
		segs, sizes = append(segs, s), append(sizes, size)
	}
	segs, err = q.recoverTail(segs, sizes)
	if err != nil {
		releaseAll(segs)
		return nil, err
	}
	q.min.Store(q.firstNonBlank(segs, q.max.Load()))
	return &files{segs: segs}, nil
}

// parseNames checks that names are aligned, contiguous file names and
// returns their first logical offsets in order.
func (q *Queue) parseNames(names []string) ([]int64, error) {
	starts := make([]int64, 0, len(names))
	for _, name := range names {
		p := path.Join(q.dir, name)
		v, err := strconv.ParseInt(name, 10, 64)
		if len(name) != nameLen || err != nil || !allDigits(name) {
			return nil, fmt.Errorf("consumequeue: %s: not a %d-digit offset: %w", p, nameLen, ErrCorrupt)
		}
		if v%int64(q.fileBytes) != 0 || v/UnitSize > q.maxStart() {
			return nil, fmt.Errorf("consumequeue: %s: offset %d not a multiple of the file size %d: %w", p, v, q.fileBytes, ErrCorrupt)
		}
		start := v / UnitSize
		if n := len(starts); n > 0 && start != starts[n-1]+q.upf {
			missing := path.Join(q.dir, fileName(starts[n-1]+q.upf))
			return nil, fmt.Errorf("consumequeue: %s missing (next file is %s): %w", missing, p, ErrCorrupt)
		}
		starts = append(starts, start)
	}
	return starts, nil
}

// openSegment opens and maps the file whose first unit is start.
func (q *Queue) openSegment(start int64) (*segment, int, error) {
	p := path.Join(q.dir, fileName(start))
	f, err := q.fs.OpenReadWrite(p)
	if err != nil {
		return nil, 0, fmt.Errorf("consumequeue: open %s: %w", p, err)
	}
	size, err := f.Size()
	if err == nil && size > int64(q.fileBytes) {
		err = fmt.Errorf("size %d exceeds the file size %d: %w", size, q.fileBytes, ErrCorrupt)
	}
	var view []byte
	if err == nil {
		view, err = f.Map(q.fileBytes)
	}
	if err != nil {
		_ = f.Close()
		return nil, 0, fmt.Errorf("consumequeue: %s@0: %w", p, err)
	}
	return &segment{start: start, path: p, f: f, view: view}, int(size), nil
}

// recoverTail finds where the queue ends (the first invalid unit), makes
// that durable by truncating the file there and removing later files, sets
// max, and returns the remaining segments.
func (q *Queue) recoverTail(segs []*segment, sizes []int) ([]*segment, error) {
	if len(segs) == 0 {
		return segs, nil
	}
	i, n := q.findEnd(segs, sizes)
	s := segs[i]
	if sizes[i] > n*UnitSize {
		if err := s.f.Truncate(int64(n * UnitSize)); err != nil {
			return segs, fmt.Errorf("consumequeue: %s@%d: truncate torn tail: %w", s.path, n*UnitSize, err)
		}
		if err := s.f.Sync(); err != nil {
			return segs, fmt.Errorf("consumequeue: %s: sync: %w", s.path, err)
		}
	}
	if i+1 < len(segs) {
		later := segs[i+1:]
		segs = segs[:i+1]
		if err := q.removeSegments(later); err != nil {
			return segs, err
		}
	}
	q.max.Store(s.start + int64(n))
	return segs, nil
}

// findEnd returns the index of the file where the queue ends and how many
// valid units that file holds. The last two files are scanned unit by
// unit; an earlier file counts as complete when it is full and its last
// unit is valid.
func (q *Queue) findEnd(segs []*segment, sizes []int) (int, int) {
	last := len(segs) - 1
	for i, s := range segs {
		if i < last-1 && sizes[i] == q.fileBytes && decode(s.view[q.fileBytes-UnitSize:]).valid() {
			continue
		}
		n := validUnits(s.view[:sizes[i]])
		if int64(n) < q.upf || i == last {
			return i, n
		}
	}
	return last, int(q.upf) // not reached: the last file returns above
}

// firstNonBlank returns the offset of the first non-blank unit below max,
// or max if there is none.
func (q *Queue) firstNonBlank(segs []*segment, max int64) int64 {
	for _, s := range segs {
		lim := min(q.upf, max-s.start)
		for k := int64(0); k < lim; k++ {
			if !decode(s.view[k*UnitSize:]).IsBlank() {
				return s.start + k
			}
		}
	}
	return max
}

// removeSegments releases and removes the files of segs, then syncs the
// directory. Callers ensure no reader can reach segs.
func (q *Queue) removeSegments(segs []*segment) error {
	var errs []error
	q.syncMu.Lock()
	defer q.syncMu.Unlock()
	for _, s := range segs {
		errs = append(errs, s.release())
		if err := q.fs.Remove(s.path); err != nil {
			errs = append(errs, fmt.Errorf("consumequeue: remove %s: %w", s.path, err))
		}
	}
	if err := q.fs.SyncDir(q.dir); err != nil {
		errs = append(errs, fmt.Errorf("consumequeue: sync dir %s: %w", q.dir, err))
	}
	return errors.Join(errs...)
}

// allDigits reports whether s holds only the digits 0-9.
func allDigits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// releaseAll releases segs after a failed Open (no Sync can hold them).
func releaseAll(segs []*segment) {
	for _, s := range segs {
		_ = s.release()
	}
}
