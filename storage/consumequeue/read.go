package consumequeue

import (
	"fmt"
)

// Get returns the unit at offset in O(1) without allocating. It fails with
// ErrOffsetOutOfRange outside [MinOffset, MaxOffset).
func (q *Queue) Get(offset int64) (Unit, error) {
	q.mu.RLock()
	defer q.mu.RUnlock()
	st := q.st.Load()
	if st == nil {
		return Unit{}, fmt.Errorf("consumequeue: get %s@%d: %w", q.dir, offset, ErrClosed)
	}
	lo, hi := q.min.Load(), q.max.Load()
	if offset < lo || offset >= hi {
		return Unit{}, q.rangeErr("get", offset, lo, hi)
	}
	b := q.unitBytes(st, offset)
	if b == nil {
		return Unit{}, q.rangeErr("get", offset, lo, hi)
	}
	return decode(b), nil
}

// Read appends to dst up to cap(dst)-len(dst) consecutive units starting at
// offset and returns the extended slice; it allocates nothing. It stops at
// MaxOffset: offset == MaxOffset appends nothing and is not an error (a
// consumer caught up). It fails with ErrOffsetOutOfRange when offset is
// below MinOffset or above MaxOffset.
func (q *Queue) Read(offset int64, dst []Unit) ([]Unit, error) {
	q.mu.RLock()
	defer q.mu.RUnlock()
	st := q.st.Load()
	if st == nil {
		return dst, fmt.Errorf("consumequeue: read %s@%d: %w", q.dir, offset, ErrClosed)
	}
	lo, hi := q.min.Load(), q.max.Load()
	if offset < lo || offset > hi {
		return dst, q.rangeErr("read", offset, lo, hi)
	}
	p := q.pend.Load()
	for offset < hi && len(dst) < cap(dst) {
		if p != nil && offset >= p.start {
			for ; offset < hi && len(dst) < cap(dst); offset++ {
				b := q.unitBytes(st, offset)
				if b == nil {
					return dst, q.rangeErr("read", offset, lo, hi)
				}
				dst = append(dst, decode(b))
			}
			break
		}
		s, k := q.locate(st, offset)
		if s == nil {
			return dst, q.rangeErr("read", offset, lo, hi)
		}
		n := min(int64(cap(dst)-len(dst)), hi-offset, q.upf-k)
		if p != nil && offset+n > p.start {
			n = p.start - offset
		}
		b := s.view[k*UnitSize : (k+n)*UnitSize]
		for len(b) > 0 {
			dst = append(dst, decode(b))
			b = b[UnitSize:]
		}
		offset += n
	}
	return dst, nil
}

// locate returns the segment holding offset and the unit's index in it,
// or nil when the snapshot has no such file (a concurrent SetMinOffset or
// truncation moved the bounds after they were loaded).
func (q *Queue) locate(st *files, offset int64) (*segment, int64) {
	if len(st.segs) == 0 {
		return nil, 0
	}
	i := (offset - st.segs[0].start) / q.upf
	if offset < st.segs[0].start || i >= int64(len(st.segs)) {
		return nil, 0
	}
	return st.segs[i], offset % q.upf
}

func (q *Queue) rangeErr(op string, offset, lo, hi int64) error {
	return fmt.Errorf("consumequeue: %s %s@%d: not in [%d, %d): %w", op, q.dir, offset, lo, hi, ErrOffsetOutOfRange)
}

// SearchOffset returns the first offset in [MinOffset, MaxOffset) whose
// store time is >= ts, or MaxOffset if there is none (Kafka ListOffsets by
// timestamp, RocketMQ SEARCH_OFFSET_BY_TIMESTAMP 29). storeTime reads a
// unit's store time from the CommitLog; store times are assumed
// non-decreasing along the queue, as the CommitLog assigns them. It runs
// without locks held, so storeTime may block.
func (q *Queue) SearchOffset(ts int64, storeTime func(Unit) (int64, error)) (int64, error) {
	lo, hi := q.MinOffset(), q.MaxOffset()
	for lo < hi {
		mid := lo + (hi-lo)/2
		u, err := q.Get(mid)
		if err != nil {
			return 0, err
		}
		t, err := storeTime(u)
		if err != nil {
			return 0, fmt.Errorf("consumequeue: search %s@%d: %w", q.dir, mid, err)
		}
		if t >= ts {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo, nil
}

// searchCommitLog returns the first offset in [lo, hi) whose unit's
// CommitLogOffset is >= cl, or hi. Writer-only: the units cannot change.
func (q *Queue) searchCommitLog(st *files, lo, hi, cl int64) int64 {
	for lo < hi {
		mid := lo + (hi-lo)/2
		b := q.unitBytes(st, mid)
		if b == nil || decode(b).CommitLogOffset >= cl {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}
