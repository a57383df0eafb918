package commitlog

import (
	"errors"
	"slices"
	"strings"
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

// The tags codes and keys read back from a parsed header are those
// appended, whatever the topic length and the number of codes.
func TestHeaderTagsAndKeys(t *testing.T) {
	for _, tt := range []struct {
		topic string
		count int32
		tags  []int64
		keys  []string
	}{
		{"T", 1, nil, nil},
		{"T", 3, []int64{-5}, []string{"k"}},
		{strings.Repeat("t", 300), 3, []int64{7, -8, 9}, []string{"a", "", "bb"}},
	} {
		e := Entry{Kind: KindKafka, Topic: tt.topic, Count: tt.count, TagsCodes: tt.tags, Keys: tt.keys, Payload: []byte("p")}
		hdr, total, err := e.encodedSize()
		if err != nil {
			t.Fatal(err)
		}
		b := appendEntry(nil, &e, hdr, total)
		stamp(b, &e, 0, 10, 20)
		h, err := ParseHeader(b, true)
		if err != nil || h.Topic != tt.topic {
			t.Fatalf("%d-byte topic: %q, %v", len(tt.topic), h.Topic, err)
		}
		for i := range int(tt.count) + 1 {
			want := int64(0)
			switch {
			case len(tt.tags) == 1:
				want = tt.tags[0]
			case i < len(tt.tags):
				want = tt.tags[i]
			}
			if got := h.TagsCode(i); got != want {
				t.Fatalf("%d-byte topic, tags %v: code %d is %d", len(tt.topic), tt.tags, i, got)
			}
		}
		var keys []string
		h.Keys(func(k string) { keys = append(keys, k) })
		if !slices.Equal(keys, tt.keys) {
			t.Fatalf("%d-byte topic: keys %q, want %q", len(tt.topic), keys, tt.keys)
		}
	}
}

// TestShortSegment: a segment file cut below what the log held (damage
// below the store's checkpoint) reads as ErrCorrupt past the cut, before
// and after Recover, by Read, ReadPinned and Scan; and Recover from a
// checkpoint past the cut refuses. On the OS those bytes of the mapping
// would fault. The bytes before the cut still read.
func TestShortSegment(t *testing.T) {
	fs := vfs.NewMem()
	l, _, _ := openRecovered(t, fs, 4096, 0)
	var pos []Position
	for i := 0; len(l.Segments()) < 3; i++ {
		var err error
		if pos, err = l.Append([]Entry{{Kind: KindRocketMQ, Topic: "T", Count: 1, Payload: payload(i)}}, pos); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	end := l.WrittenOffset()
	l.Close()
	const cut = 2048
	f, _ := fs.OpenReadWrite("cl/" + segmentName(0))
	f.Truncate(cut)
	f.Close()
	before, past := pos[0], pos[0] // the last entry before the cut, the first past it
	for _, p := range pos {
		if p.Phys+int64(p.Size) <= cut {
			before = p
		} else {
			past = p
			break
		}
	}

	l, err := Open(testOptions(fs, 4096))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.written.Store(end) // as the store's rebuild reads, before Recover
	check := func(when string) {
		t.Helper()
		if _, err := l.Read(past.Phys, past.Size, true); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("%s: Read past the cut: %v", when, err)
		}
		var p Pins
		defer p.Release()
		if _, err := l.ReadPinned(&p, past.Phys, past.Size, &Header{}); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("%s: ReadPinned past the cut: %v", when, err)
		}
		if _, err := l.ReadPinned(&p, before.Phys, before.Size, &Header{}); err != nil {
			t.Fatalf("%s: ReadPinned before the cut: %v", when, err)
		}
		stop, err := l.Scan(0, end, true, func(int64, *Ref) error { return nil })
		if !errors.Is(err, ErrCorrupt) || stop != past.Phys {
			t.Fatalf("%s: Scan stopped at %d (%v), want ErrCorrupt at %d", when, stop, err, past.Phys)
		}
	}
	check("before Recover")
	if _, err := l.Recover(past.Phys+int64(past.Size), func(int64, *Header) error { return nil }); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Recover from past the cut: %v", err)
	}
	if _, err := l.Recover(pos[len(pos)-1].Phys, func(int64, *Header) error { return nil }); err != nil {
		t.Fatal(err)
	}
	check("after Recover")
}
