package index

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"path"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/twinmq/twinmq/storage/vfs"
)

func TestTruncate(t *testing.T) {
	puts := genPuts(300, 40) // offsets 1000..~1300, 30 files of 10
	last := puts[len(puts)-1].phy
	tests := []struct {
		name string
		at   int64
	}{
		{"inside the active file", last - 1},
		{"at the active file's first entry", puts[290].phy},
		{"inside a sealed file", puts[155].phy},
		{"at a file boundary", puts[100].phy},
		{"everything", 0},
		{"past the end", last + 1},
	}
	for _, tt := range tests {
		for _, fsc := range fileSystems {
			t.Run(tt.name+"/"+fsc.name, func(t *testing.T) {
				fs, dir := fsc.new(t)
				x := mustOpen(t, fs, dir, 8, 10)
				for _, p := range puts {
					mustPut(t, x, p.key, p.phy, p.ts)
				}
				if err := x.Truncate(tt.at); err != nil {
					t.Fatalf("Truncate(%d): %v", tt.at, err)
				}
				checkAll(t, x, puts, tt.at)
				wantEnd := int64(-1)
				for _, p := range puts {
					if p.phy < tt.at {
						wantEnd = p.phy
					}
				}
				if got := x.EndPhyOffset(); got != wantEnd {
					t.Errorf("EndPhyOffset = %d, want %d", got, wantEnd)
				}
				// Durable without Flush: a clean crash keeps the cut.
				if mem, ok := fs.(*vfs.MemFS); ok {
					y := mustOpen(t, mem.CrashClone(vfs.CrashConfig{}), dir, 8, 10)
					checkAll(t, y, puts, tt.at)
				}
				// Re-dispatch after the cut, as recovery does.
				var again []put
				for _, p := range puts {
					if p.phy >= tt.at {
						mustPut(t, x, p.key, p.phy, p.ts)
					}
					again = append(again, p)
				}
				checkAll(t, x, again, 1<<62)
			})
		}
	}
}

// TestCrash puts, flushes and truncates at random against MemFS, crashes
// with torn unsynced data, reopens and truncates at a recovery point: every
// flushed entry below the point is found, and nothing at or above it.
func TestCrash(t *testing.T) {
	for seed := range uint64(40) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Logf("seed %d", seed)
			rng := rand.New(rand.NewPCG(seed, 7))
			fs := vfs.NewMem()
			x := mustOpen(t, fs, "i", 1+rng.IntN(8), 1+rng.IntN(40))
			var puts []put
			flushed, phy := 0, int64(0)
			for range 1 + rng.IntN(400) {
				switch r := rng.IntN(100); {
				case r < 3:
					if err := x.Flush(); err != nil {
						t.Fatal(err)
					}
					flushed = len(puts)
				case r < 4 && len(puts) > 0:
					cut := puts[rng.IntN(len(puts))].phy
					if err := x.Truncate(cut); err != nil {
						t.Fatal(err)
					}
					for len(puts) > 0 && puts[len(puts)-1].phy >= cut {
						puts = puts[:len(puts)-1]
					}
					flushed = len(puts)
				default:
					phy += int64(rng.IntN(3))
					p := put{fmt.Sprintf("t#%d", rng.IntN(30)), phy, rng.Int64N(1 << 40)}
					mustPut(t, x, p.key, p.phy, p.ts)
					puts = append(puts, p)
				}
			}
			crash := fs.CrashClone(vfs.CrashConfig{Rand: rng, UnsyncedDataPercent: 50})
			y := mustOpen(t, crash, "i", 4, 4)
			if end := y.EndPhyOffset(); flushed > 0 && end < puts[flushed-1].phy {
				t.Fatalf("EndPhyOffset %d after crash, flushed up to %d", end, puts[flushed-1].phy)
			}
			cut := phy + 1
			if len(puts) > 0 {
				cut = puts[rng.IntN(len(puts))].phy
			}
			if err := y.Truncate(cut); err != nil {
				t.Fatal(err)
			}
			lim := min(len(puts), flushed)
			checkAll(t, y, puts[:lim], cut) // flushed keys below cut: exact
			for _, p := range puts {        // and nothing at or above cut
				for _, got := range mustQuery(t, y, p.key, 1<<20, 0, 1<<62) {
					if got >= cut {
						t.Fatalf("Query(%q) returned %d at or above the cut %d", p.key, got, cut)
					}
				}
			}
		})
	}
}

// validFile returns the bytes of a flushed index file with n entries.
func validFile(t testing.TB, n int) []byte {
	fs := vfs.NewMem()
	x, err := Open(Config{FS: fs, Dir: "i", Slots: 4, Entries: 16})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := x.Put(fmt.Sprintf("t#%d", i%5), int64(i*10), int64(i)*1500); err != nil {
			t.Fatal(err)
		}
	}
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := fs.Open("i/" + fmt.Sprintf("%020d", 0))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	size, _ := f.Size()
	b := make([]byte, size)
	if err := readFull(f, b, 0); err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t testing.TB, fs vfs.FS, name string, b []byte) {
	if err := fs.MkdirAll(path.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := fs.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(b, 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestCorruptHeader(t *testing.T) {
	good := validFile(t, 10)
	tests := []struct {
		name   string
		mutate func(b []byte) []byte
		off    int64
	}{
		{"magic", func(b []byte) []byte { b[0] = 'X'; return b }, 0},
		{"version", func(b []byte) []byte { b[5] = 9; return b }, 4},
		{"crc", func(b []byte) []byte { b[offEndPhy] ^= 1; return b }, offCRC},
		{"short", func(b []byte) []byte { return b[:40] }, 40},
		{"slots", func(b []byte) []byte { be.PutUint32(b[offSlots:], 0); return reCRC(b) }, offSlots},
		{"count", func(b []byte) []byte { be.PutUint32(b[offCount:], 17); return reCRC(b) }, offCount},
		{"entries cut", func(b []byte) []byte { return b[:len(b)-1] }, int64(len(good) - 1)},
		{"too long", func(b []byte) []byte { return append(b, make([]byte, 400)...) }, fileSize(4, 16)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := vfs.NewMem()
			bad := tt.mutate(append([]byte(nil), good...))
			writeFile(t, fs, "i/00000000000000000000", bad)
			writeFile(t, fs, "i/00000000000000001000", good) // the newest: bad is sealed
			_, err := Open(Config{FS: fs, Dir: "i", Slots: 4, Entries: 16})
			want := fmt.Sprintf("i/00000000000000000000@%d", tt.off)
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), want) {
				t.Fatalf("Open: %v, want ErrCorrupt naming %s", err, want)
			}
		})
	}
}

func reCRC(b []byte) []byte {
	be.PutUint32(b[offCRC:], crc32c(b[:offCRC]))
	return b
}

// TestOpenTornActive opens newest files damaged the way an interrupted
// Flush or creation leaves them.
func TestOpenTornActive(t *testing.T) {
	good := validFile(t, 10) // entries 1..10 at 0,10,...,90
	entries := int(fileSize(4, 0))
	tests := []struct {
		name    string
		mutate  func(b []byte) []byte
		wantEnd int64
	}{
		{"intact", func(b []byte) []byte { return b }, 90},
		{"never flushed: short", func(b []byte) []byte { return b[:10] }, -1},
		{"never flushed: zero header", func(b []byte) []byte { clear(b[:headerSize]); return b }, -1},
		{"entries missing", func(b []byte) []byte { return b[:entries+3*entrySize+7] }, 20},
		{"entry 4 zeroed", func(b []byte) []byte { clear(b[entries+3*entrySize:]); return b }, 20},
		{"entry 6 bad prev", func(b []byte) []byte { be.PutUint32(b[entries+5*entrySize+16:], 6); return b }, 40},
		{"stale slots", func(b []byte) []byte { clear(b[headerSize:entries]); return b }, 90},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := vfs.NewMem()
			writeFile(t, fs, "i/00000000000000000000", tt.mutate(append([]byte(nil), good...)))
			x := mustOpen(t, fs, "i", 4, 16)
			if got := x.EndPhyOffset(); got != tt.wantEnd {
				t.Fatalf("EndPhyOffset = %d, want %d", got, tt.wantEnd)
			}
			var puts []put
			for i := range 10 {
				puts = append(puts, put{fmt.Sprintf("t#%d", i%5), int64(i * 10), 0})
			}
			checkAll(t, x, puts, tt.wantEnd+1)
		})
	}
}

// TestFlushInterrupted fails the k-th write or sync of a Flush, for every
// k, then crashes with torn unsynced data: Open succeeds, everything of the
// previous Flush is there, and the failed Flush's error is sticky.
func TestFlushInterrupted(t *testing.T) {
	for k := 1; ; k++ {
		fs := vfs.NewMem()
		x, err := Open(Config{FS: fs, Dir: "i", Slots: 4, Entries: 8})
		if err != nil {
			t.Fatal(err)
		}
		puts := genPuts(30, 7)
		for _, p := range puts[:12] {
			mustPut(t, x, p.key, p.phy, p.ts)
		}
		if err := x.Flush(); err != nil {
			t.Fatal(err)
		}
		for _, p := range puts[12:] {
			mustPut(t, x, p.key, p.phy, p.ts)
		}
		var n atomic.Int32
		boom := errors.New("boom")
		fs.InjectError(func(op vfs.Op, _ string) error {
			if (op == vfs.OpWrite || op == vfs.OpSync || op == vfs.OpSyncDir) && n.Add(1) == int32(k) {
				return boom
			}
			return nil
		})
		err = x.Flush()
		if err == nil {
			break // k is past the last write of the Flush
		}
		if !errors.Is(err, boom) || !errors.Is(x.Flush(), boom) {
			t.Fatalf("k=%d: Flush: %v, want a sticky boom", k, err)
		}
		crash := fs.CrashClone(vfs.CrashConfig{Rand: rand.New(rand.NewPCG(uint64(k), 1)), UnsyncedDataPercent: 50})
		y := mustOpen(t, crash, "i", 4, 8)
		if err := y.Truncate(puts[20].phy); err != nil {
			t.Fatalf("k=%d: Truncate: %v", k, err)
		}
		if !somePrefix(t, y, puts, 12, puts[20].phy) {
			t.Fatalf("k=%d: the index after the crash is no prefix of the puts holding the first 12", k)
		}
		x.Close()
	}
}

// somePrefix reports whether the index answers as the puts[:j] for some
// j >= from, below limit.
func somePrefix(t testing.TB, x *Index, puts []put, from int, limit int64) bool {
	got := map[string][]int64{}
	for _, p := range puts {
		got[p.key] = mustQuery(t, x, p.key, 1<<20, 0, 1<<62)
	}
next:
	for j := from; j <= len(puts); j++ {
		for key, g := range got {
			if !slices.Equal(g, expect(puts[:j], key, limit)) {
				continue next
			}
		}
		return true
	}
	return false
}
