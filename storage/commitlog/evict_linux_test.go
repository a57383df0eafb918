package commitlog

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"

	"github.com/twinmq/twinmq/storage/vfs"
)

// resident returns the bytes of the mapping that starts at view which
// are mapped in the process (the Rss of its entry in /proc/self/smaps;
// mincore would report the page cache instead).
func resident(t *testing.T, view []byte) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("%x-", uintptr(unsafe.Pointer(&view[0])))
	in := false
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 0 && strings.Contains(f[0], "-") && !strings.HasSuffix(f[0], ":") {
			in = strings.HasPrefix(f[0], want)
			continue
		}
		if in && strings.HasPrefix(line, "Rss:") {
			var kb int64
			if _, err := fmt.Sscanf(strings.TrimPrefix(line, "Rss:"), "%d kB", &kb); err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no mapping at %s in /proc/self/smaps", want)
	return 0
}

// TestResidentSegments: on the OS file system, after a Flush only the
// newest ResidentSegments sealed segments (and the active one) keep their
// pages mapped in the process; older ones read since are evicted, and
// read back the same bytes afterwards.
func TestResidentSegments(t *testing.T) {
	const seg = 1 << 20
	opt := testOptions(vfs.Default(), seg)
	opt.Dir = filepath.Join(t.TempDir(), "cl")
	opt.ResidentSegments = 1
	l, err := Open(opt)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := l.Recover(0, func(int64, *Header) error { return nil }); err != nil {
		t.Fatal(err)
	}
	payload := bytes.Repeat([]byte("r"), 64<<10)
	var pos []Position
	for l.WrittenOffset() < 4*seg+seg/2 { // four sealed segments and an active one
		p, err := l.Append([]Entry{{Kind: KindRocketMQ, Topic: "T", Count: 1, Payload: payload}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		pos = append(pos, p...)
	}
	readAll := func() {
		for _, p := range pos {
			ref, err := l.Read(p.Phys, p.Size, true)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(ref.Payload, payload) {
				t.Fatalf("entry at %d: payload differs", p.Phys)
			}
			ref.Release()
		}
	}
	readAll()
	if _, err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	segs := *l.segs.Load()
	if len(segs) != 5 {
		t.Fatalf("%d segments, want 5", len(segs))
	}
	for i, s := range segs {
		n := resident(t, s.view)
		switch evicted := i < 3; {
		case evicted && n != 0:
			t.Errorf("segment %d: %d bytes resident, want 0 (evicted)", i, n)
		case !evicted && n == 0:
			t.Errorf("segment %d: no page resident, want it kept", i)
		}
	}
	readAll() // faulted back in, the same bytes
	if n := resident(t, segs[0].view); n == 0 {
		t.Fatal("segment 0 not resident after reading it again")
	}
}
