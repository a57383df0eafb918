package commitlog

import (
	"bytes"
	"errors"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/twinmq/twinmq/storage/vfs"
)

// tornFS is a file system on which, once tear is set, the next WriteAt
// writes the first half of its bytes and then fails with ENOSPC, as a
// write that runs out of space part way does. Later writes (the undo's
// zeros, over bytes just written) succeed.
type tornFS struct {
	vfs.FS
	tear atomic.Bool
}

type tornFile struct {
	vfs.File
	fs *tornFS
}

func (t *tornFS) Create(name string) (vfs.File, error) {
	f, err := t.FS.Create(name)
	if err != nil {
		return nil, err
	}
	return &tornFile{File: f, fs: t}, nil
}

func (t *tornFS) OpenReadWrite(name string) (vfs.File, error) {
	f, err := t.FS.OpenReadWrite(name)
	if err != nil {
		return nil, err
	}
	return &tornFile{File: f, fs: t}, nil
}

func (f *tornFile) WriteAt(p []byte, off int64) (int, error) {
	if !f.fs.tear.CompareAndSwap(true, false) {
		return f.File.WriteAt(p, off)
	}
	n, err := f.File.WriteAt(p[:len(p)/2], off)
	if err != nil {
		return n, err
	}
	return n, syscall.ENOSPC
}

// TestTornNoSpaceWriteUndone: an append of four entries whose write
// runs out of space after writing two of them is refused
// (ErrNoSpace) and undone, so that once a shorter append took their
// place no entry of the refused one is found by recovery, inside the
// zero-filled space (zeroed again) and past it (cut off).
func TestTornNoSpaceWriteUndone(t *testing.T) {
	for _, zeroAhead := range []int64{1 << 20, -1} {
		fs := &tornFS{FS: vfs.NewMem()}
		opt := testOptions(fs, 1<<20)
		opt.ZeroAhead = zeroAhead
		l, err := Open(opt)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.Recover(0, func(int64, *Header) error { return nil }); err != nil {
			t.Fatal(err)
		}
		entry := func(b byte) Entry {
			return Entry{Kind: KindRocketMQ, Topic: "T", Count: 1, Payload: bytes.Repeat([]byte{b}, 100)}
		}
		if _, err := l.Append([]Entry{entry('a')}, nil); err != nil {
			t.Fatal(err)
		}
		fs.tear.Store(true)
		if _, err := l.Append([]Entry{entry('b'), entry('c'), entry('d'), entry('f')}, nil); !errors.Is(err, ErrNoSpace) {
			t.Fatalf("zero-ahead %d: torn append: %v, want ErrNoSpace", zeroAhead, err)
		}
		if l.Err() != nil {
			t.Fatalf("zero-ahead %d: a full disk failed the log: %v", zeroAhead, l.Err())
		}
		pos, err := l.Append([]Entry{entry('e')}, nil)
		if err != nil || pos[0].QueueOffset != 1 {
			t.Fatalf("zero-ahead %d: append after space returned: %v %+v, want queue offset 1", zeroAhead, err, pos)
		}
		if _, err := l.Flush(); err != nil {
			t.Fatal(err)
		}
		l.Close()
		l2, _, seen := openRecovered(t, fs, 1<<20, 0)
		l2.Close()
		if len(seen) != 2 {
			t.Fatalf("zero-ahead %d: recovered %d entries, want the 2 acknowledged", zeroAhead, len(seen))
		}
	}
}
