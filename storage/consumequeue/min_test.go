package consumequeue

import (
	"errors"
	"fmt"
	"slices"
	"testing"
)

func TestSetMinOffset(t *testing.T) {
	tests := []struct {
		name    string
		min     int64
		wantMin int64
		files   []string
		wantErr error
	}{
		{"backwards is a no-op", 1, 2, []string{"00000000000000000000", "00000000000000000080", "00000000000000000160"}, nil},
		{"within first file", 3, 3, []string{"00000000000000000000", "00000000000000000080", "00000000000000000160"}, nil},
		{"file boundary", 4, 4, []string{"00000000000000000080", "00000000000000000160"}, nil},
		{"mid second file", 6, 6, []string{"00000000000000000080", "00000000000000000160"}, nil},
		{"into last file", 9, 9, []string{"00000000000000000160"}, nil},
		{"everything", 11, 11, []string{"00000000000000000160"}, nil},
		{"beyond max", 12, 2, []string{"00000000000000000000", "00000000000000000080", "00000000000000000160"}, ErrOffsetOutOfRange},
	}
	for _, fsc := range fileSystems() {
		for _, tt := range tests {
			t.Run(fsc.name+"/"+tt.name, func(t *testing.T) {
				fsys, dir := fsc.new(t)
				q := mustOpen(t, fsys, dir, 4)
				mustAppend(t, q, 2, 9)
				if err := q.SetMinOffset(tt.min); !errors.Is(err, tt.wantErr) {
					t.Fatalf("SetMinOffset(%d) err = %v, want %v", tt.min, err, tt.wantErr)
				}
				checkQueue(t, q, tt.wantMin, 11)
				if got := listFiles(t, fsys, dir); !slices.Equal(got, tt.files) {
					t.Fatalf("files = %v, want %v", got, tt.files)
				}
				if err := q.Close(); err != nil {
					t.Fatal(err)
				}
				q = mustOpen(t, fsys, dir, 4)
				checkQueue(t, q, tt.wantMin, 11)
				mustAppend(t, q, 11, 6)
				checkQueue(t, q, tt.wantMin, 17)
			})
		}
	}
}

func TestSetMinOffsetAllFiles(t *testing.T) {
	fsys, dir := fileSystems()[0].new(t)
	q := mustOpen(t, fsys, dir, 4)
	mustAppend(t, q, 0, 8)
	if err := q.SetMinOffset(8); err != nil {
		t.Fatal(err)
	}
	// Offset 8 starts a file: that file, empty, keeps the queue's place.
	if got := listFiles(t, fsys, dir); !slices.Equal(got, []string{"00000000000000000160"}) {
		t.Fatalf("files = %v, want only the empty one at offset 8", got)
	}
	checkQueue(t, q, 8, 8)
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	q = mustOpen(t, fsys, dir, 4)
	checkQueue(t, q, 8, 8)
	if got, err := q.Read(8, make([]Unit, 0, 4)); err != nil || len(got) != 0 {
		t.Fatalf("Read at max = %v, %v", got, err)
	}
	mustAppend(t, q, 8, 2)
	checkQueue(t, q, 8, 10)
}

func TestDeleteBeforeCommitLogOffset(t *testing.T) {
	tests := []struct {
		name    string
		cl      int64
		wantMin int64
	}{
		{"below everything", 0, 2},
		{"exact unit", unitAt(5).CommitLogOffset, 5},
		{"inside an entry", unitAt(5).CommitLogOffset + 1, 6},
		{"beyond everything", unitAt(50).CommitLogOffset, 11},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys, dir := fileSystems()[0].new(t)
			q := mustOpen(t, fsys, dir, 4)
			mustAppend(t, q, 2, 9)
			if err := q.DeleteBeforeCommitLogOffset(tt.cl); err != nil {
				t.Fatal(err)
			}
			checkQueue(t, q, tt.wantMin, 11)
		})
	}
}

func TestSearchOffset(t *testing.T) {
	// Store time: three units per millisecond from 100 (a Kafka batch of
	// three records shares its entry's store time).
	storeTime := func(u Unit) (int64, error) { return 100 + (u.CommitLogOffset-1000)/64/3, nil }
	tests := []struct {
		ts   int64
		want int64
	}{
		{0, 2}, {100, 2}, {101, 3}, {102, 6}, {103, 9}, {104, 11}, {1 << 40, 11},
	}
	fsys, dir := fileSystems()[0].new(t)
	q := mustOpen(t, fsys, dir, 4)
	mustAppend(t, q, 2, 9) // store times 100, 101x3, 102x3, 103x2
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.ts), func(t *testing.T) {
			got, err := q.SearchOffset(tt.ts, storeTime)
			if err != nil || got != tt.want {
				t.Fatalf("SearchOffset(%d) = %d, %v; want %d", tt.ts, got, err, tt.want)
			}
		})
	}
	boom := errors.New("boom")
	if _, err := q.SearchOffset(5, func(Unit) (int64, error) { return 0, boom }); !errors.Is(err, boom) {
		t.Fatalf("callback error not returned: %v", err)
	}
	empty := mustOpen(t, fsys, "/other", 4)
	if got, err := empty.SearchOffset(5, storeTime); err != nil || got != 0 {
		t.Fatalf("empty SearchOffset = %d, %v", got, err)
	}
}

// TestReset: a reset queue is empty at its new offset, keeps it across a
// reopen once flushed, and appends continue from it.
func TestReset(t *testing.T) {
	for _, fsc := range fileSystems() {
		for _, off := range []int64{0, 6, 8, 13, 3} {
			t.Run(fmt.Sprintf("%s/%d", fsc.name, off), func(t *testing.T) {
				fsys, dir := fsc.new(t)
				q := mustOpen(t, fsys, dir, 4)
				mustAppend(t, q, 2, 9)
				if err := q.Reset(off); err != nil {
					t.Fatal(err)
				}
				checkQueue(t, q, off, off)
				if err := q.Close(); err != nil {
					t.Fatal(err)
				}
				q = mustOpen(t, fsys, dir, 4)
				checkQueue(t, q, off, off)
				mustAppend(t, q, off, 5)
				checkQueue(t, q, off, off+5)
				if err := q.Close(); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
	fsys, dir := fileSystems()[0].new(t)
	q := mustOpen(t, fsys, dir, 4)
	if err := q.Reset(-1); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("Reset(-1) = %v", err)
	}
}
