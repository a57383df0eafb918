package commitlog

import "fmt"

// The zero-fill ahead of the write position (zeroAheadLocked) writes into
// page-cache pages that were never used, and on a VM that returns freed
// memory to its host their first touch is slow: it was half of the
// broker's CPU on the produce path (issue 19: 52-54% with one producer).
// A filler goroutine does it ahead of time instead: an append that finds
// fewer than ZeroAhead zeros left kicks it, and it extends the zeros to
// 2*ZeroAhead past the write position while appends go on below. The
// append path fills inline only when the filler fell behind by more than
// half of ZeroAhead (as every append that crossed that mark did before).
//
// Exclusion: while a fill is claimed (zeroFill, under mu) the filler
// alone writes the active file at or past zeroed; appends write below
// zeroed. Any other write at or past zeroed (an append past the zeros or
// the inline fill, the roll's end-of-segment marker, a replica's
// truncation, a torn write undone, Close) first waits for the fill
// (waitZeroLocked), holding mu: the filler needs no lock to finish its
// writes, only to publish them, which the waiter does for it. A fill
// publishes its zeros by moving zeroed only if the active segment and
// zeroed are still the ones it started from.

// zeroFill is one claimed fill of [from, to) of segment s.
type zeroFill struct {
	s        *segment
	from, to int64
	done     chan struct{} // closed when the writes are over
	err      error         // set before done is closed
}

// kickZeroLocked wakes the filler when fewer than za zeros are left past
// end. mu is held.
func (l *Log) kickZeroLocked(end int64, za int64) {
	if l.closed || l.active == nil || end+za < l.zeroed || l.zeroFill != nil || l.noFiller {
		return
	}
	if l.zeroKick == nil {
		l.zeroKick = make(chan struct{}, 1)
		l.zeroDone = make(chan struct{})
		go l.zeroLoop(l.zeroKick, l.zeroDone)
	}
	select {
	case l.zeroKick <- struct{}{}:
	default:
	}
}

// waitZeroLocked waits until no fill is under way and publishes the one
// that was. mu is held throughout.
func (l *Log) waitZeroLocked() {
	if f := l.zeroFill; f != nil {
		<-f.done
		l.finishZeroLocked(f)
	}
}

// finishZeroLocked publishes fill f, once. mu is held.
func (l *Log) finishZeroLocked(f *zeroFill) {
	if l.zeroFill != f {
		return
	}
	l.zeroFill = nil
	// An error is left to the append that needs the zeros: it fills
	// inline and reports it (a full disk as ErrNoSpace).
	if f.err == nil && l.active == f.s && l.zeroed == f.from {
		l.zeroed = f.to
	}
}

// stopZeroLocked stops the filler (Close). mu is held.
func (l *Log) stopZeroLocked() {
	l.waitZeroLocked()
	if l.zeroKick != nil {
		close(l.zeroKick)
		l.zeroKick = nil
		// The filler may be waiting for mu to claim a fill: it will
		// find the log closed. Wait for it without mu.
		l.mu.Unlock()
		<-l.zeroDone
		l.mu.Lock()
	}
}

// zeroLoop is the filler goroutine.
func (l *Log) zeroLoop(kick <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	for range kick {
		l.mu.Lock()
		f := l.zeroClaimLocked()
		l.mu.Unlock()
		if f == nil {
			continue
		}
		f.err = l.writeZeros(f.s, f.from, f.to)
		close(f.done)
		l.mu.Lock()
		l.finishZeroLocked(f)
		l.mu.Unlock()
	}
}

// zeroClaimLocked claims the range the filler zero-fills, or returns nil
// when there is nothing to do. mu is held.
func (l *Log) zeroClaimLocked() *zeroFill {
	za, piece := l.zeroAhead()
	if l.closed || l.active == nil || l.zeroFill != nil || l.Err() != nil {
		return nil
	}
	end := l.written.Load()
	if end+za < l.zeroed {
		return nil
	}
	s := l.active
	segEnd := s.start + l.opt.SegmentSize
	from := l.zeroed
	to := min(alignUp(max(end, from)+2*za-s.start, piece)+s.start, segEnd)
	if from >= to {
		return nil
	}
	if int64(len(l.zeros)) < piece {
		l.zeros = make([]byte, piece)
	}
	l.zeroFill = &zeroFill{s: s, from: from, to: to, done: make(chan struct{})}
	return l.zeroFill
}

// writeZeros writes zeros over [from, to) of s in aligned pieces. It runs
// without mu: the claim keeps everyone else out of that range, and
// l.zeros is not reallocated while it is long enough.
func (l *Log) writeZeros(s *segment, from, to int64) error {
	_, piece := l.zeroAhead()
	for from < to {
		rel := from - s.start
		n := min(to-from, alignUp(rel+1, piece)-rel, int64(len(l.zeros)))
		if _, err := s.file.WriteAt(l.zeros[:n], rel); err != nil {
			return fmt.Errorf("zero-fill %s@%d: %w", s.name, rel, err)
		}
		from += n
	}
	return nil
}

// zeroAhead is the zero-fill distance and piece size (zeroAheadLocked).
func (l *Log) zeroAhead() (za, piece int64) {
	za, piece = l.opt.ZeroAhead, int64(zeroPiece)
	if za > 0 && l.opt.MappedWrites {
		za, piece = max(za, 2*mappedZeroPiece), mappedZeroPiece
	}
	return za, piece
}
