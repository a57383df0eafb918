package commitlog

import (
	"errors"
	"fmt"
)

// Pins is the state of a batched read: one reference to each segment the
// read took entries from, so their bytes stay mapped until Release, and
// the last topic parsed. Log.Read takes a reference per entry (an atomic
// increment and decrement on a shared counter, a segment search and a
// load of the write position each); a read of consecutive entries stays
// in one or two segments, so ReadPinned pays those once per segment.
//
// A Pins is used by one goroutine. Its zero value is ready to use; Release
// it exactly once, after the last use of the bytes it handed out.
type Pins struct {
	small [2]*segment // the first pinned segments
	more  []*segment  // the others, rarely any
	n     int         // pinned segments in small
	// cur is the segment the last entry came from (pinned); limit is the
	// end of its readable bytes, relative to its start, as of the last
	// load of Log.written.
	cur   *segment
	limit int64
	// Topic is the topic of the last entry read. An entry of the same
	// topic gets this string instead of a new one; set it before reading
	// when the topic is known (the entries of one queue share it).
	Topic string
}

// ReadPinned parses the header of the entry at phys into *h, verifies the
// entry against its CRC and returns the whole entry without copying it;
// the bytes stay valid until p.Release. size is the expected entry size
// (0: take it from the entry). The caller must only ask for entries below
// WrittenOffset. Errors are those of Read; *h is undefined after one.
func (l *Log) ReadPinned(p *Pins, phys int64, size int32, h *Header) ([]byte, error) {
	s := p.cur
	if s == nil || phys < s.start || phys >= s.start+l.opt.SegmentSize {
		var err error
		if s, err = p.pin(l, phys); err != nil {
			return nil, err
		}
	}
	rel := phys - s.start
	if size <= 0 || rel+int64(size) > p.limit {
		// The entry may have been written after the limit was loaded.
		w := l.written.Load()
		if p.limit = min(w-s.start, l.opt.SegmentSize, s.end); rel >= p.limit {
			if phys < w {
				return nil, s.pastEnd(rel)
			}
			return nil, fmt.Errorf("commitlog: offset %d at or past the end %d: %w", phys, s.start+p.limit, ErrOffsetNotFound)
		}
	}
	err := parseHeaderInto(h, s.view[rel:p.limit], true, &p.Topic)
	if err == nil && size > 0 && h.Length != size {
		err = fmt.Errorf("%w: entry length %d, expected %d", ErrCorrupt, h.Length, size)
	}
	if err != nil {
		if errors.Is(err, errEnd) || errors.Is(err, errBlank) {
			err = fmt.Errorf("%w: no entry at this offset", ErrCorrupt)
		}
		return nil, fmt.Errorf("commitlog: %s@%d: %w", s.name, rel, err)
	}
	return s.view[rel : rel+int64(h.Length)], nil
}

// pin makes the segment holding phys current, taking a reference unless p
// already holds one.
func (p *Pins) pin(l *Log, phys int64) (*segment, error) {
	if w := l.written.Load(); phys >= w {
		return nil, fmt.Errorf("commitlog: offset %d at or past the end %d: %w", phys, w, ErrOffsetNotFound)
	}
	s, err := l.findSegment(phys) // acquired
	if err != nil {
		return nil, err
	}
	if p.holds(s) {
		s.release()
	} else if p.n < len(p.small) {
		p.small[p.n] = s
		p.n++
	} else {
		p.more = append(p.more, s)
	}
	p.cur, p.limit = s, 0 // the caller loads the limit
	return s, nil
}

func (p *Pins) holds(s *segment) bool {
	for _, t := range p.small[:p.n] {
		if t == s {
			return true
		}
	}
	for _, t := range p.more {
		if t == s {
			return true
		}
	}
	return false
}

// Release gives back the segment references. The bytes handed out must
// not be used after it.
func (p *Pins) Release() {
	for i, s := range p.small[:p.n] {
		s.release()
		p.small[i] = nil
	}
	for _, s := range p.more {
		s.release()
	}
	p.n, p.more, p.cur, p.limit = 0, nil, nil, 0
}

// Clone returns a Pins holding a reference of its own to every segment p
// holds, so bytes p handed out stay mapped until both are released. It
// cannot fail: p's references keep the segments alive.
func (p *Pins) Clone() Pins {
	var c Pins
	for _, s := range p.small[:p.n] {
		s.refs.Add(1)
		c.small[c.n] = s
		c.n++
	}
	for _, s := range p.more {
		s.refs.Add(1)
		c.more = append(c.more, s)
	}
	c.Topic = p.Topic
	return c
}
