package commitlog

import (
	"errors"
	"testing"

	"github.com/twinmq/twinmq/storage/vfs"
)

// ReadPinned takes one reference per segment, sees entries appended after
// its first read, reports the errors Read does, and Release gives every
// reference back.
func TestReadPinned(t *testing.T) {
	l, _, _ := openRecovered(t, vfs.NewMem(), 4096, 0)
	defer l.Close()
	appendOne := func(i int) Position {
		t.Helper()
		pos, err := l.Append([]Entry{{Kind: KindRocketMQ, Topic: "T", Count: 1, Payload: payload(i)}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return pos[0]
	}
	var p Pins
	read := func(pos Position, i int) {
		t.Helper()
		var h Header
		e, err := l.ReadPinned(&p, pos.Phys, pos.Size, &h)
		if err != nil || string(e[h.HeaderLen:]) != string(payload(i)) || h.QueueOffset != int64(i) || h.Topic != "T" {
			t.Fatalf("entry %d: %q offset %d topic %q, %v", i, e, h.QueueOffset, h.Topic, err)
		}
	}
	first := appendOne(0)
	read(first, 0)
	next := appendOne(1) // written after p loaded the segment's limit
	read(next, 1)
	var pos []Position
	for i := 2; len(l.Segments()) < 2; i++ {
		pos = append(pos, appendOne(i))
	}
	last := pos[len(pos)-1]
	read(last, len(pos)+1) // in the second segment
	segs := *l.segs.Load()
	if r0, r1 := segs[0].refs.Load(), segs[1].refs.Load(); r0 != 2 || r1 != 2 {
		t.Fatalf("references held: %d and %d, want the log's and one read's each", r0, r1)
	}
	read(first, 0) // back in a segment already pinned: no new reference
	if r0 := segs[0].refs.Load(); r0 != 2 {
		t.Fatalf("segment 0 references after a second read of it: %d", r0)
	}

	var h Header
	if _, err := l.ReadPinned(&p, first.Phys, first.Size+1, &h); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("read with the wrong size: %v", err)
	}
	end := last.Phys + int64(last.Size)
	if _, err := l.ReadPinned(&p, end, 0, &Header{}); !errors.Is(err, ErrOffsetNotFound) {
		t.Fatalf("read at the end: %v", err)
	}
	blank := pos[len(pos)-2].Phys + int64(pos[len(pos)-2].Size) // the last entry of segment 0 ends there
	if _, err := l.ReadPinned(&p, blank, 0, &Header{}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("read at the end-of-segment marker %d: %v", blank, err)
	}
	p.Release()
	if r0, r1 := segs[0].refs.Load(), segs[1].refs.Load(); r0 != 1 || r1 != 1 {
		t.Fatalf("references after Release: %d and %d, want 1 each", r0, r1)
	}
	p.Release() // a second Release gives back nothing
	if r0 := segs[0].refs.Load(); r0 != 1 {
		t.Fatalf("references after a second Release: %d", r0)
	}
}
