package index

import (
	"errors"
	"testing"

	"github.com/twinmq/twinmq/storage/vfs"
)

// FuzzOpen writes arbitrary bytes as an index file, as the newest file
// (loaded, validated and rebuilt) or as an older sealed one (mapped), and
// opens, queries, puts, truncates and closes. Nothing may panic; Open
// errors must wrap ErrCorrupt.
func FuzzOpen(f *testing.F) {
	good := validFile(f, 10)
	f.Add(good, false)
	f.Add(good, true)
	f.Add(good[:len(good)-7], false)
	f.Add(good[:headerSize+3], true)
	f.Add([]byte("TWIX"), false)
	f.Fuzz(func(t *testing.T, data []byte, sealed bool) {
		fs := vfs.NewMem()
		writeFile(t, fs, "i/00000000000000000000", data)
		if sealed {
			writeFile(t, fs, "i/00000000000000099999", good)
		}
		x, err := Open(Config{FS: fs, Dir: "i", Slots: 4, Entries: 16})
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Open: %v does not wrap ErrCorrupt", err)
			}
			return
		}
		for _, k := range []string{"t#0", "t#1", "t#2", "t#3", "t#4", "t#x"} {
			if _, err := x.Query(k, 100, -1<<62, 1<<62); err != nil && !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Query: %v", err)
			}
		}
		end := x.EndPhyOffset()
		if err := x.Put("t#1", max(end, 0)+1, 1); err != nil {
			t.Fatalf("Put: %v", err)
		}
		if err := x.Truncate(max(end, 0) / 2); err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Truncate: %v", err)
		}
		if _, err := x.Query("t#1", 100, 0, 1<<62); err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Query: %v", err)
		}
		if err := x.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	})
}
