package index

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/twinmq/twinmq/storage/vfs"
)

// fsys is one file system a test runs on.
type fsys struct {
	name string
	new  func(t testing.TB) (vfs.FS, string)
}

var fileSystems = []fsys{
	{"mem", func(testing.TB) (vfs.FS, string) { return vfs.NewMem(), "store/index" }},
	{"os", func(t testing.TB) (vfs.FS, string) { return vfs.Default(), t.TempDir() + "/index" }},
}

func mustOpen(t testing.TB, fs vfs.FS, dir string, slots, entries int) *Index {
	t.Helper()
	x, err := Open(Config{FS: fs, Dir: dir, Slots: slots, Entries: entries})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := x.Close(); err != nil && !errors.Is(err, ErrClosed) {
			t.Errorf("Close: %v", err)
		}
	})
	return x
}

func mustPut(t testing.TB, x *Index, key string, phy, ts int64) {
	t.Helper()
	if err := x.Put(key, phy, ts); err != nil {
		t.Fatalf("Put(%q, %d, %d): %v", key, phy, ts, err)
	}
}

func mustQuery(t testing.TB, x *Index, key string, max int, begin, end int64) []int64 {
	t.Helper()
	got, err := x.Query(key, max, begin, end)
	if err != nil {
		t.Fatalf("Query(%q): %v", key, err)
	}
	return got
}

// put is one Put of a test model.
type put struct {
	key     string
	phy, ts int64
}

// expect is what Query must return for key over all time according to the
// puts: their offsets for that key, newest first, without repeats, limited
// to those below limit.
func expect(puts []put, key string, limit int64) []int64 {
	var out []int64
	for i := len(puts) - 1; i >= 0; i-- {
		p := puts[i]
		if p.key == key && p.phy < limit && (len(out) == 0 || out[len(out)-1] != p.phy) {
			out = append(out, p.phy)
		}
	}
	return out
}

// checkAll compares Query for every key of puts with the model.
func checkAll(t testing.TB, x *Index, puts []put, limit int64) {
	t.Helper()
	seen := map[string]bool{}
	for _, p := range puts {
		if seen[p.key] {
			continue
		}
		seen[p.key] = true
		got := mustQuery(t, x, p.key, 1<<20, 0, 1<<62)
		if want := expect(puts, p.key, limit); !slices.Equal(got, want) {
			t.Fatalf("Query(%q) = %v, want %v", p.key, got, want)
		}
	}
}

// genPuts makes n puts over keys distinct keys, offsets growing by 0..2
// (repeats model several keys of one CommitLog entry), one per 100 ms.
func genPuts(n, keys int) []put {
	puts := make([]put, n)
	phy := int64(1000)
	for i := range puts {
		phy += int64(i % 3)
		puts[i] = put{fmt.Sprintf("topic#k%d", (i*7)%keys), phy, 1_700_000_000_000 + int64(i)*100}
	}
	return puts
}

func vfsMem() *vfs.MemFS { return vfs.NewMem() }
