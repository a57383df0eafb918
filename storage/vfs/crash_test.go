package vfs

import (
	"bytes"
	"errors"
	"io/fs"
	"math/rand/v2"
	"sync"
	"testing"
)

// memRead returns a MemFS file's content, or "<missing>".
func memRead(t *testing.T, m *MemFS, name string) string {
	t.Helper()
	if _, err := m.Stat(name); errors.Is(err, fs.ErrNotExist) {
		return "<missing>"
	}
	return readAll(t, m, name)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestCrashClone(t *testing.T) {
	tests := []struct {
		name string
		// run acts on m and returns the file to check after a clean crash.
		run  func(t *testing.T, m *MemFS) string
		want string
	}{
		{"created, dir not synced, vanishes", func(t *testing.T, m *MemFS) string {
			f := mustCreate(t, m, "/a", "data")
			must(t, f.Sync())
			return "/a"
		}, "<missing>"},
		{"created, dir synced, data not synced", func(t *testing.T, m *MemFS) string {
			mustCreate(t, m, "/a", "data")
			must(t, m.SyncDir("/"))
			return "/a"
		}, ""},
		{"synced data survives", func(t *testing.T, m *MemFS) string {
			f := mustCreate(t, m, "/a", "data")
			must(t, f.Sync())
			must(t, m.SyncDir("/"))
			return "/a"
		}, "data"},
		{"unsynced append lost", func(t *testing.T, m *MemFS) string {
			f := mustCreate(t, m, "/a", "data")
			must(t, f.Sync())
			must(t, m.SyncDir("/"))
			_, err := f.WriteAt([]byte("more"), 4)
			must(t, err)
			return "/a"
		}, "data"},
		{"unsynced overwrite lost", func(t *testing.T, m *MemFS) string {
			f := mustCreate(t, m, "/a", "data")
			must(t, f.Sync())
			must(t, m.SyncDir("/"))
			_, err := f.WriteAt([]byte("DA"), 0)
			must(t, err)
			return "/a"
		}, "data"},
		{"unsynced truncate undone", func(t *testing.T, m *MemFS) string {
			f := mustCreate(t, m, "/a", "data")
			must(t, f.Sync())
			must(t, m.SyncDir("/"))
			must(t, f.Truncate(1))
			must(t, f.Truncate(3))
			return "/a"
		}, "data"},
		{"synced truncate kept", func(t *testing.T, m *MemFS) string {
			f := mustCreate(t, m, "/a", "data")
			must(t, f.Sync())
			must(t, m.SyncDir("/"))
			must(t, f.Truncate(1))
			must(t, f.Truncate(3))
			must(t, f.Sync())
			return "/a"
		}, "d\x00\x00"},
		{"create over synced file, unsynced, keeps old", func(t *testing.T, m *MemFS) string {
			f := mustCreate(t, m, "/a", "old")
			must(t, f.Sync())
			must(t, m.SyncDir("/"))
			mustCreate(t, m, "/a", "new")
			return "/a"
		}, "old"},
		{"mkdir, parent not synced, vanishes", func(t *testing.T, m *MemFS) string {
			must(t, m.MkdirAll("/d/e", 0o755))
			must(t, m.SyncDir("/d/e"))
			must(t, m.SyncDir("/d"))
			f := mustCreate(t, m, "/d/e/a", "x")
			must(t, f.Sync())
			must(t, m.SyncDir("/d/e"))
			return "/d/e/a"
		}, "<missing>"},
		{"mkdir, all parents synced", func(t *testing.T, m *MemFS) string {
			must(t, m.MkdirAll("/d/e", 0o755))
			f := mustCreate(t, m, "/d/e/a", "x")
			must(t, f.Sync())
			must(t, m.SyncDir("/d/e"))
			must(t, m.SyncDir("/d"))
			must(t, m.SyncDir("/"))
			return "/d/e/a"
		}, "x"},
		{"rename not dir-synced undone: new name", func(t *testing.T, m *MemFS) string {
			renameSetup(t, m)
			return "/ckpt"
		}, "v1"},
		{"rename not dir-synced undone: old name", func(t *testing.T, m *MemFS) string {
			renameSetup(t, m)
			return "/ckpt.tmp"
		}, "<missing>"},
		{"rename dir-synced kept", func(t *testing.T, m *MemFS) string {
			renameSetup(t, m)
			must(t, m.SyncDir("/"))
			return "/ckpt"
		}, "v2"},
		{"remove not dir-synced undone", func(t *testing.T, m *MemFS) string {
			f := mustCreate(t, m, "/a", "data")
			must(t, f.Sync())
			must(t, m.SyncDir("/"))
			must(t, m.Remove("/a"))
			return "/a"
		}, "data"},
		{"remove all not dir-synced undone", func(t *testing.T, m *MemFS) string {
			must(t, m.MkdirAll("/d", 0o755))
			f := mustCreate(t, m, "/d/a", "data")
			must(t, f.Sync())
			must(t, m.SyncDir("/d"))
			must(t, m.SyncDir("/"))
			must(t, m.RemoveAll("/d"))
			return "/d/a"
		}, "data"},
		{"remove dir-synced gone", func(t *testing.T, m *MemFS) string {
			f := mustCreate(t, m, "/a", "data")
			must(t, f.Sync())
			must(t, m.SyncDir("/"))
			must(t, m.Remove("/a"))
			must(t, m.SyncDir("/"))
			return "/a"
		}, "<missing>"},
		{"write through handle after remove", func(t *testing.T, m *MemFS) string {
			f := mustCreate(t, m, "/a", "data")
			must(t, m.SyncDir("/"))
			must(t, m.Remove("/a"))
			_, err := f.WriteAt([]byte("DATA"), 0)
			must(t, err)
			must(t, f.Sync())
			return "/a"
		}, "DATA"},
		{"torn config with zero percent is clean", func(t *testing.T, m *MemFS) string {
			f := mustCreate(t, m, "/a", "data")
			must(t, f.Sync())
			must(t, m.SyncDir("/"))
			_, err := f.WriteAt([]byte("more"), 4)
			must(t, err)
			return "/a"
		}, "data"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMem()
			name := tc.run(t, m)
			before := memRead(t, m, name)
			c := m.CrashClone(CrashConfig{Rand: rand.New(rand.NewPCG(1, 2))})
			if got := memRead(t, c, name); got != tc.want {
				t.Fatalf("after crash %s = %q, want %q", name, got, tc.want)
			}
			if got := memRead(t, m, name); got != before {
				t.Fatalf("crash changed the original: %q, was %q", got, before)
			}
			// Everything in a clone is durable: crashing it again changes nothing.
			if got := memRead(t, c.CrashClone(CrashConfig{}), name); got != tc.want {
				t.Fatalf("after second crash %s = %q, want %q", name, got, tc.want)
			}
		})
	}
}

// renameSetup installs checkpoint v1 durably, then v2 by tmp + sync +
// rename without syncing the directory.
func renameSetup(t *testing.T, m *MemFS) {
	t.Helper()
	f := mustCreate(t, m, "/ckpt", "v1")
	must(t, f.Sync())
	must(t, m.SyncDir("/"))
	g := mustCreate(t, m, "/ckpt.tmp", "v2")
	must(t, g.Sync())
	must(t, m.Rename("/ckpt.tmp", "/ckpt"))
}

func TestCrashCloneTorn(t *testing.T) {
	synced := bytes.Repeat([]byte("s"), 1000)
	tail := bytes.Repeat([]byte("0123456789"), 300)
	lengths := map[int]bool{}
	for seed := range uint64(50) {
		m := NewMem()
		f := mustCreate(t, m, "/seg", string(synced))
		must(t, f.Sync())
		must(t, m.SyncDir("/"))
		_, err := f.WriteAt(tail, int64(len(synced)))
		must(t, err)
		c := m.CrashClone(CrashConfig{Rand: rand.New(rand.NewPCG(seed, 7)), UnsyncedDataPercent: 100})
		got := []byte(memRead(t, c, "/seg"))
		if len(got) <= len(synced) || len(got) > len(synced)+len(tail) {
			t.Fatalf("seed %d: torn length %d outside (%d, %d]", seed, len(got), len(synced), len(synced)+len(tail))
		}
		if !bytes.Equal(got[:len(synced)], synced) || !bytes.Equal(got[len(synced):], tail[:len(got)-len(synced)]) {
			t.Fatalf("seed %d: torn content is not synced data plus a prefix of the tail", seed)
		}
		lengths[len(got)] = true
	}
	if len(lengths) < 2 {
		t.Fatalf("50 seeds gave %d torn length(s); want a random prefix", len(lengths))
	}
}

func TestCrashCloneTornBlocks(t *testing.T) {
	old := bytes.Repeat([]byte("o"), 4*tornBlock)
	m := NewMem()
	f := mustCreate(t, m, "/seg", string(old))
	must(t, f.Sync())
	must(t, m.SyncDir("/"))
	_, err := f.WriteAt(bytes.Repeat([]byte("n"), len(old)), 0)
	must(t, err)
	mixed := false
	for seed := range uint64(20) {
		c := m.CrashClone(CrashConfig{Rand: rand.New(rand.NewPCG(seed, 3)), UnsyncedDataPercent: 50})
		got := []byte(memRead(t, c, "/seg"))
		if len(got) != len(old) {
			t.Fatalf("seed %d: size %d, want %d", seed, len(got), len(old))
		}
		var news int
		for i := 0; i < len(got); i += tornBlock {
			blk := got[i : i+tornBlock]
			if !bytes.Equal(blk, old[:tornBlock]) && !bytes.Equal(blk, bytes.Repeat([]byte("n"), tornBlock)) {
				t.Fatalf("seed %d: block %d mixes old and new bytes", seed, i/tornBlock)
			}
			if blk[0] == 'n' {
				news++
			}
		}
		mixed = mixed || (news > 0 && news < 4)
	}
	if !mixed {
		t.Fatal("no seed kept some but not all overwritten blocks")
	}
}

func TestCrashCloneIndependent(t *testing.T) {
	m := NewMem()
	f := mustCreate(t, m, "/a", "data")
	must(t, f.Sync())
	must(t, m.SyncDir("/"))
	view, err := f.Map(64)
	must(t, err)
	c := m.CrashClone(CrashConfig{})
	g, err := c.OpenReadWrite("/a")
	must(t, err)
	_, err = g.WriteAt([]byte("CLONE"), 0)
	must(t, err)
	_, err = f.WriteAt([]byte("ORIG"), 0)
	must(t, err)
	if got := memRead(t, m, "/a"); got != "ORIG" {
		t.Fatalf("original = %q, want ORIG", got)
	}
	if got := memRead(t, c, "/a"); got != "CLONE" {
		t.Fatalf("clone = %q, want CLONE", got)
	}
	if string(view[:4]) != "ORIG" {
		t.Fatalf("view of the original = %q, want ORIG", view[:4])
	}
	// Locks do not survive a crash.
	l, err := m.Lock("/LOCK")
	must(t, err)
	defer l.Close()
	must(t, m.SyncDir("/"))
	l2, err := m.CrashClone(CrashConfig{}).Lock("/LOCK")
	must(t, err)
	l2.Close()
}

func TestMemMap(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, f File) (view []byte, want string)
	}{
		{"write after map", func(t *testing.T, f File) ([]byte, string) {
			v, err := f.Map(16)
			must(t, err)
			_, err = f.WriteAt([]byte("abc"), 2)
			must(t, err)
			return v[:5], "\x00\x00abc"
		}},
		{"grow past view capacity", func(t *testing.T, f File) ([]byte, string) {
			v, err := f.Map(8)
			must(t, err)
			_, err = f.WriteAt(bytes.Repeat([]byte("x"), 100000), 0) // reallocates
			must(t, err)
			_, err = f.WriteAt([]byte("AB"), 6)
			must(t, err)
			return v, "xxxxxxAB"
		}},
		{"larger second map", func(t *testing.T, f File) ([]byte, string) {
			small, err := f.Map(4)
			must(t, err)
			big, err := f.Map(1 << 20) // reallocates under the small view
			must(t, err)
			_, err = f.WriteAt([]byte("wxyz"), 0)
			must(t, err)
			if string(big[:4]) != "wxyz" {
				t.Fatalf("big view = %q", big[:4])
			}
			return small, "wxyz"
		}},
		{"truncate then regrow reads zeros", func(t *testing.T, f File) ([]byte, string) {
			v, err := f.Map(8)
			must(t, err)
			_, err = f.WriteAt([]byte("abcdefgh"), 0)
			must(t, err)
			must(t, f.Truncate(2))
			_, err = f.WriteAt([]byte("Z"), 6)
			must(t, err)
			return v[:7], "ab\x00\x00\x00\x00Z"
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMem()
			f, err := m.Create("/seg")
			must(t, err)
			view, want := tc.run(t, f)
			if string(view) != want {
				t.Fatalf("view = %q, want %q", view, want)
			}
			if err := f.Unmap(view[:1]); err == nil && len(view) > 1 {
				t.Fatal("Unmap of a resliced view succeeded")
			}
		})
	}
}

// TestMemMappedStore checks that a store reported with Wrote is a write:
// kept when synced, dropped by a crash when not, and refused past the end
// of the file, where the OS would fault.
func TestMemMappedStore(t *testing.T) {
	m := NewMem()
	f := mustCreate(t, m, "/seg", "")
	must(t, m.SyncDir("/"))
	_, err := f.WriteAt(make([]byte, 8), 0)
	must(t, err)
	v, err := f.MapWritable(4096)
	must(t, err)
	copy(v, "sync")
	must(t, f.Wrote(v, 0, 4))
	must(t, f.Sync())
	copy(v[4:], "lost")
	must(t, f.Wrote(v, 4, 4))
	if got := memRead(t, m, "/seg"); got != "synclost" {
		t.Fatalf("before the crash: %q", got)
	}
	if got := memRead(t, m.CrashClone(CrashConfig{}), "/seg"); got != "sync\x00\x00\x00\x00" {
		t.Fatalf("after the crash: %q, want the synced store only", got)
	}
	copy(v[8:], "past")
	if err := f.Wrote(v, 8, 4); err == nil {
		t.Fatal("a store past the end of the file was accepted")
	}
	if err := f.Wrote(v[:8], 0, 1); err == nil {
		t.Fatal("Wrote with a resliced view was accepted")
	}
}

func TestInjectError(t *testing.T) {
	errBoom := errors.New("boom")
	tests := []struct {
		op   Op
		name string
		do   func(m *MemFS, f File) error
		want string // content of /a after a clean crash
	}{
		{OpSync, "/a", func(m *MemFS, f File) error { return f.Sync() }, "v1"},
		{OpWrite, "/a", func(m *MemFS, f File) error { _, err := f.WriteAt([]byte("XX"), 0); f.Sync(); return err }, "v1v2"},
		{OpTruncate, "/a", func(m *MemFS, f File) error { err := f.Truncate(0); f.Sync(); return err }, "v1v2"},
		{OpSyncDir, "/", func(m *MemFS, f File) error { f.Sync(); m.Remove("/a"); return m.SyncDir("/") }, "v1v2"},
		{OpRemove, "/a", func(m *MemFS, f File) error { err := m.Remove("/a"); m.SyncDir("/"); return err }, "v1"},
		{OpRename, "/a", func(m *MemFS, f File) error {
			g := mustCreate(t, m, "/b", "new")
			g.Sync()
			err := m.Rename("/b", "/a")
			m.SyncDir("/")
			return err
		}, "v1"},
		{OpCreate, "/a", func(m *MemFS, f File) error {
			g, err := m.Create("/a")
			if err == nil {
				g.Sync()
			}
			return err
		}, "v1"},
		{OpOpen, "/a", func(m *MemFS, f File) error { _, err := m.Open("/a"); return err }, "v1"},
	}
	for _, tc := range tests {
		t.Run(tc.op.String(), func(t *testing.T) {
			m := NewMem()
			f := mustCreate(t, m, "/a", "v1")
			must(t, f.Sync())
			must(t, m.SyncDir("/"))
			_, err := f.WriteAt([]byte("v2"), 2)
			must(t, err)
			calls := 0
			m.InjectError(func(op Op, name string) error {
				if op == tc.op && name == tc.name {
					calls++
					return errBoom
				}
				return nil
			})
			err = tc.do(m, f)
			if !errors.Is(err, errBoom) {
				t.Fatalf("%v: err = %v, want boom", tc.op, err)
			}
			if calls != 1 {
				t.Fatalf("injector called %d times for %v, want 1", calls, tc.op)
			}
			m.InjectError(nil)
			if got := memRead(t, m.CrashClone(CrashConfig{}), "/a"); got != tc.want {
				t.Fatalf("after crash /a = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestMemConcurrent gives the race detector work: writers, syncers,
// readers, directory operations and crash clones at once.
func TestMemConcurrent(t *testing.T) {
	m := NewMem()
	must(t, m.MkdirAll("/d", 0o755))
	var wg sync.WaitGroup
	for i := range 4 {
		name := "/d/" + string(rune('a'+i))
		f := mustCreate(t, m, name, "")
		wg.Go(func() {
			buf := bytes.Repeat([]byte{byte('a' + i)}, 100)
			for j := range 200 {
				if _, err := f.WriteAt(buf, int64(j*len(buf))); err != nil {
					t.Error(err)
					return
				}
				if j%10 == 0 {
					_ = f.Sync()
					_ = m.SyncDir("/d")
				}
			}
		})
		wg.Go(func() {
			r, err := m.Open(name)
			if err != nil {
				t.Error(err)
				return
			}
			b := make([]byte, 100)
			for range 200 {
				_, _ = r.ReadAt(b, 0)
				_, _ = m.List("/d")
			}
		})
	}
	wg.Go(func() {
		for range 20 {
			c := m.CrashClone(CrashConfig{})
			_, _ = c.List("/d")
		}
	})
	wg.Wait()
}

func TestMkdirAllDurable(t *testing.T) {
	m := NewMem()
	if err := MkdirAllDurable(m, "a/b/c"); err != nil {
		t.Fatal(err)
	}
	f, _ := m.Create("a/b/c/f")
	f.WriteAt([]byte("x"), 0)
	f.Sync()
	m.SyncDir("a/b/c")
	c := m.CrashClone(CrashConfig{})
	if _, err := c.Stat("a/b/c/f"); err != nil {
		t.Fatalf("file under a durable mkdir lost in a crash: %v", err)
	}
}
