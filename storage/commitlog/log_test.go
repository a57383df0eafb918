package commitlog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twinmq/twinmq/storage/vfs"
)

func testOptions(fs vfs.FS, segSize int64) Options {
	return Options{
		FS: fs, Dir: "cl", SegmentSize: segSize, MaxEntrySize: int(segSize - BlankSize),
		Logger: slog.New(slog.DiscardHandler),
		Now:    func() time.Time { return time.UnixMilli(1_700_000_000_000) },
	}
}

func openRecovered(t testing.TB, fs vfs.FS, segSize, from int64) (*Log, Recovered, []int64) {
	t.Helper()
	l, err := Open(testOptions(fs, segSize))
	if err != nil {
		t.Fatal(err)
	}
	var seen []int64
	rec, err := l.Recover(from, func(phys int64, h *Header) error {
		seen = append(seen, phys)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return l, rec, seen
}

func payload(i int) []byte {
	return fmt.Appendf(nil, "payload-%04d-%s", i, bytes.Repeat([]byte{'x'}, i%50))
}

func TestAppendReadRollRecover(t *testing.T) {
	fs := vfs.NewMem()
	l, _, _ := openRecovered(t, fs, 4096, 0)
	var pos []Position
	for i := range 200 {
		var err error
		pos, err = l.Append([]Entry{{
			Kind: KindRocketMQ, Topic: "T", QueueID: int32(i % 3), Count: 1,
			TagsCodes: []int64{int64(i)}, Keys: []string{fmt.Sprint("k", i)}, Payload: payload(i),
		}}, pos)
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := len(l.Segments()); n < 3 {
		t.Fatalf("%d segments, want a roll", n)
	}
	for i, p := range pos {
		if want := int64(i / 3); p.QueueOffset != want {
			t.Fatalf("entry %d queue offset %d, want %d", i, p.QueueOffset, want)
		}
		r, err := l.Read(p.Phys, p.Size, true)
		if err != nil {
			t.Fatalf("read %d: %v", i, err)
		}
		if !bytes.Equal(r.Payload, payload(i)) || r.Header.TagsCode(0) != int64(i) || r.Header.QueueOffset != p.QueueOffset {
			t.Fatalf("entry %d: %q tags %d", i, r.Payload, r.Header.TagsCode(0))
		}
		var keys []string
		r.Header.Keys(func(k string) { keys = append(keys, k) })
		if len(keys) != 1 || keys[0] != fmt.Sprint("k", i) {
			t.Fatalf("keys %v", keys)
		}
		r.Release()
	}
	if _, err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	end := l.WrittenOffset()
	l.Close()
	l2, rec, seen := openRecovered(t, fs.CrashClone(vfs.CrashConfig{}), 4096, 0)
	defer l2.Close()
	if rec.End != end || rec.Dropped != 0 || len(seen) != len(pos) {
		t.Fatalf("recovered %+v, %d entries; want end %d and %d entries", rec, len(seen), end, len(pos))
	}
}

func TestEncodeRunsUnderLock(t *testing.T) {
	fs := vfs.NewMem()
	l, _, _ := openRecovered(t, fs, 1<<16, 0)
	defer l.Close()
	enc := func(p []byte, phys, qo, st int64) {
		binary.BigEndian.PutUint64(p[0:], uint64(phys))
		binary.BigEndian.PutUint64(p[8:], uint64(qo))
	}
	var pos []Position
	for range 3 {
		var err error
		pos, err = l.Append([]Entry{{Kind: KindKafka, Topic: "k", Count: 5, Payload: make([]byte, 16), Encode: enc}}, pos)
		if err != nil {
			t.Fatal(err)
		}
	}
	for i, p := range pos {
		r, err := l.Read(p.Phys, 0, true)
		if err != nil {
			t.Fatal(err)
		}
		if got := int64(binary.BigEndian.Uint64(r.Payload[8:])); got != int64(5*i) {
			t.Errorf("batch %d base offset %d, want %d", i, got, 5*i)
		}
		if got := int64(binary.BigEndian.Uint64(r.Payload)); got != p.Phys {
			t.Errorf("payload phys %d, want the entry offset %d", got, p.Phys)
		}
		r.Release()
	}
}

func TestCorruptionDetected(t *testing.T) {
	fs := vfs.NewMem()
	l, _, _ := openRecovered(t, fs, 4096, 0)
	pos, err := l.Append([]Entry{
		{Kind: KindRocketMQ, Topic: "T", Count: 1, Payload: []byte("first")},
		{Kind: KindRocketMQ, Topic: "T", Count: 1, Payload: []byte("second")},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	l.Flush()
	l.Close()
	// Flip a bit inside the first payload.
	f, _ := fs.OpenReadWrite("cl/" + segmentName(0))
	b := make([]byte, 1)
	off := pos[0].Phys + int64(pos[0].Size) - 2
	f.ReadAt(b, off)
	b[0] ^= 0x10
	f.WriteAt(b, off)
	f.Close()

	l, err = Open(testOptions(fs, 4096))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.written.Store(pos[1].Phys + int64(pos[1].Size)) // as if recovered from a checkpoint past it
	if _, err := l.Read(pos[0].Phys, pos[0].Size, true); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("read of flipped entry: %v, want ErrCorrupt", err)
	}
	if r, err := l.Read(pos[1].Phys, pos[1].Size, true); err != nil || string(r.Payload) != "second" {
		t.Fatalf("read of good entry: %v", err)
	}
	rec, err := l.Recover(0, func(int64, *Header) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if rec.End != 0 || rec.Reason == "" || rec.Dropped != int64(pos[1].Phys+int64(pos[1].Size)) {
		t.Fatalf("recover after flip: %+v", rec)
	}
}

// TestMappedWritesAfterUnflushedBytes: with MappedWrites, appends go by
// pwrite while few bytes wait for a flush (a store would dirty, and the
// flush rewrite, a whole folio) and through the mapping past
// MappedMinUnflushed; a flush starts over. The file system counts the
// writes.
func TestMappedWritesAfterUnflushedBytes(t *testing.T) {
	fs := vfs.NewMem()
	opt := testOptions(fs, 16<<20)
	opt.ZeroAhead, opt.MappedWrites, opt.MappedMinUnflushed = 1<<20, true, 64<<10
	l, err := Open(opt)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := l.Recover(0, func(int64, *Header) error { return nil }); err != nil {
		t.Fatal(err)
	}
	var writes atomic.Int64
	fs.InjectError(func(op vfs.Op, name string) error {
		if op == vfs.OpWrite {
			writes.Add(1)
		}
		return nil
	})
	defer fs.InjectError(nil)
	e := []Entry{{Kind: KindRocketMQ, Topic: "T", Count: 1, Payload: make([]byte, 1000)}}
	appendN := func(n int) int64 {
		w0 := writes.Load()
		for range n {
			if _, err := l.Append(e, nil); err != nil {
				t.Fatal(err)
			}
		}
		return writes.Load() - w0
	}
	// The first append zero-fills 3 pieces of 2 MiB, then writes; the
	// next 40 KiB go by pwrite too.
	if w := appendN(40); w != 3+40 {
		t.Fatalf("40 appends below the threshold made %d writes, want 43", w)
	}
	if w := appendN(100); w < 20 || w > 30 {
		t.Fatalf("100 appends crossing 64 KiB unflushed made %d writes, want ~25 (the rest stored)", w)
	}
	if w := appendN(100); w != 0 {
		t.Fatalf("100 appends past the threshold made %d writes, want 0", w)
	}
	if _, err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	// The flush made ~240 KiB durable: appends come fast, so the next
	// ones are stored from the start of the interval.
	if w := appendN(10); w != 0 {
		t.Fatalf("10 appends after a flush of 240 KiB made %d writes, want 0", w)
	}
	if _, err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	// The last two flushes made 250 KiB durable: one short interval
	// (a checkpoint's flush) does not mean the rate fell.
	if w := appendN(10); w != 0 {
		t.Fatalf("10 appends after flushes of 240 KiB and 10 KB made %d writes, want 0", w)
	}
	if _, err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	// Two flushes of 10 KB each: the rate fell, back to pwrite.
	if w := appendN(10); w != 10 {
		t.Fatalf("10 appends after two flushes of 10 KB made %d writes, want 10", w)
	}
	for range 2 {
		if _, err := l.Flush(); err != nil {
			t.Fatal(err)
		}
		if w := appendN(10); w != 10 {
			t.Fatalf("10 appends after more flushes of 10 KB made %d writes, want 10", w)
		}
	}
	for range 2 { // nothing to flush: no rate
		if _, err := l.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	if w := appendN(10); w != 10 {
		t.Fatalf("10 appends after two idle flushes made %d writes, want 10", w)
	}
}

// TestZeroFillFailure: a full disk (ENOSPC) shows in ASYNC_FLUSH as a
// failed zero-fill write, before any store into unallocated space (which
// would be SIGBUS on the OS). The append is refused with ErrNoSpace and
// undone (its queue offset given back), the log keeps going once space
// returns, and recovery finds exactly the acknowledged entries. Any other
// write error (EIO) fails the log for good.
func TestZeroFillFailure(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want error
	}{
		{"ENOSPC", syscall.ENOSPC, ErrNoSpace},
		{"EIO", syscall.EIO, ErrFailed},
	} {
		t.Run(tc.name, func(t *testing.T) { zeroFillFailure(t, tc.err, tc.want) })
	}
}

func zeroFillFailure(t *testing.T, injected, want error) {
	fs := vfs.NewMem()
	opt := testOptions(fs, 16<<20)
	opt.ZeroAhead, opt.MappedWrites, opt.MappedMinUnflushed = 1<<20, true, -1
	l, err := Open(opt)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Recover(0, func(int64, *Header) error { return nil }); err != nil {
		t.Fatal(err)
	}
	l.noFiller = true // the appends below must meet the end of the zeros
	big := bytes.Repeat([]byte{'z'}, 512<<10)
	var ok []Position
	for len(ok) == 0 || l.WrittenOffset()+int64(len(big))+64+mappedZeroPiece < l.zeroed {
		// Until the next append has to zero-fill first.
		if ok, err = l.Append([]Entry{{Kind: KindRocketMQ, Topic: "T", Count: 1, Payload: big}}, ok); err != nil {
			t.Fatal(err)
		}
	}
	fs.InjectError(func(op vfs.Op, name string) error {
		if op == vfs.OpWrite {
			return injected
		}
		return nil
	})
	zeroed := l.zeroed
	if _, err := l.Append([]Entry{{Kind: KindRocketMQ, Topic: "T", Count: 1, Payload: big}}, nil); !errors.Is(err, want) {
		t.Fatalf("append with a failing zero-fill: %v, want %v", err, want)
	}
	if l.WrittenOffset() != ok[len(ok)-1].Phys+int64(ok[len(ok)-1].Size) || l.zeroed != zeroed {
		t.Fatalf("the failed append moved the log: written %d, zeroed %d -> %d", l.WrittenOffset(), zeroed, l.zeroed)
	}
	fs.InjectError(nil)
	pos, err := l.Append([]Entry{{Kind: KindRocketMQ, Topic: "T", Count: 1, Payload: []byte("x")}}, nil)
	if want == ErrNoSpace {
		if err != nil || pos[0].QueueOffset != int64(len(ok)) {
			t.Fatalf("append once space returned: %v %+v, want queue offset %d", err, pos, len(ok))
		}
		ok = append(ok, pos[0])
		if _, err := l.Flush(); err != nil {
			t.Fatalf("flush after a refused append: %v", err)
		}
	} else {
		if !errors.Is(err, ErrFailed) {
			t.Fatalf("append after a failed zero-fill: %v", err)
		}
		if _, err := l.Flush(); !errors.Is(err, ErrFailed) {
			t.Fatalf("flush after a failed zero-fill: %v", err)
		}
	}
	l.Close()
	l2, _, seen := openRecovered(t, fs, 16<<20, 0)
	defer l2.Close()
	if len(seen) != len(ok) {
		t.Fatalf("%d entries recovered, %d acknowledged", len(seen), len(ok))
	}
}

func TestFsyncFailureFailsLog(t *testing.T) {
	fs := vfs.NewMem()
	l, _, _ := openRecovered(t, fs, 4096, 0)
	defer l.Close()
	if _, err := l.Append([]Entry{{Kind: KindInternal, Topic: "x", Count: 1, Payload: []byte("a")}}, nil); err != nil {
		t.Fatal(err)
	}
	fs.InjectError(func(op vfs.Op, name string) error {
		if op == vfs.OpSync {
			return errors.New("EIO")
		}
		return nil
	})
	if _, err := l.Flush(); !errors.Is(err, ErrFailed) {
		t.Fatalf("flush: %v", err)
	}
	fs.InjectError(nil)
	if _, err := l.Flush(); !errors.Is(err, ErrFailed) {
		t.Fatalf("second flush pretended success: %v", err)
	}
	if _, err := l.Append([]Entry{{Kind: KindInternal, Topic: "x", Count: 1, Payload: []byte("b")}}, nil); !errors.Is(err, ErrFailed) {
		t.Fatalf("append after failed fsync: %v", err)
	}
}

func TestForeignFiles(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		content []byte
		openErr bool
		reason  bool
	}{
		{"not a segment name", "cl/readme.txt", []byte("hi"), true, false},
		{"garbage segment", "cl/" + segmentName(0), []byte("garbage that is not an entry"), false, true},
		{"other version", "cl/" + segmentName(0), []byte{0, 0, 0, 64, 0x54, 0x51, 9, 1, 0, 0}, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := vfs.NewMem()
			fs.MkdirAll("cl", 0o755)
			f, _ := fs.Create(tt.file)
			f.WriteAt(tt.content, 0)
			f.Close()
			l, err := Open(testOptions(fs, 4096))
			if tt.openErr {
				if err == nil || !errors.Is(err, ErrCorrupt) {
					t.Fatalf("open: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			rec, err := l.Recover(0, func(int64, *Header) error { return nil })
			if tt.name == "other version" {
				if err == nil {
					t.Fatalf("recover accepted a foreign version: %+v", rec)
				}
				return
			}
			if err != nil || rec.Reason == "" || rec.End != 0 {
				t.Fatalf("recover: %+v %v", rec, err)
			}
		})
	}
}

// TestCrashSeeds appends, syncs and rolls at random, crashes at a random
// point with torn writes, and checks that every synced entry survives and
// recovery ends exactly at an entry boundary.
func TestCrashSeeds(t *testing.T) {
	for seed := range uint64(40) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { crashSeed(t, seed) })
	}
}

func crashSeed(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 7))
	fs := vfs.NewMem()
	opt := testOptions(fs, 2048)
	if seed%2 == 1 { // stores through the mapping, into zero-filled space
		opt.ZeroAhead, opt.MappedWrites, opt.MappedMinUnflushed = int64(256+rng.IntN(2048)), true, -1
	}
	l, err := Open(opt)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Recover(0, func(int64, *Header) error { return nil }); err != nil {
		t.Fatal(err)
	}
	var all []Position
	synced := 0
	steps := 50 + rng.IntN(200)
	for i := range steps {
		n := 1 + rng.IntN(3)
		batch := make([]Entry, n)
		for j := range batch {
			batch[j] = Entry{Kind: KindRocketMQ, Topic: "t", QueueID: int32(rng.IntN(2)), Count: 1, Payload: payload(i*3 + j)}
		}
		var err error
		if all, err = l.Append(batch, all); err != nil {
			t.Fatal(err)
		}
		if rng.IntN(4) == 0 {
			if _, err := l.Flush(); err != nil {
				t.Fatal(err)
			}
			synced = len(all)
		}
	}
	crashed := fs.CrashClone(vfs.CrashConfig{Rand: rng, UnsyncedDataPercent: 50})
	l.Close()
	l2, rec, seen := openRecovered(t, crashed, 2048, 0)
	defer l2.Close()
	if len(seen) < synced {
		t.Fatalf("seed %d: %d entries recovered, %d were synced", seed, len(seen), synced)
	}
	for i, phys := range seen {
		if phys != all[i].Phys {
			t.Fatalf("seed %d: entry %d at %d, appended at %d", seed, i, phys, all[i].Phys)
		}
		r, err := l2.Read(phys, all[i].Size, true)
		if err != nil {
			t.Fatalf("seed %d: read %d: %v", seed, i, err)
		}
		r.Release()
	}
	// The log continues after the recovered end.
	if _, err := l2.Append([]Entry{{Kind: KindRocketMQ, Topic: "t", Count: 1, Payload: []byte("after")}}, nil); err != nil {
		t.Fatal(err)
	}
	_ = rec
}

func FuzzParseHeader(f *testing.F) {
	e := Entry{Kind: KindKafka, Topic: "topic", Count: 3, TagsCodes: []int64{1, 2, 3}, Keys: []string{"a", "bb"}, Payload: []byte("batch")}
	hdr, total, _ := e.encodedSize()
	b := appendEntry(nil, &e, hdr, total)
	stamp(b, &e, 0, 10, 20)
	f.Add(b)
	f.Add(appendBlank(nil, 100))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		// Unverified too: reads below a segment's verified watermark
		// parse without the CRC (verified.go), so the fields must be
		// safe to decode from any bytes.
		for _, verify := range []bool{true, false} {
			h, err := ParseHeader(b, verify)
			if err != nil {
				continue
			}
			if int(h.Length) > len(b) || h.HeaderLen > h.Length {
				t.Fatalf("header %+v beyond %d bytes", h, len(b))
			}
			h.Keys(func(string) {})
			for i := range int(min(h.Count, 10)) {
				h.TagsCode(i)
			}
		}
	})
}

// FuzzRecover writes arbitrary bytes as a segment and recovers it.
func FuzzRecover(f *testing.F) {
	e := Entry{Kind: KindRocketMQ, Topic: "t", Count: 1, Payload: []byte("p")}
	hdr, total, _ := e.encodedSize()
	b := appendEntry(nil, &e, hdr, total)
	stamp(b, &e, 0, 0, 0)
	f.Add(append(b, b...))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 4096 {
			return
		}
		fs := vfs.NewMem()
		fs.MkdirAll("cl", 0o755)
		w, _ := fs.Create("cl/" + segmentName(0))
		w.WriteAt(b, 0)
		w.Close()
		l, err := Open(testOptions(fs, 4096))
		if err != nil {
			return
		}
		defer l.Close()
		rec, err := l.Recover(0, func(phys int64, h *Header) error {
			r, err := l.Read(phys, h.Length, true)
			if err == nil {
				r.Release()
			}
			return nil
		})
		if err == nil && rec.End > int64(len(b)) {
			t.Fatalf("end %d past %d bytes", rec.End, len(b))
		}
	})
}

// TestBadEntryConsumesNoOffsets: an Append that fails validation leaves
// the queue offsets as they were.
func TestBadEntryConsumesNoOffsets(t *testing.T) {
	l, _, _ := openRecovered(t, vfs.NewMem(), 4096, 0)
	defer l.Close()
	_, err := l.Append([]Entry{
		{Kind: KindRocketMQ, Topic: "T", Count: 1, Payload: []byte("ok")},
		{Kind: KindRocketMQ, Topic: "T", Count: 1, Payload: make([]byte, 5000)},
	}, nil)
	if !errors.Is(err, ErrEntryTooLarge) {
		t.Fatalf("oversized entry: %v", err)
	}
	pos, err := l.Append([]Entry{{Kind: KindRocketMQ, Topic: "T", Count: 1, Payload: []byte("next")}}, nil)
	if err != nil || pos[0].QueueOffset != 0 {
		t.Fatalf("after a refused append the next got offset %d (%v), want 0", pos[0].QueueOffset, err)
	}
}

// TestStoreTimeMonotonic: store times follow the clock forward but never
// back, and SetStoreTime (recovery's newest entry) raises the floor.
func TestStoreTimeMonotonic(t *testing.T) {
	var clock atomic.Int64
	opt := testOptions(vfs.NewMem(), 4096)
	opt.Now = func() time.Time { return time.UnixMilli(clock.Load()) }
	l, err := Open(opt)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := l.Recover(0, func(int64, *Header) error { return nil }); err != nil {
		t.Fatal(err)
	}
	l.SetStoreTime(2_000)
	for _, c := range []struct{ clock, want int64 }{{1_000, 2_000}, {3_000, 3_000}, {2_500, 3_000}, {4_000, 4_000}} {
		clock.Store(c.clock)
		pos, err := l.Append([]Entry{{Kind: KindRocketMQ, Topic: "T", Count: 1, Payload: []byte("x")}}, nil)
		if err != nil || pos[0].StoreTime != c.want {
			t.Fatalf("clock %d: store time %+v, %v; want %d", c.clock, pos, err, c.want)
		}
		r, err := l.Read(pos[0].Phys, pos[0].Size, true)
		if err != nil || r.Header.StoreTime != c.want {
			t.Fatalf("clock %d: stored time %d, %v; want %d", c.clock, r.Header.StoreTime, err, c.want)
		}
		r.Release()
	}
}

// TestDeleteTopicRecord: a topic-deletion record restarts the topic's
// offsets in the same critical section as it is written, scans back as a
// deletion, and no other entry may take its queue id.
func TestDeleteTopicRecord(t *testing.T) {
	l, _, _ := openRecovered(t, vfs.NewMem(), 4096, 0)
	defer l.Close()
	app := func(queue int32) (Position, error) {
		pos, err := l.Append([]Entry{{Kind: KindRocketMQ, Topic: "T", QueueID: queue, Count: 1, Payload: []byte("x")}}, nil)
		if err != nil {
			return Position{}, err
		}
		return pos[0], nil
	}
	for _, q := range []int32{0, 1, 0} {
		if _, err := app(q); err != nil {
			t.Fatal(err)
		}
	}
	del, err := l.DeleteTopic("T")
	if err != nil {
		t.Fatal(err)
	}
	if p, err := app(0); err != nil || p.QueueOffset != 0 {
		t.Fatalf("first entry after the deletion: %+v, %v; want offset 0", p, err)
	}
	if l.QueueOffset("T", 1) != 0 || l.QueueOffset("T", DeletionQueueID) != 0 {
		t.Fatalf("offsets left after the deletion: %d, %d", l.QueueOffset("T", 1), l.QueueOffset("T", DeletionQueueID))
	}
	if _, err := app(DeletionQueueID); err == nil {
		t.Fatal("an entry took the deletion record's queue id")
	}
	var deletions []int64
	if _, err := l.Scan(0, l.WrittenOffset(), true, func(phys int64, r *Ref) error {
		if r.Header.IsDeletion() {
			deletions = append(deletions, phys)
			if r.Header.Topic != "T" || len(r.Payload) != 0 {
				return fmt.Errorf("deletion record %+v, payload %q", r.Header, r.Payload)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(deletions) != 1 || deletions[0] != del.Phys {
		t.Fatalf("deletion records at %v, want [%d]", deletions, del.Phys)
	}
}
