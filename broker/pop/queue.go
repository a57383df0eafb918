package pop

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
)

// Errors of the core; adapters map them to their protocol's codes.
var (
	// ErrNotHeld: the offset is not locked by anyone (never delivered,
	// or already acknowledged or dead-lettered).
	ErrNotHeld = errors.New("pop: record not held")
	// ErrLockExpired: the lock named is no longer the record's (it
	// expired, or the record was delivered again or given a new lock).
	ErrLockExpired = errors.New("pop: lock expired")
	// ErrCorrupt: a state record that does not decode.
	ErrCorrupt = errors.New("pop: corrupt state record")
)

// Lock is an acquired record's lock.
type Lock struct {
	Deadline int64  // ms: the record is deliverable again from then on
	Attempts int32  // deliveries so far, this one included
	Serial   uint32 // changes at every (re)lock; receipt handles name it
	// Ordered marks a record of an ordered (FIFO) message: while one is
	// locked, the queue delivers no later ordered record (Blocked).
	Ordered bool
}

// Queue is the POP state of one (group, topic, queue): the pure core.
// Every offset below Acked is done; every offset in [Acked, Next) is done
// unless it is in InFlight; no offset at or past Next was delivered.
type Queue struct {
	Acked    int64
	Next     int64
	InFlight map[int64]Lock
	serial   uint32 // last serial given out (restored as the max held)
}

// NewQueue returns the state of a queue consumed from offset start on.
func NewQueue(start int64) *Queue {
	return &Queue{Acked: start, Next: start, InFlight: map[int64]Lock{}}
}

func (q *Queue) nextSerial() uint32 {
	q.serial++
	return q.serial
}

// Take locks the offsets a reader returned for a read from q.Next that
// stopped before next (offsets it skipped, such as filtered ones, are
// done), each until now+invisible, and returns their locks in order.
// Offsets outside [q.Next, next) are ignored.
func (q *Queue) Take(offsets []int64, next, now, invisible int64) []Lock {
	return q.TakeOrdered(offsets, nil, next, now, invisible)
}

// TakeOrdered is Take with, for each offset, whether its record is
// ordered (nil: none is).
func (q *Queue) TakeOrdered(offsets []int64, ordered []bool, next, now, invisible int64) []Lock {
	if next < q.Next {
		return nil
	}
	locks := make([]Lock, 0, len(offsets))
	for i, off := range offsets {
		if off < q.Next || off >= next {
			continue
		}
		l := Lock{Deadline: now + invisible, Attempts: 1, Serial: q.nextSerial()}
		if i < len(ordered) {
			l.Ordered = ordered[i]
		}
		q.InFlight[off] = l
		locks = append(locks, l)
	}
	q.Next = next
	q.advance()
	return locks
}

// Expired returns up to max offsets whose locks have expired at now,
// lowest first: they are deliverable again.
func (q *Queue) Expired(now int64, max int) []int64 {
	var out []int64
	for off, l := range q.InFlight {
		if l.Deadline <= now {
			out = append(out, off)
		}
	}
	slices.Sort(out)
	if len(out) > max {
		out = out[:max]
	}
	return out
}

// NextDeadline returns the earliest lock deadline, or false when nothing
// is in flight: the time an expiry makes something deliverable.
func (q *Queue) NextDeadline() (int64, bool) {
	first, ok := int64(0), false
	for _, l := range q.InFlight {
		if !ok || l.Deadline < first {
			first, ok = l.Deadline, true
		}
	}
	return first, ok
}

// Redeliver locks an expired record again, counting one more delivery.
func (q *Queue) Redeliver(off, now, invisible int64) (Lock, error) {
	l, ok := q.InFlight[off]
	if !ok {
		return Lock{}, fmt.Errorf("%w: offset %d", ErrNotHeld, off)
	}
	if l.Deadline > now {
		return Lock{}, fmt.Errorf("pop: offset %d still locked", off)
	}
	l = Lock{Deadline: now + invisible, Attempts: l.Attempts + 1, Serial: q.nextSerial(), Ordered: l.Ordered}
	q.InFlight[off] = l
	return l, nil
}

// Blocked reports whether an ordered record is in flight: RocketMQ's
// orderly POP locks the queue for ordered messages until every one
// delivered is done, so a message group's next message never overtakes
// the one before it (a message group always maps to one queue).
func (q *Queue) Blocked() bool {
	for _, l := range q.InFlight {
		if l.Ordered {
			return true
		}
	}
	return false
}

// check returns the lock of off if serial names it and it holds at now.
func (q *Queue) check(off int64, serial uint32, now int64) (Lock, error) {
	l, ok := q.InFlight[off]
	switch {
	case !ok:
		return Lock{}, fmt.Errorf("%w: offset %d", ErrNotHeld, off)
	case l.Serial != serial || l.Deadline <= now:
		return Lock{}, fmt.Errorf("%w: offset %d", ErrLockExpired, off)
	}
	return l, nil
}

// Ack marks the record done; the lock must be the record's and hold.
func (q *Queue) Ack(off int64, serial uint32, now int64) error {
	if _, err := q.check(off, serial, now); err != nil {
		return err
	}
	q.Done(off)
	return nil
}

// Change gives a held lock a new deadline, now+invisible, and a new
// serial (the old receipt handle stops working, as in RocketMQ);
// invisible 0 releases the record for immediate redelivery.
func (q *Queue) Change(off int64, serial uint32, now, invisible int64) (Lock, error) {
	l, err := q.check(off, serial, now)
	if err != nil {
		return Lock{}, err
	}
	l.Deadline, l.Serial = now+invisible, q.nextSerial()
	q.InFlight[off] = l
	return l, nil
}

// Done marks an in-flight record done without a lock check (the engine's
// dead-lettering).
func (q *Queue) Done(off int64) {
	delete(q.InFlight, off)
	q.advance()
}

// advance moves Acked to the lowest offset still in flight.
func (q *Queue) advance() {
	low := q.Next
	for off := range q.InFlight {
		low = min(low, off)
	}
	q.Acked = low
}

// Reset moves a queue whose records were deleted (retention) or that
// starts past them to start: offsets below it are done.
func (q *Queue) Reset(start int64) {
	if start <= q.Acked {
		return
	}
	for off := range q.InFlight {
		if off < start {
			delete(q.InFlight, off)
		}
	}
	q.Next = max(q.Next, start)
	q.advance()
}

const (
	stateVersion1 = 1
	stateVersion  = 2
	stateHeader   = 1 + 8 + 8 + 4
	lockSize1     = 8 + 8 + 4 + 4
	lockSize      = lockSize1 + 1
	flagOrdered   = 1
)

// AppendState appends q's state record (layout in doc.go) to dst.
func (q *Queue) AppendState(dst []byte) []byte {
	dst = append(dst, stateVersion)
	dst = binary.BigEndian.AppendUint64(dst, uint64(q.Acked))
	dst = binary.BigEndian.AppendUint64(dst, uint64(q.Next))
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(q.InFlight)))
	// Map order: the layout does not need the locks sorted, and sorting
	// thousands of them at every write of a busy queue costs more than
	// the write.
	for off, l := range q.InFlight {
		dst = binary.BigEndian.AppendUint64(dst, uint64(off))
		dst = binary.BigEndian.AppendUint64(dst, uint64(l.Deadline))
		dst = binary.BigEndian.AppendUint32(dst, uint32(l.Attempts))
		dst = binary.BigEndian.AppendUint32(dst, l.Serial)
		var flags byte
		if l.Ordered {
			flags |= flagOrdered
		}
		dst = append(dst, flags)
	}
	return dst
}

// DecodeState decodes a state record; a record that breaks the layout or
// its invariants (Acked <= every in-flight offset < Next) is ErrCorrupt.
func DecodeState(b []byte) (*Queue, error) {
	if len(b) < stateHeader || (b[0] != stateVersion && b[0] != stateVersion1) {
		return nil, fmt.Errorf("%w: %d bytes", ErrCorrupt, len(b))
	}
	size := uint64(lockSize)
	if b[0] == stateVersion1 {
		size = lockSize1
	}
	q := &Queue{Acked: int64(binary.BigEndian.Uint64(b[1:])), Next: int64(binary.BigEndian.Uint64(b[9:]))}
	n := binary.BigEndian.Uint32(b[17:])
	rest := b[stateHeader:]
	if uint64(n)*size != uint64(len(rest)) || q.Acked < 0 || q.Next < q.Acked {
		return nil, fmt.Errorf("%w: %d locks in %d bytes", ErrCorrupt, n, len(rest))
	}
	q.InFlight = make(map[int64]Lock, n)
	for i := uint32(0); i < n; i++ {
		p := rest[uint64(i)*size:]
		off := int64(binary.BigEndian.Uint64(p))
		l := Lock{Deadline: int64(binary.BigEndian.Uint64(p[8:])), Attempts: int32(binary.BigEndian.Uint32(p[16:])),
			Serial: binary.BigEndian.Uint32(p[20:])}
		if size == lockSize {
			if p[24]&^flagOrdered != 0 {
				return nil, fmt.Errorf("%w: lock flags %#x", ErrCorrupt, p[24])
			}
			l.Ordered = p[24]&flagOrdered != 0
		}
		if off < q.Acked || off >= q.Next || l.Attempts < 1 {
			return nil, fmt.Errorf("%w: lock at offset %d outside [%d, %d)", ErrCorrupt, off, q.Acked, q.Next)
		}
		if _, dup := q.InFlight[off]; dup {
			return nil, fmt.Errorf("%w: offset %d locked twice", ErrCorrupt, off)
		}
		q.InFlight[off] = l
		q.serial = max(q.serial, l.Serial)
	}
	return q, nil
}
