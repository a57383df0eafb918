package vfs

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"path"
	"slices"
	"testing"
)

// impl is one FS under test, with a directory to work in.
type impl struct {
	name string
	new  func(t *testing.T) (FS, string)
}

var impls = []impl{
	{"os", func(t *testing.T) (FS, string) { return Default(), t.TempDir() }},
	{"mem", func(t *testing.T) (FS, string) {
		m := NewMem()
		if err := m.MkdirAll("/data", 0o755); err != nil {
			t.Fatal(err)
		}
		return m, "/data"
	}},
}

// forEachFS runs fn against every implementation.
func forEachFS(t *testing.T, fn func(t *testing.T, fsys FS, dir string)) {
	for _, im := range impls {
		t.Run(im.name, func(t *testing.T) {
			fsys, dir := im.new(t)
			fn(t, fsys, dir)
		})
	}
}

func mustCreate(t *testing.T, fsys FS, name string, data string) File {
	t.Helper()
	f, err := fsys.Create(name)
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	if _, err := f.WriteAt([]byte(data), 0); err != nil {
		t.Fatalf("write %s: %v", name, err)
	}
	return f
}

func readAll(t *testing.T, fsys FS, name string) string {
	t.Helper()
	f, err := fsys.Open(name)
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		t.Fatalf("size %s: %v", name, err)
	}
	b := make([]byte, size)
	if _, err := f.ReadAt(b, 0); err != nil && !errors.Is(err, io.EOF) {
		t.Fatalf("read %s: %v", name, err)
	}
	return string(b)
}

func TestFS(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, fsys FS, dir string)
	}{
		{"write read size", func(t *testing.T, fsys FS, dir string) {
			f := mustCreate(t, fsys, path.Join(dir, "a"), "hello")
			defer f.Close()
			if _, err := f.WriteAt([]byte("XY"), 8); err != nil {
				t.Fatal(err)
			}
			if n, err := f.Size(); err != nil || n != 10 {
				t.Fatalf("size = %d, %v; want 10", n, err)
			}
			got := make([]byte, 10)
			if _, err := f.ReadAt(got, 0); err != nil {
				t.Fatal(err)
			}
			if want := "hello\x00\x00\x00XY"; string(got) != want {
				t.Fatalf("read %q, want %q", got, want)
			}
			if err := f.Sync(); err != nil {
				t.Fatal(err)
			}
		}},
		{"mapped store", func(t *testing.T, fsys FS, dir string) {
			name := path.Join(dir, "a")
			f := mustCreate(t, fsys, name, "abc")
			defer f.Close()
			if _, err := f.WriteAt(make([]byte, 5), 3); err != nil { // grow first
				t.Fatal(err)
			}
			v, err := f.MapWritable(4096)
			if err != nil {
				t.Fatal(err)
			}
			copy(v[4:], "XYZ")
			if err := f.Wrote(v, 4, 3); err != nil {
				t.Fatal(err)
			}
			if err := f.Sync(); err != nil {
				t.Fatal(err)
			}
			if err := f.Unmap(v); err != nil {
				t.Fatal(err)
			}
			if got, want := readAll(t, fsys, name), "abc\x00XYZ\x00"; got != want {
				t.Fatalf("read %q, want %q", got, want)
			}
			r, err := fsys.Open(name)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if v, err := r.MapWritable(4096); err == nil {
				r.Unmap(v)
				t.Fatal("MapWritable of a read-only file succeeded")
			}
		}},
		{"read past end", func(t *testing.T, fsys FS, dir string) {
			f := mustCreate(t, fsys, path.Join(dir, "a"), "abc")
			defer f.Close()
			b := make([]byte, 5)
			n, err := f.ReadAt(b, 1)
			if n != 2 || !errors.Is(err, io.EOF) || string(b[:n]) != "bc" {
				t.Fatalf("ReadAt = %d %q %v; want 2 \"bc\" EOF", n, b[:n], err)
			}
			if n, err := f.ReadAt(b, 3); n != 0 || !errors.Is(err, io.EOF) {
				t.Fatalf("ReadAt at end = %d %v; want 0 EOF", n, err)
			}
			if _, err := f.ReadAt(b, -1); err == nil {
				t.Fatal("ReadAt at -1 succeeded")
			}
			if _, err := f.WriteAt(b, -1); err == nil {
				t.Fatal("WriteAt at -1 succeeded")
			}
		}},
		{"truncate", func(t *testing.T, fsys FS, dir string) {
			name := path.Join(dir, "a")
			f := mustCreate(t, fsys, name, "abcdef")
			defer f.Close()
			if err := f.Truncate(2); err != nil {
				t.Fatal(err)
			}
			if err := f.Truncate(4); err != nil {
				t.Fatal(err)
			}
			if got := readAll(t, fsys, name); got != "ab\x00\x00" {
				t.Fatalf("content %q, want \"ab\\0\\0\"", got)
			}
		}},
		{"create truncates", func(t *testing.T, fsys FS, dir string) {
			name := path.Join(dir, "a")
			mustCreate(t, fsys, name, "long content").Close()
			mustCreate(t, fsys, name, "new").Close()
			if got := readAll(t, fsys, name); got != "new" {
				t.Fatalf("content %q, want \"new\"", got)
			}
		}},
		{"open missing", func(t *testing.T, fsys FS, dir string) {
			name := path.Join(dir, "missing")
			if _, err := fsys.Open(name); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("Open: %v, want ErrNotExist", err)
			}
			if _, err := fsys.OpenReadWrite(name); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("OpenReadWrite: %v, want ErrNotExist", err)
			}
			if _, err := fsys.Stat(name); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("Stat: %v, want ErrNotExist", err)
			}
			if _, err := fsys.Create(path.Join(name, "x")); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("Create in missing dir: %v, want ErrNotExist", err)
			}
		}},
		{"open read only", func(t *testing.T, fsys FS, dir string) {
			name := path.Join(dir, "a")
			mustCreate(t, fsys, name, "abc").Close()
			f, err := fsys.Open(name)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.WriteAt([]byte("x"), 0); err == nil {
				t.Fatal("write to read-only file succeeded")
			}
			if f.Name() != name {
				t.Fatalf("Name() = %q, want %q", f.Name(), name)
			}
		}},
		{"open read write", func(t *testing.T, fsys FS, dir string) {
			name := path.Join(dir, "a")
			mustCreate(t, fsys, name, "abc").Close()
			f, err := fsys.OpenReadWrite(name)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteAt([]byte("X"), 1); err != nil {
				t.Fatal(err)
			}
			f.Close()
			if got := readAll(t, fsys, name); got != "aXc" {
				t.Fatalf("content %q, want \"aXc\"", got)
			}
		}},
		{"closed file", func(t *testing.T, fsys FS, dir string) {
			f := mustCreate(t, fsys, path.Join(dir, "a"), "abc")
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteAt([]byte("x"), 0); !errors.Is(err, fs.ErrClosed) {
				t.Fatalf("write after close: %v, want ErrClosed", err)
			}
			if err := f.Close(); err == nil {
				t.Fatal("second close succeeded")
			}
		}},
		{"rename replaces", func(t *testing.T, fsys FS, dir string) {
			a, b := path.Join(dir, "a"), path.Join(dir, "b")
			mustCreate(t, fsys, a, "new").Close()
			mustCreate(t, fsys, b, "old").Close()
			if err := fsys.Rename(a, b); err != nil {
				t.Fatal(err)
			}
			if got := readAll(t, fsys, b); got != "new" {
				t.Fatalf("content %q, want \"new\"", got)
			}
			if _, err := fsys.Stat(a); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("Stat old name: %v, want ErrNotExist", err)
			}
			if err := fsys.Rename(a, b); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("Rename missing: %v, want ErrNotExist", err)
			}
		}},
		{"remove", func(t *testing.T, fsys FS, dir string) {
			a := path.Join(dir, "a")
			mustCreate(t, fsys, a, "x").Close()
			if err := fsys.Remove(a); err != nil {
				t.Fatal(err)
			}
			if err := fsys.Remove(a); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("Remove missing: %v, want ErrNotExist", err)
			}
			sub := path.Join(dir, "sub")
			if err := fsys.MkdirAll(sub, 0o755); err != nil {
				t.Fatal(err)
			}
			mustCreate(t, fsys, path.Join(sub, "f"), "x").Close()
			if err := fsys.Remove(sub); err == nil {
				t.Fatal("Remove of a non-empty directory succeeded")
			}
			if err := fsys.RemoveAll(sub); err != nil {
				t.Fatal(err)
			}
			if err := fsys.RemoveAll(sub); err != nil {
				t.Fatalf("RemoveAll missing: %v", err)
			}
			if _, err := fsys.Stat(sub); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("Stat removed: %v, want ErrNotExist", err)
			}
		}},
		{"mkdir list stat", func(t *testing.T, fsys FS, dir string) {
			sub := path.Join(dir, "x", "y")
			if err := fsys.MkdirAll(sub, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := fsys.MkdirAll(sub, 0o755); err != nil {
				t.Fatalf("MkdirAll existing: %v", err)
			}
			for _, n := range []string{"c", "a", "b"} {
				mustCreate(t, fsys, path.Join(sub, n), n+n).Close()
			}
			names, err := fsys.List(sub)
			if err != nil {
				t.Fatal(err)
			}
			if want := []string{"a", "b", "c"}; !slices.Equal(names, want) {
				t.Fatalf("List = %v, want %v", names, want)
			}
			if _, err := fsys.List(path.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("List missing: %v, want ErrNotExist", err)
			}
			fi, err := fsys.Stat(path.Join(sub, "b"))
			if err != nil || fi.Size() != 2 || fi.IsDir() || fi.Name() != "b" {
				t.Fatalf("Stat file = %v, %v", fi, err)
			}
			fi, err = fsys.Stat(sub)
			if err != nil || !fi.IsDir() || fi.Name() != "y" {
				t.Fatalf("Stat dir = %v, %v", fi, err)
			}
			if err := fsys.MkdirAll(path.Join(sub, "a", "z"), 0o755); err == nil {
				t.Fatal("MkdirAll through a file succeeded")
			}
		}},
		{"sync dir", func(t *testing.T, fsys FS, dir string) {
			mustCreate(t, fsys, path.Join(dir, "a"), "x").Close()
			if err := fsys.SyncDir(dir); err != nil {
				t.Fatal(err)
			}
			if err := fsys.SyncDir(path.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("SyncDir missing: %v, want ErrNotExist", err)
			}
		}},
		{"map sees later writes", func(t *testing.T, fsys FS, dir string) {
			f := mustCreate(t, fsys, path.Join(dir, "seg"), "head")
			defer f.Close()
			view, err := f.Map(1 << 16)
			if err != nil {
				t.Fatal(err)
			}
			if string(view[:4]) != "head" {
				t.Fatalf("view = %q, want \"head\"", view[:4])
			}
			want := bytes.Repeat([]byte("0123456789"), 1000)
			if _, err := f.WriteAt(want, 4); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(view[4:4+len(want)], want) {
				t.Fatal("view does not show a later write")
			}
			ro, err := fsys.Open(path.Join(dir, "seg"))
			if err != nil {
				t.Fatal(err)
			}
			defer ro.Close()
			view2, err := ro.Map(4096)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteAt([]byte("HEAD"), 0); err != nil {
				t.Fatal(err)
			}
			if string(view[:4]) != "HEAD" || string(view2[:4]) != "HEAD" {
				t.Fatalf("views = %q %q, want HEAD", view[:4], view2[:4])
			}
			if err := ro.Unmap(view2); err != nil {
				t.Fatal(err)
			}
			if err := f.Unmap(view); err != nil {
				t.Fatal(err)
			}
			if _, err := f.Map(0); err == nil {
				t.Fatal("Map(0) succeeded")
			}
		}},
		{"lock exclusive", func(t *testing.T, fsys FS, dir string) {
			name := path.Join(dir, "LOCK")
			l, err := fsys.Lock(name)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := fsys.Lock(name); !errors.Is(err, ErrLocked) {
				t.Fatalf("second Lock: %v, want ErrLocked", err)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			l, err = fsys.Lock(name)
			if err != nil {
				t.Fatalf("Lock after release: %v", err)
			}
			l.Close()
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { forEachFS(t, tc.run) })
	}
}

// BenchmarkWriteSync compares one 4 KiB append plus Sync on the OS with
// MemFS: the ratio is the speed-up crash tests get.
func BenchmarkWriteSync(b *testing.B) {
	for _, im := range impls {
		b.Run(im.name, func(b *testing.B) {
			fsys, dir := FS(NewMem()), "/"
			if im.name == "os" {
				fsys, dir = Default(), b.TempDir()
			}
			f, err := fsys.Create(path.Join(dir, "seg"))
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			buf := bytes.Repeat([]byte{'x'}, 4096)
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			var off int64
			for b.Loop() {
				if _, err := f.WriteAt(buf, off); err != nil {
					b.Fatal(err)
				}
				if err := f.Sync(); err != nil {
					b.Fatal(err)
				}
				off += int64(len(buf))
				if off >= 64<<20 {
					off = 0
				}
			}
		})
	}
}
