package ha

import (
	"errors"
	"path/filepath"
	"reflect"
	"testing"
)

func TestCommonEnd(t *testing.T) {
	for _, tc := range []struct {
		name       string
		s          []Epoch
		sEnd       int64
		m          []Epoch
		mEnd       int64
		want       int64
		wantCommon bool
	}{
		{"classic mode", nil, 500, nil, 900, 500, true},
		{"same epoch, slave behind", []Epoch{{1, 0}}, 500, []Epoch{{1, 0}}, 900, 500, true},
		{"old master wrote past the new master's start",
			[]Epoch{{1, 0}, {2, 300}}, 800, []Epoch{{1, 0}, {2, 300}, {3, 600}}, 900, 600, true},
		{"old master of epoch 2 never replicated past 450",
			[]Epoch{{1, 0}, {2, 300}}, 800, []Epoch{{1, 0}, {2, 300}, {4, 450}}, 900, 450, true},
		{"diverged at epoch 2: only epoch 1 is shared",
			[]Epoch{{1, 0}, {2, 300}}, 800, []Epoch{{1, 0}, {3, 250}}, 900, 250, true},
		{"entries past the log's end are ignored",
			[]Epoch{{1, 0}, {5, 2000}}, 800, []Epoch{{1, 0}}, 900, 800, true},
		{"nothing shared", []Epoch{{7, 0}}, 800, []Epoch{{1, 0}}, 900, 0, false},
		{"empty slave", nil, 0, []Epoch{{1, 0}}, 900, 0, true},
		{"a slave without epochs, a master with", nil, 800, []Epoch{{1, 0}}, 900, 800, false},
	} {
		got, ok := CommonEnd(tc.s, tc.sEnd, tc.m, tc.mEnd)
		if ok != tc.wantCommon || (ok && got != tc.want) {
			t.Errorf("%s: %d %v, want %d %v", tc.name, got, ok, tc.want, tc.wantCommon)
		}
	}
}

func TestEpochFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "epochs")
	if l, err := LoadEpochs(p); err != nil || l != nil {
		t.Fatalf("missing file: %v %v", l, err)
	}
	want := []Epoch{{1, 0}, {2, 4096}, {5, 4096}}
	if err := SaveEpochs(p, want); err != nil {
		t.Fatal(err)
	}
	if got, err := LoadEpochs(p); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("load: %v %v", got, err)
	}
	if err := SaveEpochs(p, []Epoch{{2, 0}, {1, 5}}); !errors.Is(err, ErrEpochFile) {
		t.Fatalf("unsorted: %v", err)
	}
	for _, bad := range []string{"", "twinmq-epochs 2\n", "twinmq-epochs 1\n1\n", "twinmq-epochs 1\nx 1\n", "twinmq-epochs 1\n2 5\n1 6\n"} {
		if _, err := ParseEpochs([]byte(bad)); !errors.Is(err, ErrEpochFile) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func FuzzParseEpochs(f *testing.F) {
	f.Add([]byte("twinmq-epochs 1\n1 0\n2 100\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := ParseEpochs(b)
		if err == nil && checkEpochs(l) != nil {
			t.Fatalf("accepted an unsorted list %v", l)
		}
	})
}
