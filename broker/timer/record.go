package timer

import (
	"encoding/binary"
	"fmt"

	"github.com/twinmq/twinmq/storage"
)

// LogTopic holds the timer log: the chain and fired records below.
const LogTopic = "__twinmq_timer_log"

// Record layouts, version 1: one storage.KindInternal entry of queue 0 of
// LogTopic each. Integers are big-endian.
//
// Chain record: timers of one slot ingested in one batch, linked to the
// slot's previous chain record (RocketMQ's timerlog units chain the same
// way, docs/rocketmq-protocol.md §6.2).
//
//	+---------+--------+------+----------+------------+-----+------------------+
//	| version | type=1 | slot | prevPhys | ingestedTo | n   | n x (phys, dueMs)|
//	| uint8=1 | uint8  | i64  | i64      | i64        | u32 | i64, i64         |
//	+---------+--------+------+----------+------------+-----+------------------+
//	 prevPhys -1: first record of the chain. ingestedTo -1: not the last
//	 record of its batch; else the TimerTopic offset ingested through.
//
// Fired record: timers delivered in one append, per slot, with a flag when
// the slot has nothing left.
//
//	+---------+--------+-----+--------------------------------------------+
//	| version | type=2 | n   | n x (slot i64, done u8, k u32, k x phys)   |
//	| uint8=1 | uint8  | u16 | phys: i64                                  |
//	+---------+--------+-----+--------------------------------------------+
//
// Snapshot record: the whole durable wheel state; replay resets to it and
// applies the records after it, and the queue's start moves to it, so a
// start replays one snapshot and the records since (not the whole log).
//
//	+---------+--------+------------+-----+--------------------+-----+------------------------------+
//	| version | type=3 | ingestedTo | h   | h x (slot, phys)   | f   | f x (slot i64, k u32,        |
//	| uint8=1 | uint8  | i64        | u32 | i64, i64           | u32 |      k x phys i64)           |
//	+---------+--------+------------+-----+--------------------+-----+------------------------------+
//	 heads: the newest chain record of every pending slot; fired: the
//	 timers already delivered of slots not yet done.
const (
	recVersion  = 1
	recChain    = 1
	recFired    = 2
	recSnapshot = 3
	chainHead   = 2 + 8 + 8 + 8 + 4
	chainItem   = 16
)

// Timer is one pending timer: the TimerTopic entry at CommitLog offset
// Phys, due at DueMs.
type Timer struct {
	Phys  int64
	DueMs int64
}

type chainRec struct {
	slot, prev, ingestedTo int64
	timers                 []Timer
}

func appendChain(dst []byte, c chainRec) []byte {
	dst = append(dst, recVersion, recChain)
	dst = binary.BigEndian.AppendUint64(dst, uint64(c.slot))
	dst = binary.BigEndian.AppendUint64(dst, uint64(c.prev))
	dst = binary.BigEndian.AppendUint64(dst, uint64(c.ingestedTo))
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(c.timers)))
	for _, t := range c.timers {
		dst = binary.BigEndian.AppendUint64(dst, uint64(t.Phys))
		dst = binary.BigEndian.AppendUint64(dst, uint64(t.DueMs))
	}
	return dst
}

func decodeChain(b []byte) (chainRec, error) {
	var c chainRec
	if len(b) < chainHead || b[0] != recVersion || b[1] != recChain {
		return c, fmt.Errorf("%w: chain record header", ErrCorrupt)
	}
	c.slot = int64(binary.BigEndian.Uint64(b[2:]))
	c.prev = int64(binary.BigEndian.Uint64(b[10:]))
	c.ingestedTo = int64(binary.BigEndian.Uint64(b[18:]))
	n := int(binary.BigEndian.Uint32(b[26:]))
	if n < 0 || n > (len(b)-chainHead)/chainItem || len(b) != chainHead+n*chainItem {
		return c, fmt.Errorf("%w: %d timers in %d bytes", ErrCorrupt, n, len(b))
	}
	c.timers = make([]Timer, n)
	for i := range c.timers {
		p := b[chainHead+i*chainItem:]
		c.timers[i] = Timer{int64(binary.BigEndian.Uint64(p)), int64(binary.BigEndian.Uint64(p[8:]))}
	}
	return c, nil
}

// firedSlot is one slot's part of a fired record.
type firedSlot struct {
	slot int64
	done bool
	phys []int64
}

func appendFired(dst []byte, fs []firedSlot) []byte {
	dst = append(dst, recVersion, recFired)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(fs)))
	for _, f := range fs {
		dst = binary.BigEndian.AppendUint64(dst, uint64(f.slot))
		done := byte(0)
		if f.done {
			done = 1
		}
		dst = append(dst, done)
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(f.phys)))
		for _, p := range f.phys {
			dst = binary.BigEndian.AppendUint64(dst, uint64(p))
		}
	}
	return dst
}

func decodeFired(b []byte) ([]firedSlot, error) {
	if len(b) < 4 || b[0] != recVersion || b[1] != recFired {
		return nil, fmt.Errorf("%w: fired record header", ErrCorrupt)
	}
	n := int(binary.BigEndian.Uint16(b[2:]))
	b = b[4:]
	if n > len(b)/13 {
		return nil, fmt.Errorf("%w: %d slots in %d bytes", ErrCorrupt, n, len(b))
	}
	out := make([]firedSlot, n)
	for i := range out {
		if len(b) < 13 {
			return nil, fmt.Errorf("%w: fired slot %d truncated", ErrCorrupt, i)
		}
		if b[8] > 1 {
			return nil, fmt.Errorf("%w: done flag %d", ErrCorrupt, b[8])
		}
		f := firedSlot{slot: int64(binary.BigEndian.Uint64(b)), done: b[8] == 1}
		k := int(binary.BigEndian.Uint32(b[9:]))
		b = b[13:]
		if k < 0 || k > len(b)/8 {
			return nil, fmt.Errorf("%w: %d fired timers in %d bytes", ErrCorrupt, k, len(b))
		}
		f.phys = make([]int64, k)
		for j := range f.phys {
			f.phys[j] = int64(binary.BigEndian.Uint64(b[8*j:]))
		}
		b = b[8*k:]
		out[i] = f
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(b))
	}
	return out, nil
}

func logEntry(payload []byte) storage.Entry {
	return storage.Entry{Kind: storage.KindInternal, Topic: LogTopic, Count: 1, Payload: payload}
}

// snapRec is a snapshot record.
type snapRec struct {
	ingestedTo int64
	heads      map[int64]int64
	fired      map[int64][]int64
}

func appendSnapshot(dst []byte, r snapRec) []byte {
	dst = append(dst, recVersion, recSnapshot)
	dst = binary.BigEndian.AppendUint64(dst, uint64(r.ingestedTo))
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(r.heads)))
	for slot, phys := range r.heads {
		dst = binary.BigEndian.AppendUint64(dst, uint64(slot))
		dst = binary.BigEndian.AppendUint64(dst, uint64(phys))
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(r.fired)))
	for slot, phys := range r.fired {
		dst = binary.BigEndian.AppendUint64(dst, uint64(slot))
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(phys)))
		for _, p := range phys {
			dst = binary.BigEndian.AppendUint64(dst, uint64(p))
		}
	}
	return dst
}

func decodeSnapshot(b []byte) (snapRec, error) {
	r := snapRec{heads: map[int64]int64{}, fired: map[int64][]int64{}}
	if len(b) < 14 || b[0] != recVersion || b[1] != recSnapshot {
		return r, fmt.Errorf("%w: snapshot record header", ErrCorrupt)
	}
	r.ingestedTo = int64(binary.BigEndian.Uint64(b[2:]))
	h := int(binary.BigEndian.Uint32(b[10:]))
	b = b[14:]
	if h < 0 || h > len(b)/16 {
		return r, fmt.Errorf("%w: %d heads in %d bytes", ErrCorrupt, h, len(b))
	}
	for i := range h {
		r.heads[int64(binary.BigEndian.Uint64(b[16*i:]))] = int64(binary.BigEndian.Uint64(b[16*i+8:]))
	}
	b = b[16*h:]
	if len(b) < 4 {
		return r, fmt.Errorf("%w: snapshot truncated", ErrCorrupt)
	}
	f := int(binary.BigEndian.Uint32(b))
	b = b[4:]
	if f < 0 || f > len(b)/12 {
		return r, fmt.Errorf("%w: %d fired slots in %d bytes", ErrCorrupt, f, len(b))
	}
	for range f {
		if len(b) < 12 {
			return r, fmt.Errorf("%w: snapshot fired slot truncated", ErrCorrupt)
		}
		slot, k := int64(binary.BigEndian.Uint64(b)), int(binary.BigEndian.Uint32(b[8:]))
		b = b[12:]
		if k < 0 || k > len(b)/8 {
			return r, fmt.Errorf("%w: %d fired timers in %d bytes", ErrCorrupt, k, len(b))
		}
		phys := make([]int64, k)
		for j := range phys {
			phys[j] = int64(binary.BigEndian.Uint64(b[8*j:]))
		}
		r.fired[slot] = phys
		b = b[8*k:]
	}
	if len(b) != 0 {
		return r, fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(b))
	}
	return r, nil
}
