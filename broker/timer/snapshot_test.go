package timer

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"testing"
	"testing/synctest"
	"time"

	"github.com/twinmq/twinmq/storage"
)

func TestSnapshotRoundTrip(t *testing.T) {
	r := snapRec{ingestedTo: 42, heads: map[int64]int64{7: 100, 9: 200}, fired: map[int64][]int64{7: {3, 4}}}
	got, err := decodeSnapshot(appendSnapshot(nil, r))
	if err != nil || !reflect.DeepEqual(got, r) {
		t.Fatalf("snapshot %+v %v", got, err)
	}
	empty := snapRec{heads: map[int64]int64{}, fired: map[int64][]int64{}}
	if got, err := decodeSnapshot(appendSnapshot(nil, empty)); err != nil || !reflect.DeepEqual(got, empty) {
		t.Fatalf("empty snapshot %+v %v", got, err)
	}
	b := appendSnapshot(nil, r)
	for n := range len(b) {
		if _, err := decodeSnapshot(b[:n]); err == nil {
			t.Fatalf("truncated to %d bytes decoded", n)
		}
	}
}

func FuzzDecodeSnapshot(f *testing.F) {
	f.Add(appendSnapshot(nil, snapRec{ingestedTo: 1, heads: map[int64]int64{1: 2}, fired: map[int64][]int64{1: {5}}}))
	f.Add(appendSnapshot(nil, snapRec{}))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeSnapshot(b)
		if err != nil {
			return
		}
		again, err := decodeSnapshot(appendSnapshot(nil, r))
		if err != nil || !reflect.DeepEqual(again, r) {
			t.Fatalf("decode(encode(x)) != x: %+v %v", again, err)
		}
	})
}

// TestServiceSnapshotBoundsReplay: with a snapshot every few records, a
// restart replays only the last snapshot and the records after it (the
// timer log's start moved), and still fires every timer once, none early.
func TestServiceSnapshotBoundsReplay(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		start := func(st *storage.Store) *Service {
			s, err := Start(context.Background(), Config{Store: st, Build: toyBuild, Logger: slog.New(slog.DiscardHandler),
				SnapshotEvery: 4, IngestBatch: 3, FireBatch: 2})
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		st := openStore(t, dir)
		s := start(st)
		for i := range 20 {
			e := timerEntry(t, "Real", int64(300+i*700), fmt.Sprint("s", i))
			if _, err := st.Append(context.Background(), []storage.Entry{e}); err != nil {
				t.Fatal(err)
			}
		}
		var got []arrival
		var off int64
		waitN(t, st, "Real", &off, &got, 6)
		s.Close()
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(3 * time.Second)
		st = openStore(t, dir)
		defer st.Close()
		if min, err := st.MinOffset(LogTopic, 0); err != nil || min == 0 {
			t.Fatalf("timer log starts at %d (%v): no snapshot moved it", min, err)
		}
		s = start(st)
		defer s.Close()
		if n := s.Stats().Replayed; n > 4 {
			t.Errorf("replayed %d records, want at most a snapshot's worth", n)
		}
		waitN(t, st, "Real", &off, &got, 20)
		time.Sleep(time.Minute)
		poll(st, "Real", &off, &got)
		seen := map[string]int{}
		for _, a := range got {
			seen[a.body]++
			if a.seen < a.due {
				t.Errorf("%s early", a.body)
			}
		}
		if len(got) != 20 || len(seen) != 20 {
			t.Fatalf("%d arrivals of %d timers, want each of 20 once", len(got), len(seen))
		}
	})
}
