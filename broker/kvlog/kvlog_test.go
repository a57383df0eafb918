package kvlog

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"testing"

	"github.com/twinmq/twinmq/storage"
)

func openStore(t *testing.T, dir string) *storage.Store {
	t.Helper()
	s, err := storage.Open(context.Background(), storage.Config{Dir: dir, SegmentSize: 1 << 20,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestPutDeleteCompactReopen: the table after a reopen is the table before
// it, whatever mix of puts, overwrites, deletes and compactions led there.
func TestPutDeleteCompactReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openStore(t, dir)
	l, err := Open(ctx, s, Options{Topic: "__twinmq_test"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{}
	for i := range 200 {
		k := fmt.Sprint("k", i%37)
		switch {
		case i%11 == 0:
			if err := l.Delete(ctx, k); err != nil {
				t.Fatal(err)
			}
			delete(want, k)
		default:
			v := fmt.Appendf(nil, "v%d", i)
			if err := l.Put(ctx, k, v); err != nil {
				t.Fatal(err)
			}
			want[k] = v
		}
		if i == 120 {
			if err := l.Compact(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	check := func(l *Log, when string) {
		t.Helper()
		got := l.Snapshot()
		if len(got) != len(want) {
			t.Fatalf("%s: %d keys, want %d", when, len(got), len(want))
		}
		for k, v := range want {
			if g, ok := l.Get(k); !ok || !bytes.Equal(g, v) {
				t.Fatalf("%s: %s = %q, want %q", when, k, g, v)
			}
		}
	}
	check(l, "before reopen")
	l.Close()
	s.Close()
	s = openStore(t, dir)
	defer s.Close()
	l, err = Open(ctx, s, Options{Topic: "__twinmq_test"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	check(l, "after reopen")
	if min, _ := s.MinOffset("__twinmq_test", 0); min == 0 {
		t.Fatal("compaction did not move the queue's start")
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(encode(opPut, "key", []byte("value")))
	f.Add(encode(opDelete, "key", nil))
	f.Add([]byte{recordVersion})
	f.Fuzz(func(t *testing.T, b []byte) {
		op, k, v, err := decode(b)
		if err != nil {
			return
		}
		if again := encode(op, k, v); !bytes.Equal(again, b) {
			t.Fatalf("decode/encode mismatch: %x != %x", again, b)
		}
	})
}
