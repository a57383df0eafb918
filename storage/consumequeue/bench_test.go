package consumequeue

import (
	"testing"
)

// The benchmarks run on both file systems. Compare Get with Read (the
// per-unit cost when a fetch copies a run) and Append with the OS's raw
// pwrite of 20 bytes, which is its floor.

const benchUnits = 1 << 16

func BenchmarkGet(b *testing.B) {
	for _, fsc := range fileSystems() {
		b.Run(fsc.name, func(b *testing.B) {
			fsys, dir := fsc.new(b)
			q := mustOpen(b, fsys, dir, 0)
			mustAppend(b, q, 0, benchUnits)
			b.ReportAllocs()
			var o int64
			for b.Loop() {
				if _, err := q.Get(o); err != nil {
					b.Fatal(err)
				}
				o = (o + 4099) % benchUnits
			}
		})
	}
}

func BenchmarkRead32(b *testing.B) {
	fsys, dir := fileSystems()[0].new(b)
	q := mustOpen(b, fsys, dir, 0)
	mustAppend(b, q, 0, benchUnits)
	dst := make([]Unit, 0, 32)
	b.ReportAllocs()
	b.SetBytes(32 * UnitSize)
	var o int64
	for b.Loop() {
		if _, err := q.Read(o, dst); err != nil {
			b.Fatal(err)
		}
		o = (o + 4099) % (benchUnits - 32)
	}
}

func BenchmarkAppend(b *testing.B) {
	for _, fsc := range fileSystems() {
		b.Run(fsc.name, func(b *testing.B) {
			fsys, dir := fsc.new(b)
			q := mustOpen(b, fsys, dir, 0)
			u := []Unit{unitAt(0)}
			b.ReportAllocs()
			b.SetBytes(UnitSize)
			for b.Loop() {
				if err := q.Append(q.MaxOffset(), u); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRawWriteAt is Append's floor: one 20-byte pwrite at increasing
// offsets through the same vfs.File.
func BenchmarkRawWriteAt(b *testing.B) {
	for _, fsc := range fileSystems() {
		b.Run(fsc.name, func(b *testing.B) {
			fsys, dir := fsc.new(b)
			if err := fsys.MkdirAll(dir, 0o755); err != nil {
				b.Fatal(err)
			}
			f, err := fsys.Create(dir + "/raw")
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			buf := AppendUnit(nil, unitAt(0))
			b.ReportAllocs()
			b.SetBytes(UnitSize)
			var off int64
			for b.Loop() {
				if _, err := f.WriteAt(buf, off); err != nil {
					b.Fatal(err)
				}
				off = (off + UnitSize) % (DefaultUnitsPerFile * UnitSize)
			}
		})
	}
}
