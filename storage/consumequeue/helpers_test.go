package consumequeue

import (
	"errors"
	"path"
	"testing"

	"github.com/twinmq/twinmq/storage/vfs"
)

// fileSystem is one FS a test runs against, with the queue dir to use.
type fileSystem struct {
	name string
	new  func(t testing.TB) (vfs.FS, string)
}

func fileSystems() []fileSystem {
	return []fileSystem{
		{"mem", func(testing.TB) (vfs.FS, string) { return vfs.NewMem(), "/data/consumequeue/t/0" }},
		{"os", func(t testing.TB) (vfs.FS, string) {
			return vfs.Default(), path.Join(t.TempDir(), "consumequeue", "t", "0")
		}},
	}
}

// unitAt is the unit the tests store at offset o: commit-log offsets
// increase with o, as the dispatcher writes them.
func unitAt(o int64) Unit { return Unit{CommitLogOffset: 1000 + o*64, Size: 64, TagsCode: o*7 - 3} }

func unitsFrom(o, n int64) []Unit {
	us := make([]Unit, n)
	for i := range us {
		us[i] = unitAt(o + int64(i))
	}
	return us
}

func mustOpen(t testing.TB, fsys vfs.FS, dir string, upf int) *Queue {
	t.Helper()
	q, err := Open(fsys, dir, upf)
	if err != nil {
		t.Fatalf("Open(%s, %d): %v", dir, upf, err)
	}
	return q
}

func mustAppend(t testing.TB, q *Queue, o, n int64) {
	t.Helper()
	if err := q.Append(o, unitsFrom(o, n)); err != nil {
		t.Fatalf("Append(%d, %d units): %v", o, n, err)
	}
}

// checkQueue asserts the bounds and that every unit in them is unitAt.
func checkQueue(t testing.TB, q *Queue, wantMin, wantMax int64) {
	t.Helper()
	if lo, hi := q.MinOffset(), q.MaxOffset(); lo != wantMin || hi != wantMax {
		t.Fatalf("bounds = [%d, %d), want [%d, %d)", lo, hi, wantMin, wantMax)
	}
	for o := wantMin; o < wantMax; o++ {
		u, err := q.Get(o)
		if err != nil || u != unitAt(o) {
			t.Fatalf("Get(%d) = %+v, %v; want %+v", o, u, err, unitAt(o))
		}
	}
	for _, o := range []int64{wantMin - 1, wantMax} {
		if _, err := q.Get(o); !errors.Is(err, ErrOffsetOutOfRange) {
			t.Fatalf("Get(%d) err = %v, want ErrOffsetOutOfRange", o, err)
		}
	}
}

func listFiles(t testing.TB, fsys vfs.FS, dir string) []string {
	t.Helper()
	names, err := fsys.List(dir)
	if err != nil {
		t.Fatalf("List(%s): %v", dir, err)
	}
	return names
}
