package offsets

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"testing"

	"github.com/twinmq/twinmq/storage"
)

func openStore(t *testing.T, dir string) *storage.Store {
	t.Helper()
	s, err := storage.Open(context.Background(), storage.Config{Dir: dir, SegmentSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCommitFetchReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openStore(t, dir)
	tab, err := Open(ctx, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := tab.Fetch("g", "t", 0); ok {
		t.Fatal("fresh table has an offset")
	}
	steps := []Entry{
		{Key{"g", "t", 0}, 5}, {Key{"g", "t", 1}, 7}, {Key{"g", "t", 0}, 9},
		{Key{"h", "t", 0}, 1}, {Key{"g", "u", 3}, 0}, {Key{"g%x", "t", 0}, 2},
	}
	for _, e := range steps {
		if err := tab.Commit(ctx, e.Group, e.Topic, e.Queue, e.Offset); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := tab.Delete(ctx, "h", ""); err != nil || n != 1 {
		t.Fatalf("Delete(h) = %d, %v", n, err)
	}
	want := []Entry{{Key{"g", "t", 0}, 9}, {Key{"g", "t", 1}, 7}, {Key{"g", "u", 3}, 0}, {Key{"g%x", "t", 0}, 2}}
	if got := tab.List("", ""); !reflect.DeepEqual(got, want) {
		t.Fatalf("List = %v, want %v", got, want)
	}
	tab.Close()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openStore(t, dir)
	defer s.Close()
	tab, err = Open(ctx, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tab.Close()
	if got := tab.List("", ""); !reflect.DeepEqual(got, want) {
		t.Fatalf("after reopen List = %v, want %v", got, want)
	}
	if got := tab.Groups(); !reflect.DeepEqual(got, []string{"g", "g%x"}) {
		t.Fatalf("Groups = %v", got)
	}
	if got := tab.List("", "u"); len(got) != 1 || got[0].Offset != 0 {
		t.Fatalf("List(topic u) = %v", got)
	}
	if _, err := tab.Delete(ctx, "", ""); err == nil {
		t.Fatal("Delete of everything accepted")
	}
}

func TestConcurrentCommits(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	defer s.Close()
	tab, err := Open(ctx, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tab.Close()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 50 {
				if err := tab.Commit(ctx, fmt.Sprint("g", g), "t", int32(i%4), int64(i)); err != nil {
					t.Error(err)
					return
				}
				tab.Fetch("g0", "t", 0)
			}
		})
	}
	wg.Wait()
	for g := range 4 {
		if off, ok := tab.Fetch(fmt.Sprint("g", g), "t", 1); !ok || off != 49 {
			t.Fatalf("g%d queue 1 = %d, %v; want 49", g, off, ok)
		}
	}
}

func FuzzDecodeKey(f *testing.F) {
	f.Add(EncodeKey(nil, Key{"group", "topic", 3}))
	f.Add(EncodeKey(nil, Key{"", "", -1}))
	f.Add([]byte{0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := DecodeKey(b)
		if err != nil {
			return
		}
		if got := EncodeKey(nil, k); string(got) != string(b) {
			// Non-minimal uvarints decode too; re-encoding must round trip.
			if k2, err := DecodeKey(got); err != nil || k2 != k {
				t.Fatalf("round trip %q: %v %v", b, k2, err)
			}
		}
	})
}
