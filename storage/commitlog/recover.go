package commitlog

import (
	"errors"
	"fmt"
	"slices"
)

// Recovered reports what Recover found.
type Recovered struct {
	End     int64 // the log end after truncation
	Entries int   // valid entries scanned
	Dropped int64 // bytes removed from the torn tail
	// Reason says why the scan stopped early ("" at a clean end).
	Reason string
}

// Recover scans the log from the physical offset from (a checkpoint below
// which every entry is known good) to its end, calls fn for every valid
// entry in order, and truncates the log at the first invalid one: the rest
// of that segment and every later segment are removed. It then makes the
// log ready for appends. Recovery is a pure scan: validate, truncate,
// report.
func (l *Log) Recover(from int64, fn func(phys int64, h *Header) error) (Recovered, error) {
	var rec Recovered
	segs := *l.segs.Load()
	if len(segs) == 0 {
		l.written.Store(from)
		l.flushed.Store(from)
		return Recovered{End: from}, nil
	}
	first, last := segs[0].start, segs[len(segs)-1].start+l.opt.SegmentSize
	if from < first {
		from = first
	}
	if from > last {
		return rec, fmt.Errorf("commitlog: checkpoint offset %d past the last segment end %d: %w", from, last, ErrCorrupt)
	}
	if i := segIndex(segs, from, l.opt.SegmentSize); i < len(segs) && from-segs[i].start > segs[i].end {
		// Bytes below from were durable when the checkpoint was written:
		// the file was cut since. Appending past its end would leave a
		// hole the derived data points into.
		return rec, fmt.Errorf("commitlog: checkpoint offset %d: %w", from, segs[i].pastEnd(from-segs[i].start))
	}
	pos := from
	var stop error
	var lastTopic string
	for i := segIndex(segs, from, l.opt.SegmentSize); i < len(segs) && stop == nil; i++ {
		s := segs[i]
		size, err := s.file.Size()
		if err != nil {
			return rec, fmt.Errorf("commitlog: stat %s: %w", s.name, err)
		}
		size = min(size, l.opt.SegmentSize)
		if pos < s.start { // only possible after a segment fully used
			pos = s.start
		}
		for stop == nil {
			rel := pos - s.start
			if rel >= size {
				if rel >= l.opt.SegmentSize || i == len(segs)-1 {
					break // end of a full segment, or of the log
				}
				stop = fmt.Errorf("%w: segment ends at %d without an end-of-segment marker", ErrCorrupt, size)
				break
			}
			h, err := parseHeader(s.view[rel:size], true, &lastTopic)
			switch {
			case err == nil:
			case errors.Is(err, errBlank):
				if int64(h.Length) != l.opt.SegmentSize-rel {
					stop = fmt.Errorf("%w: end-of-segment marker of %d bytes at %d", ErrCorrupt, h.Length, rel)
					continue
				}
				pos = s.start + l.opt.SegmentSize
				rel = l.opt.SegmentSize
			default:
				stop = err
				continue
			}
			if rel >= l.opt.SegmentSize {
				break
			}
			if ferr := fn(pos, &h); ferr != nil {
				return rec, ferr
			}
			rec.Entries++
			pos += int64(h.Length)
		}
	}
	if stop != nil && !errors.Is(stop, errEnd) {
		rec.Reason = fmt.Sprintf("commitlog: %s@%d: %v", segmentName(pos-pos%l.opt.SegmentSize), pos%l.opt.SegmentSize, stop)
		if errors.Is(stop, ErrFormatVersion) {
			return rec, fmt.Errorf("%s", rec.Reason)
		}
	}
	dropped, err := l.truncate(pos)
	if err != nil {
		return rec, err
	}
	rec.End, rec.Dropped = pos, dropped
	l.written.Store(pos)
	l.flushed.Store(pos)
	l.setActive(pos)
	return rec, nil
}

func segIndex(segs []*segment, p, size int64) int {
	for i, s := range segs {
		if p < s.start+size {
			return i
		}
	}
	return len(segs)
}

// truncate removes every byte at or after end and reports how many.
func (l *Log) truncate(end int64) (int64, error) {
	segs := *l.segs.Load()
	var dropped int64
	keep := segs[:0:0]
	removed := false
	for _, s := range segs {
		size, err := s.file.Size()
		if err != nil {
			return dropped, fmt.Errorf("commitlog: stat %s: %w", s.name, err)
		}
		switch {
		case s.start+size <= end:
			keep = append(keep, s)
		case s.start < end || (s.start == end && len(keep) == 0):
			dropped += max(0, dataEnd(s, size)-(end-s.start))
			if err := s.file.Truncate(end - s.start); err != nil {
				return dropped, fmt.Errorf("commitlog: truncate %s to %d: %w", s.name, end-s.start, err)
			}
			if err := s.file.Sync(); err != nil {
				return dropped, fmt.Errorf("commitlog: fsync %s: %w", s.name, err)
			}
			keep = append(keep, s)
		default:
			dropped += dataEnd(s, size)
			if err := l.opt.FS.Remove(s.name); err != nil {
				return dropped, fmt.Errorf("commitlog: remove %s: %w", s.name, err)
			}
			removed = true
			s.release()
		}
	}
	if removed {
		if err := l.opt.FS.SyncDir(l.opt.Dir); err != nil {
			return dropped, fmt.Errorf("commitlog: sync dir %s: %w", l.opt.Dir, err)
		}
	}
	keep = slices.Clip(keep)
	l.segs.Store(&keep)
	return dropped, nil
}

// dataEnd is the end of a segment file's content without its zero-filled
// tail (ZeroAhead), for reporting what truncation drops.
func dataEnd(s *segment, size int64) int64 {
	e := size
	for e > 0 && s.view[e-1] == 0 {
		e--
	}
	return e
}

// setActive picks the segment appends continue in.
func (l *Log) setActive(end int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.waitZeroLocked()
	l.active = nil
	l.zeroed = end // truncate cut the file at end
	segs := *l.segs.Load()
	if n := len(segs); n > 0 && end < segs[n-1].start+l.opt.SegmentSize {
		l.active = segs[n-1]
		l.active.end = l.opt.SegmentSize // appends grow the file under WrittenOffset
	}
}

// Scan calls fn for every entry from the physical offset from up to (not
// including) to, following end-of-segment markers, and returns where it
// stopped. fn's Ref is valid only during the call. Entries are not
// CRC-checked unless verify is set (the dispatcher reads what it just
// wrote; recovery and readers verify).
func (l *Log) Scan(from, to int64, verify bool, fn func(phys int64, r *Ref) error) (int64, error) {
	pos := from
	for pos < to {
		s, err := l.findSegment(pos)
		if err != nil {
			return pos, err
		}
		next, err := l.scanSegment(s, pos, to, verify, fn)
		s.release()
		if err != nil {
			return next, err
		}
		pos = next
	}
	return pos, nil
}

func (l *Log) scanSegment(s *segment, pos, to int64, verify bool, fn func(int64, *Ref) error) (int64, error) {
	want := min(to, s.start+l.opt.SegmentSize) - s.start
	limit := min(want, s.end)
	var lastTopic string
	var r Ref // one per scan: fn gets a pointer, so a Ref per entry would escape
	for pos-s.start < limit {
		rel := pos - s.start
		h, err := parseHeader(s.view[rel:limit], verify, &lastTopic)
		if errors.Is(err, errBlank) {
			return s.start + l.opt.SegmentSize, nil
		}
		if err != nil {
			return pos, fmt.Errorf("commitlog: %s@%d: %w", s.name, rel, err)
		}
		e := s.view[rel : rel+int64(h.Length)]
		r = Ref{Header: h, Entry: e, Payload: e[h.HeaderLen:]}
		if err := fn(pos, &r); err != nil {
			return pos, err
		}
		pos += int64(h.Length)
	}
	if pos-s.start < want {
		return pos, s.pastEnd(pos - s.start)
	}
	return pos, nil
}
