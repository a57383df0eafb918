package consumequeue

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"path"
	"strings"
	"testing"

	"github.com/twinmq/twinmq/storage/vfs"
)

func TestCrashTornTail(t *testing.T) {
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 1))
		m := vfs.NewMem()
		dir := "/cq/t/0"
		q := mustOpen(t, m, dir, 4)
		start := rng.Int64N(6)
		synced := start + rng.Int64N(9)
		mustAppend(t, q, start, synced-start)
		if err := q.Flush(); err != nil {
			t.Fatal(err)
		}
		end := synced
		for range rng.IntN(4) {
			n := 1 + rng.Int64N(5)
			mustAppend(t, q, end, n)
			end += n
		}
		c := m.CrashClone(vfs.CrashConfig{Rand: rng, UnsyncedDataPercent: 50})
		q2, err := Open(c, dir, 4)
		if err != nil {
			t.Fatalf("seed %d: reopen: %v", seed, err)
		}
		lo, hi := q2.MinOffset(), q2.MaxOffset()
		// An empty queue's position is not durable: nothing synced may
		// come back as any empty queue.
		if !(lo == hi && synced == start) && (hi < synced || hi > end || lo != start) {
			t.Fatalf("seed %d: bounds [%d, %d), want min %d, max in [%d, %d]", seed, lo, hi, start, synced, end)
		}
		checkQueue(t, q2, lo, hi)
		mustAppend(t, q2, hi, 5)
		if err := q2.Close(); err != nil {
			t.Fatal(err)
		}
		checkQueue(t, mustOpen(t, c, dir, 4), lo, hi+5)
	}
}

// writeFile creates name on fsys with content b, durably.
func writeFile(t testing.TB, fsys vfs.FS, name string, b []byte) {
	t.Helper()
	if err := fsys.MkdirAll(path.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := fsys.Create(name)
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

func encode(us []Unit) []byte {
	var b []byte
	for _, u := range us {
		b = AppendUnit(b, u)
	}
	return b
}

func TestOpenRecoversTail(t *testing.T) {
	full := encode(unitsFrom(0, 4))
	tests := []struct {
		name      string
		files     map[string][]byte
		wantMin   int64
		wantMax   int64
		wantFiles int
		wantSize  int64 // of the file holding max
	}{
		{"torn partial unit", map[string][]byte{"00000000000000000000": full[:50]}, 0, 2, 1, 40},
		{"zero unit then stale units", map[string][]byte{"00000000000000000000": append(encode(unitsFrom(0, 1)), append(make([]byte, 20), full[40:]...)...)}, 0, 1, 1, 20},
		{"short middle file drops later files", map[string][]byte{
			"00000000000000000000": full, "00000000000000000080": encode(unitsFrom(4, 3)), "00000000000000000160": encode(unitsFrom(8, 4)),
			"00000000000000000240": encode(unitsFrom(12, 4)),
		}, 0, 7, 2, 60},
		{"invalid last unit of an early full file", map[string][]byte{
			"00000000000000000000": append(full[:60:60], make([]byte, 20)...), "00000000000000000080": encode(unitsFrom(4, 4)),
			"00000000000000000160": encode(unitsFrom(8, 4)), "00000000000000000240": encode(unitsFrom(12, 1)),
		}, 0, 3, 1, 60},
		{"blank pre-fill", map[string][]byte{"00000000000000000080": encode([]Unit{blank(), blank(), unitAt(6)})}, 6, 7, 1, 60},
		{"all blank", map[string][]byte{"00000000000000000080": encode([]Unit{blank(), blank()})}, 6, 6, 1, 40},
		{"empty file", map[string][]byte{"00000000000000000080": nil}, 4, 4, 1, 0},
		{"full last file", map[string][]byte{"00000000000000000000": full}, 0, 4, 1, 80},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := vfs.NewMem()
			for name, b := range tt.files {
				writeFile(t, m, path.Join("/q", name), b)
			}
			q := mustOpen(t, m, "/q", 4)
			checkQueue(t, q, tt.wantMin, tt.wantMax)
			names := listFiles(t, m, "/q")
			if len(names) != tt.wantFiles {
				t.Fatalf("files = %v, want %d", names, tt.wantFiles)
			}
			fi, err := m.Stat(path.Join("/q", fileName(q.fileStart(max(tt.wantMax-1, tt.wantMin)))))
			if err != nil || fi.Size() != tt.wantSize {
				t.Fatalf("size of the last file = %v, %v; want %d", fi, err, tt.wantSize)
			}
		})
	}
}

func TestOpenCorrupt(t *testing.T) {
	unit := encode(unitsFrom(0, 1))
	tests := []struct {
		name  string
		files []string
		size  int // bytes written to each file
		upf   int
		want  string // in the error
	}{
		{"missing middle file", []string{"00000000000000000000", "00000000000000000160"}, 20, 4, "00000000000000000080 missing"},
		{"foreign name", []string{"00000000000000000000", "notes.txt"}, 20, 4, "notes.txt"},
		{"signed name", []string{"+0000000000000000080"}, 20, 4, "+0000000000000000080"},
		{"short name", []string{"0000000080"}, 20, 4, "0000000080"},
		{"misaligned name", []string{"00000000000000000060"}, 20, 4, "00000000000000000060"},
		{"huge name", []string{"99999999999999999999"}, 20, 4, "99999999999999999999"},
		{"largest aligned name", []string{"09223372036854775800"}, 20, 4, "09223372036854775800"},
		{"oversized file", []string{"00000000000000000000"}, 100, 4, "00000000000000000000@0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := vfs.NewMem()
			for _, name := range tt.files {
				b := make([]byte, 0, tt.size)
				for len(b) < tt.size {
					b = append(b, unit...)
				}
				writeFile(t, m, path.Join("/q", name), b)
			}
			_, err := Open(m, "/q", tt.upf)
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Open err = %v, want ErrCorrupt naming %q", err, tt.want)
			}
		})
	}
}

func TestTruncateIsDurable(t *testing.T) {
	m := vfs.NewMem()
	q := mustOpen(t, m, "/q", 4)
	mustAppend(t, q, 0, 10)
	if err := q.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := q.TruncateAfterCommitLogOffset(unitAt(3).CommitLogOffset); err != nil {
		t.Fatal(err)
	}
	if err := q.SetMinOffset(1); err != nil {
		t.Fatal(err)
	}
	// A clean crash with no Flush keeps both.
	checkQueue(t, mustOpen(t, m.CrashClone(vfs.CrashConfig{}), "/q", 4), 1, 3)
}

func TestNewDirIsDurable(t *testing.T) {
	m := vfs.NewMem()
	q := mustOpen(t, m, "/data/consumequeue/topic/3", 4)
	mustAppend(t, q, 0, 5)
	if err := q.Flush(); err != nil {
		t.Fatal(err)
	}
	checkQueue(t, mustOpen(t, m.CrashClone(vfs.CrashConfig{}), "/data/consumequeue/topic/3", 4), 0, 5)
}

// TestCreateDefersDirSync: opening a new queue and appending across file
// boundaries syncs no directory (that is the produce path, issue 19); the
// next Flush makes every new name durable, and a crash before it loses
// only what no checkpoint claimed.
func TestCreateDefersDirSync(t *testing.T) {
	m := vfs.NewMem()
	var dirSyncs []string
	m.InjectError(func(op vfs.Op, name string) error {
		if op == vfs.OpSyncDir {
			dirSyncs = append(dirSyncs, name)
		}
		return nil
	})
	q := mustOpen(t, m, "/data/consumequeue/topic/3", 4)
	mustAppend(t, q, 0, 9) // three files
	if len(dirSyncs) != 0 {
		t.Fatalf("directory syncs before Flush: %v", dirSyncs)
	}
	if _, err := Open(m.CrashClone(vfs.CrashConfig{}), "/data/consumequeue/topic/3", 4); err != nil {
		t.Fatal(err) // the unflushed queue is gone or empty, never corrupt
	}
	if err := q.Flush(); err != nil {
		t.Fatal(err)
	}
	// The parent of each directory Open created, then the queue's own
	// for its files.
	if want := "[/data/consumequeue/topic /data/consumequeue /data / /data/consumequeue/topic/3]"; fmt.Sprint(dirSyncs) != want {
		t.Fatalf("Flush synced %v, want %s", dirSyncs, want)
	}
	checkQueue(t, mustOpen(t, m.CrashClone(vfs.CrashConfig{}), "/data/consumequeue/topic/3", 4), 0, 9)
	dirSyncs = nil
	if err := q.Flush(); err != nil || len(dirSyncs) != 0 {
		t.Fatalf("second Flush: %v, synced %v", err, dirSyncs)
	}
}

func TestStickyWriteError(t *testing.T) {
	boom := errors.New("disk on fire")
	tests := []struct {
		name string
		op   vfs.Op
		do   func(q *Queue) error
		max  int64
	}{
		// Appends land in the tail page; its write fails at Flush.
		{"write", vfs.OpWrite, func(q *Queue) error {
			if err := q.Append(6, unitsFrom(6, 1)); err != nil {
				return err
			}
			return q.Flush()
		}, 7},
		{"sync", vfs.OpSync, func(q *Queue) error { return q.Flush() }, 6},
		{"create", vfs.OpCreate, func(q *Queue) error { return q.Append(6, unitsFrom(6, 3)) }, 6},
		// A new file's name is made durable at Flush.
		{"sync dir", vfs.OpSyncDir, func(q *Queue) error {
			if err := q.Append(6, unitsFrom(6, 3)); err != nil {
				return err
			}
			return q.Flush()
		}, 9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := vfs.NewMem()
			q := mustOpen(t, m, "/q", 4)
			mustAppend(t, q, 0, 6)
			m.InjectError(func(op vfs.Op, _ string) error {
				if op == tt.op {
					return boom
				}
				return nil
			})
			if err := tt.do(q); !errors.Is(err, boom) {
				t.Fatalf("err = %v, want %v", err, boom)
			}
			m.InjectError(nil)
			if err := q.Flush(); !errors.Is(err, boom) {
				t.Fatalf("later Flush err = %v, want the sticky %v", err, boom)
			}
			if err := q.Append(q.MaxOffset(), unitsFrom(q.MaxOffset(), 1)); !errors.Is(err, boom) {
				t.Fatalf("later Append err = %v, want the sticky %v", err, boom)
			}
			checkQueue(t, q, 0, tt.max) // reads still work
		})
	}
}

func TestCloseAndDestroy(t *testing.T) {
	for _, fsc := range fileSystems() {
		t.Run(fsc.name, func(t *testing.T) {
			fsys, dir := fsc.new(t)
			q := mustOpen(t, fsys, dir, 4)
			mustAppend(t, q, 0, 9)
			if err := q.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := q.Get(0); !errors.Is(err, ErrClosed) {
				t.Fatalf("Get after Close err = %v", err)
			}
			if _, err := q.Read(0, make([]Unit, 0, 1)); !errors.Is(err, ErrClosed) {
				t.Fatalf("Read after Close err = %v", err)
			}
			if err := q.Append(9, unitsFrom(9, 1)); !errors.Is(err, ErrClosed) {
				t.Fatalf("Append after Close err = %v", err)
			}
			if err := q.Close(); !errors.Is(err, ErrClosed) {
				t.Fatalf("second Close err = %v", err)
			}
			q = mustOpen(t, fsys, dir, 4)
			if err := q.Destroy(); err != nil {
				t.Fatal(err)
			}
			if _, err := fsys.Stat(dir); err == nil {
				t.Fatalf("%s still exists", dir)
			}
		})
	}
}

// TestRandomOpsCrash is a seeded random-operation test against a model:
// appends, flushes, min moves, truncations and torn crashes on MemFS.
// After a crash every unit synced and not truncated is present, the
// minimum is where it was set, and nothing else is in the queue.
func TestRandomOpsCrash(t *testing.T) {
	for seed := range uint64(100) {
		rng := rand.New(rand.NewPCG(seed, 2))
		m := vfs.NewMem()
		q := mustOpen(t, m, "/q", 1+rng.IntN(5))
		upf := int(q.upf)
		var lo, hi, durable int64 // the model: bounds and the synced end
		for step := range 60 {
			var err error
			switch r := rng.IntN(10); {
			case r < 5:
				o := hi
				if lo == hi && rng.IntN(4) == 0 {
					o = rng.Int64N(20) // an empty queue may restart anywhere
					lo, durable = o, o
				}
				n := 1 + rng.Int64N(6)
				err, hi = q.Append(o, unitsFrom(o, n)), o+n
			case r == 5:
				err, durable = q.Flush(), hi
			case r == 6:
				lo = max(lo, lo+rng.Int64N(hi-lo+1))
				err = q.SetMinOffset(lo)
			case r == 7:
				hi = max(lo, hi-rng.Int64N(4))
				err, durable = q.TruncateAfterCommitLogOffset(unitAt(hi).CommitLogOffset), min(durable, hi)
			default:
				c := m.CrashClone(vfs.CrashConfig{Rand: rng, UnsyncedDataPercent: 50})
				q, m = mustOpen(t, c, "/q", upf), c
				gotLo, gotHi := q.MinOffset(), q.MaxOffset()
				if durable > lo && (gotHi < durable || gotHi > hi || gotLo != lo) {
					t.Fatalf("seed %d step %d: bounds [%d, %d), want min %d, max in [%d, %d]", seed, step, gotLo, gotHi, lo, durable, hi)
				}
				checkQueue(t, q, gotLo, gotHi)
				lo, hi, durable = gotLo, gotHi, gotHi
			}
			if err != nil {
				t.Fatalf("seed %d step %d: %v", seed, step, err)
			}
			if q.MinOffset() != lo || q.MaxOffset() != hi {
				t.Fatalf("seed %d step %d: bounds [%d, %d), model [%d, %d)", seed, step, q.MinOffset(), q.MaxOffset(), lo, hi)
			}
		}
		checkQueue(t, q, lo, hi)
	}
}
