package consumequeue

import (
	"errors"
	"slices"
	"testing"
)

func TestAppendGetRead(t *testing.T) {
	tests := []struct {
		name    string
		start   int64
		batches []int64 // batch sizes appended in turn
		files   []string
	}{
		{"one unit", 0, []int64{1}, []string{"00000000000000000000"}},
		{"exactly one file", 0, []int64{4}, []string{"00000000000000000000"}},
		{"roll by single units", 0, []int64{1, 1, 1, 1, 1}, []string{"00000000000000000000", "00000000000000000080"}},
		{"batch across three files", 0, []int64{2, 9}, []string{"00000000000000000000", "00000000000000000080", "00000000000000000160"}},
		{"start mid-file", 6, []int64{3}, []string{"00000000000000000080", "00000000000000000160"}},
		{"start at boundary", 8, []int64{4, 1}, []string{"00000000000000000160", "00000000000000000240"}},
	}
	for _, fsc := range fileSystems() {
		for _, tt := range tests {
			t.Run(fsc.name+"/"+tt.name, func(t *testing.T) {
				fsys, dir := fsc.new(t)
				q := mustOpen(t, fsys, dir, 4)
				o := tt.start
				for _, n := range tt.batches {
					mustAppend(t, q, o, n)
					o += n
				}
				checkQueue(t, q, tt.start, o)
				if got := listFiles(t, fsys, dir); !slices.Equal(got, tt.files) {
					t.Fatalf("files = %v, want %v", got, tt.files)
				}
				for from := tt.start; from <= o; from++ {
					for _, c := range []int{0, 1, 3, 5, 20} {
						got, err := q.Read(from, make([]Unit, 1, 1+c))
						want := append([]Unit{{}}, unitsFrom(from, min(int64(c), o-from))...)
						if err != nil || !slices.Equal(got, want) {
							t.Fatalf("Read(%d, cap %d) = %v, %v; want %v", from, c, got, err, want)
						}
					}
				}
				if _, err := q.Read(o+1, make([]Unit, 0, 4)); !errors.Is(err, ErrOffsetOutOfRange) {
					t.Fatalf("Read past max err = %v", err)
				}
				if err := q.Close(); err != nil {
					t.Fatal(err)
				}
				q = mustOpen(t, fsys, dir, 4)
				checkQueue(t, q, tt.start, o)
				mustAppend(t, q, o, 3)
				checkQueue(t, q, tt.start, o+3)
				if err := q.Close(); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

func TestAppendErrors(t *testing.T) {
	tests := []struct {
		name   string
		offset int64
		units  []Unit
		want   error
	}{
		{"gap", 11, unitsFrom(11, 1), ErrNotContiguous},
		{"backwards", 9, unitsFrom(9, 1), ErrNotContiguous},
		{"zero size", 10, []Unit{{CommitLogOffset: 5}}, ErrInvalidUnit},
		{"negative size", 10, []Unit{{CommitLogOffset: 5, Size: -1}}, ErrInvalidUnit},
		{"negative commit-log offset", 10, []Unit{{CommitLogOffset: -1, Size: 1}}, ErrInvalidUnit},
		{"blank", 10, []Unit{blank()}, ErrInvalidUnit},
		{"empty batch", 10, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys, dir := fileSystems()[0].new(t)
			q := mustOpen(t, fsys, dir, 4)
			mustAppend(t, q, 0, 10)
			if err := q.Append(tt.offset, tt.units); !errors.Is(err, tt.want) {
				t.Fatalf("Append err = %v, want %v", err, tt.want)
			}
			checkQueue(t, q, 0, 10)
			mustAppend(t, q, 10, 1) // not sticky
		})
	}
}

func TestAppendToEmptyQueueResets(t *testing.T) {
	tests := []struct {
		name      string
		setMin    int64 // empties the queue when == 10
		next      int64
		wantFiles []string
	}{
		{"forward", 10, 13, []string{"00000000000000000240"}},
		{"backward", 10, 1, []string{"00000000000000000000"}},
		{"same offset keeps file", 10, 10, []string{"00000000000000000160"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys, dir := fileSystems()[0].new(t)
			q := mustOpen(t, fsys, dir, 4)
			mustAppend(t, q, 0, 10)
			if err := q.SetMinOffset(tt.setMin); err != nil {
				t.Fatal(err)
			}
			mustAppend(t, q, tt.next, 2)
			checkQueue(t, q, tt.next, tt.next+2)
			if got := listFiles(t, fsys, dir); !slices.Equal(got, tt.wantFiles) {
				t.Fatalf("files = %v, want %v", got, tt.wantFiles)
			}
			if err := q.Close(); err != nil {
				t.Fatal(err)
			}
			q = mustOpen(t, fsys, dir, 4)
			checkQueue(t, q, tt.next, tt.next+2)
		})
	}
}

func TestTruncateAfterCommitLogOffset(t *testing.T) {
	tests := []struct {
		name    string
		cl      int64
		wantMax int64
		files   int
	}{
		{"beyond the end", unitAt(100).CommitLogOffset, 11, 3},
		{"last unit", unitAt(10).CommitLogOffset, 10, 3},
		{"inside a unit's entry", unitAt(6).CommitLogOffset + 1, 7, 2},
		{"file boundary", unitAt(8).CommitLogOffset, 8, 2},
		{"mid first file", unitAt(3).CommitLogOffset, 3, 1},
		{"at min", unitAt(2).CommitLogOffset, 2, 1},
		{"below min", 0, 2, 1},
	}
	for _, fsc := range fileSystems() {
		for _, tt := range tests {
			t.Run(fsc.name+"/"+tt.name, func(t *testing.T) {
				fsys, dir := fsc.new(t)
				q := mustOpen(t, fsys, dir, 4)
				mustAppend(t, q, 2, 9)
				if err := q.TruncateAfterCommitLogOffset(tt.cl); err != nil {
					t.Fatal(err)
				}
				wantMin := min(int64(2), tt.wantMax)
				checkQueue(t, q, wantMin, tt.wantMax)
				if got := len(listFiles(t, fsys, dir)); got != tt.files {
					t.Fatalf("%d files, want %d", got, tt.files)
				}
				mustAppend(t, q, tt.wantMax, 1)
				checkQueue(t, q, wantMin, tt.wantMax+1)
				if err := q.Close(); err != nil {
					t.Fatal(err)
				}
				q = mustOpen(t, fsys, dir, 4)
				checkQueue(t, q, wantMin, tt.wantMax+1)
			})
		}
	}
}
