package consumequeue

import (
	"errors"
	"path"
	"testing"

	"github.com/twinmq/twinmq/storage/vfs"
)

// FuzzOpen writes arbitrary bytes as one or two queue files and opens,
// reads and appends to the queue: it must never panic, and whatever Open
// accepts must read back as valid units and reopen with the same bounds.
func FuzzOpen(f *testing.F) {
	f.Add(encode(unitsFrom(0, 3)), []byte(nil), uint8(4), uint8(0))
	f.Add(encode(unitsFrom(0, 4)), encode(unitsFrom(4, 2)), uint8(4), uint8(0))
	f.Add(encode([]Unit{blank(), blank(), unitAt(6), unitAt(7)}), encode(unitsFrom(8, 1))[:13], uint8(4), uint8(1))
	f.Add(make([]byte, 40), []byte{0xff}, uint8(2), uint8(3))
	f.Fuzz(func(t *testing.T, first, second []byte, upf8, file8 uint8) {
		upf := 1 + int(upf8%16)
		m := vfs.NewMem()
		start := int64(file8%8) * int64(upf)
		writeFile(t, m, path.Join("/q", fileName(start)), first)
		if second != nil {
			writeFile(t, m, path.Join("/q", fileName(start+int64(upf))), second)
		}
		q, err := Open(m, "/q", upf)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Open err = %v, want ErrCorrupt", err)
			}
			return
		}
		lo, hi := q.MinOffset(), q.MaxOffset()
		if lo > hi || (hi > lo && lo < start) {
			t.Fatalf("bounds [%d, %d) with first file at %d", lo, hi, start)
		}
		got, err := q.Read(lo, make([]Unit, 0, hi-lo))
		if err != nil || int64(len(got)) != hi-lo {
			t.Fatalf("Read(%d) = %d units, %v; want %d", lo, len(got), err, hi-lo)
		}
		for i, u := range got {
			if g, err := q.Get(lo + int64(i)); err != nil || g != u || !u.valid() {
				t.Fatalf("Get(%d) = %+v, %v; Read gave %+v", lo+int64(i), g, err, u)
			}
		}
		if err := q.Append(hi, unitsFrom(hi, 2)); err != nil {
			t.Fatalf("Append(%d): %v", hi, err)
		}
		if err := q.Close(); err != nil {
			t.Fatal(err)
		}
		q2, err := Open(m, "/q", upf)
		if err != nil {
			t.Fatalf("reopen: %v", err)
		}
		wantMin := lo
		if lo == hi {
			wantMin = q2.MinOffset() // an empty queue's min is its first append
		}
		if q2.MinOffset() != wantMin || q2.MaxOffset() != hi+2 {
			t.Fatalf("reopen bounds [%d, %d), want [%d, %d)", q2.MinOffset(), q2.MaxOffset(), wantMin, hi+2)
		}
	})
}

// FuzzDecodeUnit checks that DecodeUnit never panics and that decoding an
// encoded unit gives it back.
func FuzzDecodeUnit(f *testing.F) {
	f.Add(encode(unitsFrom(0, 1)))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		u, err := DecodeUnit(b)
		if err != nil {
			if len(b) >= UnitSize || !errors.Is(err, ErrCorrupt) {
				t.Fatalf("DecodeUnit(%d bytes) err = %v", len(b), err)
			}
			return
		}
		if enc := AppendUnit(nil, u); string(enc) != string(b[:UnitSize]) {
			t.Fatalf("re-encoded %x, want %x", enc, b[:UnitSize])
		}
	})
}
