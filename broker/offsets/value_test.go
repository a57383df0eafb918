package offsets

import (
	"context"
	"testing"
)

func TestValueVersions(t *testing.T) {
	for _, v := range []Value{
		{Offset: 5, LeaderEpoch: -1},
		{Offset: 7, LeaderEpoch: 0},
		{Offset: 9, LeaderEpoch: -1, Metadata: "meta"},
		{Offset: -1, LeaderEpoch: 3, Metadata: "x"},
	} {
		b := AppendValue(nil, v)
		if v.LeaderEpoch == -1 && v.Metadata == "" && len(b) != 8 {
			t.Fatalf("%v encoded in %d bytes, want version 1", v, len(b))
		}
		got, err := DecodeValueMeta(b)
		if err != nil || got != v {
			t.Fatalf("decode(encode(%v)) = %v, %v", v, got, err)
		}
	}
	for _, b := range [][]byte{nil, make([]byte, 9), append(make([]byte, 12), 5)} {
		if _, err := DecodeValueMeta(b); err == nil {
			t.Fatalf("DecodeValueMeta(%x) accepted", b)
		}
	}
}

func TestCommitValueReopenAndRemove(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openStore(t, dir)
	tab, err := Open(ctx, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	k := Key{"g", "t", 2}
	want := Value{Offset: 42, LeaderEpoch: 0, Metadata: "hello"}
	if err := tab.CommitValue(ctx, k, want); err != nil {
		t.Fatal(err)
	}
	if err := tab.Commit(ctx, "g", "t", 3, 1); err != nil {
		t.Fatal(err)
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
	if got, ok := tab.FetchValue(k); !ok || got != want {
		t.Fatalf("FetchValue = %v, %v; want %v", got, ok, want)
	}
	if off, ok := tab.Fetch("g", "t", 2); !ok || off != 42 {
		t.Fatalf("Fetch = %d, %v", off, ok)
	}
	if err := tab.Remove(ctx, k); err != nil {
		t.Fatal(err)
	}
	if _, ok := tab.FetchValue(k); ok {
		t.Fatal("removed offset still there")
	}
	if got := tab.List("g", ""); len(got) != 1 || got[0].Queue != 3 {
		t.Fatalf("List = %v", got)
	}
}
