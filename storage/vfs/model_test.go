package vfs

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// TestMemRandomOps runs seeded random writes, truncates, syncs and maps on
// one MemFS file against a model of plain slices, checking reads, views and
// the crash clone after every step.
func TestMemRandomOps(t *testing.T) {
	for seed := range uint64(30) {
		r := rand.New(rand.NewPCG(seed, 11))
		m := NewMem()
		f, err := m.Create("/f")
		must(t, err)
		must(t, m.SyncDir("/"))
		var cur, synced []byte
		var views [][]byte
		for step := range 300 {
			switch op := r.IntN(10); {
			case op < 5:
				off := r.IntN(len(cur) + 3000)
				p := make([]byte, 1+r.IntN(2000))
				for i := range p {
					p[i] = byte(r.Uint32())
				}
				_, err := f.WriteAt(p, int64(off))
				must(t, err)
				if end := off + len(p); end > len(cur) {
					cur = append(cur, make([]byte, end-len(cur))...)
				}
				copy(cur[off:], p)
			case op < 7:
				size := r.IntN(len(cur) + 1000)
				must(t, f.Truncate(int64(size)))
				if size > len(cur) {
					cur = append(cur, make([]byte, size-len(cur))...)
				}
				cur = cur[:size]
			case op < 9:
				must(t, f.Sync())
				synced = bytes.Clone(cur)
			default:
				v, err := f.Map(1 + r.IntN(20000))
				must(t, err)
				views = append(views, v)
			}
			got := readAll(t, m, "/f")
			if got != string(cur) {
				t.Fatalf("seed %d step %d: read differs from model", seed, step)
			}
			for i, v := range views {
				n := min(len(v), len(cur))
				if !bytes.Equal(v[:n], cur[:n]) {
					t.Fatalf("seed %d step %d: view %d differs from model", seed, step, i)
				}
			}
			if got := memRead(t, m.CrashClone(CrashConfig{}), "/f"); got != string(synced) {
				t.Fatalf("seed %d step %d: crash clone %d bytes, want synced %d bytes", seed, step, len(got), len(synced))
			}
		}
	}
}
