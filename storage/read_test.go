package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/twinmq/twinmq/storage/vfs"
)

// unmapFS records every Unmap, by file name: a segment is unmapped when
// its last reference is released.
type unmapFS struct {
	vfs.FS
	mu       sync.Mutex
	unmapped map[string]int
}

func (f *unmapFS) Create(name string) (vfs.File, error) {
	fl, err := f.FS.Create(name)
	if err != nil {
		return nil, err
	}
	return unmapFile{fl, f}, nil
}

func (f *unmapFS) OpenReadWrite(name string) (vfs.File, error) {
	fl, err := f.FS.OpenReadWrite(name)
	if err != nil {
		return nil, err
	}
	return unmapFile{fl, f}, nil
}

func (f *unmapFS) count(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.unmapped[name]
}

type unmapFile struct {
	vfs.File
	fs *unmapFS
}

func (f unmapFile) Unmap(view []byte) error {
	f.fs.mu.Lock()
	f.fs.unmapped[f.Name()]++
	f.fs.mu.Unlock()
	return f.File.Unmap(view)
}

// appendMessages appends n messages of (topic, 0) one by one and waits
// for them to be dispatched.
func appendMessages(t *testing.T, s *Store, topic string, n int) {
	t.Helper()
	for i := range n {
		if _, err := s.Append(context.Background(), []Entry{msg(topic, 0, i)}); err != nil {
			t.Fatal(err)
		}
	}
	waitDispatched(t, s, topic, 0, int64(n))
}

// firstInSegment returns the offset of the first entry of (topic, 0)
// stored at or after the CommitLog offset phys.
func firstInSegment(t *testing.T, s *Store, topic string, phys int64) int64 {
	t.Helper()
	res, err := s.Read(topic, 0, 0, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	for _, e := range res.Entries {
		if e.Phys >= phys {
			return e.QueueOffset
		}
	}
	t.Fatalf("no entry at or after %d", phys)
	return 0
}

// A read whose entries lie in two segments keeps both mapped until
// Release, even once retention has deleted them, and gives each back
// exactly once.
func TestReadHoldsSegmentsUntilRelease(t *testing.T) {
	fs := &unmapFS{FS: vfs.NewMem(), unmapped: map[string]int{}}
	cfg := testConfig(fs)
	s := mustOpen(t, cfg)
	defer s.Close()
	appendMessages(t, s, "T", 400)
	k := firstInSegment(t, s, "T", cfg.SegmentSize)

	res, err := s.Read("T", 0, k-2, ReadOptions{MaxEntries: 4})
	if err != nil || len(res.Entries) != 4 {
		t.Fatalf("read across the segment boundary: %d entries, %v", len(res.Entries), err)
	}
	if res.Entries[1].Phys >= cfg.SegmentSize || res.Entries[2].Phys < cfg.SegmentSize || res.Entries[3].Phys >= 2*cfg.SegmentSize {
		t.Fatalf("entries at %d..%d do not straddle the first boundary", res.Entries[0].Phys, res.Entries[3].Phys)
	}
	seg := func(i int64) string { return fmt.Sprintf("data/%s/%020d", clDir, i*cfg.SegmentSize) }
	for range 2 {
		if _, err := s.log.DeleteOldest(); err != nil {
			t.Fatal(err)
		}
	}
	if n0, n1 := fs.count(seg(0)), fs.count(seg(1)); n0 != 0 || n1 != 0 {
		t.Fatalf("deleted segments unmapped under a reader: %d, %d times", n0, n1)
	}
	for i, e := range res.Entries {
		want := msg("T", 0, int(k)-2+i).Payload
		if !bytes.Equal(e.Payload, want) || e.QueueOffset != k-2+int64(i) || e.Header.Topic != "T" {
			t.Fatalf("entry %d: %q at offset %d of %q, want %q", i, e.Payload, e.QueueOffset, e.Header.Topic, want)
		}
	}
	res.Release()
	if n0, n1 := fs.count(seg(0)), fs.count(seg(1)); n0 != 1 || n1 != 1 {
		t.Fatalf("after Release the deleted segments were unmapped %d and %d times, want once each", n0, n1)
	}
}

// A Hold, and a clone of it, keep a read's segments mapped after the read
// is released and retention has deleted them; the segments are unmapped
// once, when the last of the three is released.
func TestHoldKeepsSegmentsAfterRelease(t *testing.T) {
	fs := &unmapFS{FS: vfs.NewMem(), unmapped: map[string]int{}}
	cfg := testConfig(fs)
	s := mustOpen(t, cfg)
	defer s.Close()
	appendMessages(t, s, "T", 400)
	k := firstInSegment(t, s, "T", cfg.SegmentSize)
	res, err := s.Read("T", 0, k-2, ReadOptions{MaxEntries: 4})
	if err != nil || len(res.Entries) != 4 {
		t.Fatalf("read across the segment boundary: %d entries, %v", len(res.Entries), err)
	}
	payloads := make([][]byte, len(res.Entries))
	for i, e := range res.Entries {
		payloads[i] = e.Payload
	}
	h := res.Hold()
	res.Release()
	h2 := h.Clone()
	seg := func(i int64) string { return fmt.Sprintf("data/%s/%020d", clDir, i*cfg.SegmentSize) }
	for range 2 {
		if _, err := s.log.DeleteOldest(); err != nil {
			t.Fatal(err)
		}
	}
	h.Release()
	if n0, n1 := fs.count(seg(0)), fs.count(seg(1)); n0 != 0 || n1 != 0 {
		t.Fatalf("deleted segments unmapped under a hold: %d, %d times", n0, n1)
	}
	for i, p := range payloads {
		if want := msg("T", 0, int(k)-2+i).Payload; !bytes.Equal(p, want) {
			t.Fatalf("entry %d: %q, want %q", i, p, want)
		}
	}
	h2.Release()
	if n0, n1 := fs.count(seg(0)), fs.count(seg(1)); n0 != 1 || n1 != 1 {
		t.Fatalf("after the last release the deleted segments were unmapped %d and %d times, want once each", n0, n1)
	}
}

// A bit flip in a sealed segment is found by a read of many entries: the
// read stops before the damaged entry, and the next read, which starts
// there, reports ErrCorrupt.
func TestReadBatchDetectsBitFlip(t *testing.T) {
	mem := vfs.NewMem()
	cfg := testConfig(mem)
	s := mustOpen(t, cfg)
	defer s.Close()
	appendMessages(t, s, "T", 400)
	k := firstInSegment(t, s, "T", cfg.SegmentSize) // segment 0 is sealed
	bad := k / 2
	res, err := s.Read("T", 0, bad, ReadOptions{MaxEntries: 1})
	if err != nil {
		t.Fatal(err)
	}
	at := res.Entries[0].Phys + int64(res.Entries[0].Header.Length) - 3
	res.Release()
	f, err := mem.OpenReadWrite(fmt.Sprintf("data/%s/%020d", clDir, 0))
	if err != nil {
		t.Fatal(err)
	}
	b := []byte{0}
	f.ReadAt(b, at)
	b[0] ^= 1
	f.WriteAt(b, at)
	f.Close()

	res, err = s.Read("T", 0, 0, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Entries) != int(bad) || res.NextOffset != bad {
		t.Fatalf("read over a flipped entry at %d: %d entries, next offset %d", bad, len(res.Entries), res.NextOffset)
	}
	res.Release()
	for _, opt := range []ReadOptions{{}, {MaxEntries: 1}, {MaxBytes: 1 << 20}} {
		if _, err := s.Read("T", 0, bad, opt); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("read at the flipped entry (%+v): %v, want ErrCorrupt", opt, err)
		}
	}
}
