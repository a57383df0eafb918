package index

import (
	"errors"
	"fmt"
	"slices"
	"testing"
)

func TestPutQuery(t *testing.T) {
	for _, fsc := range fileSystems {
		t.Run(fsc.name, func(t *testing.T) {
			fs, dir := fsc.new(t)
			x := mustOpen(t, fs, dir, 64, 1000)
			if got := x.EndPhyOffset(); got != -1 {
				t.Fatalf("empty EndPhyOffset = %d, want -1", got)
			}
			puts := []put{
				{"t#a", 0, 1000}, {"t#b", 0, 1000}, {"t#a", 10, 2000}, {"t#a", 10, 2000},
				{"t#c", 20, 3000}, {"t#a", 30, 4000}, {"t#b", 40, 5000},
			}
			for _, p := range puts {
				mustPut(t, x, p.key, p.phy, p.ts)
			}
			tests := []struct {
				key  string
				max  int
				want []int64
			}{
				{"t#a", 10, []int64{30, 10, 0}},
				{"t#a", 2, []int64{30, 10}},
				{"t#b", 10, []int64{40, 0}},
				{"t#c", 10, []int64{20}},
				{"t#none", 10, []int64{}},
				{"t#a", 0, nil},
			}
			for _, tt := range tests {
				if got := mustQuery(t, x, tt.key, tt.max, 0, 1<<40); !slices.Equal(got, tt.want) {
					t.Errorf("Query(%q, %d) = %v, want %v", tt.key, tt.max, got, tt.want)
				}
			}
			if got := x.EndPhyOffset(); got != 40 {
				t.Errorf("EndPhyOffset = %d, want 40", got)
			}
		})
	}
}

func TestManyKeys(t *testing.T) {
	tests := []struct {
		name           string
		slots, entries int
		n, keys        int
	}{
		{"one file", 1024, 4096, 3000, 500},
		{"tiny slots", 1, 4096, 2000, 100},
		{"rolling", 16, 50, 2000, 300},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, fsc := range fileSystems {
				fs, dir := fsc.new(t)
				x := mustOpen(t, fs, dir, tt.slots, tt.entries)
				puts := genPuts(tt.n, tt.keys)
				for i, p := range puts {
					mustPut(t, x, p.key, p.phy, p.ts)
					if i%397 == 0 {
						if err := x.Flush(); err != nil {
							t.Fatal(err)
						}
					}
				}
				checkAll(t, x, puts, 1<<62)
				if err := x.Close(); err != nil {
					t.Fatal(err)
				}
				y := mustOpen(t, fs, dir, tt.slots, tt.entries)
				checkAll(t, y, puts, 1<<62)
				if got, want := y.EndPhyOffset(), puts[len(puts)-1].phy; got != want {
					t.Errorf("%s: EndPhyOffset after reopen = %d, want %d", fsc.name, got, want)
				}
			}
		})
	}
}

// TestHashCollision finds two keys with the same FNV-1a hash: Query returns
// the offsets of both (the caller checks the key in the CommitLog).
func TestHashCollision(t *testing.T) {
	seen := map[uint32]string{}
	var a, b string
	for i := 0; a == ""; i++ {
		k := fmt.Sprintf("t#%d", i)
		if o, ok := seen[keyHash(k)]; ok {
			a, b = o, k
		}
		seen[keyHash(k)] = k
	}
	x := mustOpen(t, vfsMem(), "i", 8, 100)
	mustPut(t, x, a, 1, 0)
	mustPut(t, x, "t#other", 2, 0)
	mustPut(t, x, b, 3, 0)
	if got, want := mustQuery(t, x, a, 10, 0, 1<<40), []int64{3, 1}; !slices.Equal(got, want) {
		t.Errorf("Query(%q) with collision %q = %v, want %v", a, b, got, want)
	}
}

func TestTimeRange(t *testing.T) {
	x := mustOpen(t, vfsMem(), "i", 4, 3) // 3 entries per file: ranges span files
	for i, ts := range []int64{10_000, 11_500, 12_999, 20_000, 30_000, 5_000} {
		mustPut(t, x, "t#k", int64(i*100), ts)
	}
	tests := []struct {
		begin, end int64
		want       []int64
	}{
		{0, 1 << 40, []int64{500, 400, 300, 200, 100, 0}},
		{11_000, 11_999, []int64{100}},
		{11_600, 11_700, []int64{100}}, // same second as 11,500
		{12_000, 19_999, []int64{200}},
		{20_000, 20_000, []int64{300}},
		{0, 9_999, []int64{500}}, // clock went back: older than the file's first entry
		{31_000, 40_000, nil},
		{40_000, 0, nil},
	}
	for _, tt := range tests {
		if got := mustQuery(t, x, "t#k", 10, tt.begin, tt.end); !slices.Equal(got, tt.want) {
			t.Errorf("Query [%d,%d] = %v, want %v", tt.begin, tt.end, got, tt.want)
		}
	}
}

func TestPutOrder(t *testing.T) {
	x := mustOpen(t, vfsMem(), "i", 4, 8)
	mustPut(t, x, "t#a", 100, 0)
	for _, phy := range []int64{99, -1} {
		if err := x.Put("t#a", phy, 0); !errors.Is(err, ErrOrder) {
			t.Errorf("Put at %d after 100: %v, want ErrOrder", phy, err)
		}
	}
	mustPut(t, x, "t#a", 100, 0) // equal is fine: several keys of one entry
}

func TestDeleteBefore(t *testing.T) {
	fs := vfsMem()
	x := mustOpen(t, fs, "i", 4, 2)
	for i := range 10 { // files of [0,10] [20,30] ... [80,90]
		mustPut(t, x, "t#k", int64(i*10), 0)
	}
	tests := []struct {
		before int64
		files  int
		want   []int64
	}{
		{0, 5, []int64{90, 80, 70, 60, 50, 40, 30, 20, 10, 0}},
		{11, 4, []int64{90, 80, 70, 60, 50, 40, 30, 20}},
		{30, 4, []int64{90, 80, 70, 60, 50, 40, 30, 20}},
		{65, 2, []int64{90, 80, 70, 60}},
		{1000, 1, []int64{90, 80}}, // the newest file stays
	}
	for _, tt := range tests {
		if err := x.DeleteBefore(tt.before); err != nil {
			t.Fatal(err)
		}
		names, _ := fs.List("i")
		if len(names) != tt.files {
			t.Errorf("DeleteBefore(%d): files %v, want %d", tt.before, names, tt.files)
		}
		if got := mustQuery(t, x, "t#k", 100, 0, 1<<40); !slices.Equal(got, tt.want) {
			t.Errorf("DeleteBefore(%d): Query = %v, want %v", tt.before, got, tt.want)
		}
	}
}

func TestClosed(t *testing.T) {
	x := mustOpen(t, vfsMem(), "i", 4, 8)
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	if err := x.Put("t#a", 0, 0); !errors.Is(err, ErrClosed) {
		t.Errorf("Put after Close: %v", err)
	}
	if _, err := x.Query("t#a", 1, 0, 1); !errors.Is(err, ErrClosed) {
		t.Errorf("Query after Close: %v", err)
	}
}
