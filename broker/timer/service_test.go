package timer

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/twinmq/twinmq/broker/delay"
	"github.com/twinmq/twinmq/storage"
)

// Toy payload "REAL_TOPIC|REAL_QID|body@dueMs": the Service never looks
// inside payloads; the adapters' Build does.

func timerEntry(t testing.TB, topic string, delayMs int64, body string) storage.Entry {
	t.Helper()
	p := delay.Policy{TimerPrecision: time.Millisecond}
	p.Validate()
	lookup := func(k string) (string, bool) {
		if k == delay.PropTimerDelayMs {
			return strconv.FormatInt(delayMs, 10), true
		}
		return "", false
	}
	pl, err := p.Place(lookup, topic, 0, time.Now())
	if err != nil || pl.Route != delay.RouteTimer {
		t.Fatalf("place: %+v %v", pl, err)
	}
	return storage.Entry{
		Kind: storage.KindRocketMQ, Topic: pl.Topic, QueueID: pl.Queue, Count: 1, TagsCodes: []int64{pl.DueMs},
		Payload: fmt.Appendf(nil, "%s|0|%s@%d", topic, body, pl.DueMs),
	}
}

func toyBuild(e storage.ReadEntry) ([]storage.Entry, error) {
	parts := bytes.SplitN(e.Payload, []byte("|"), 3)
	if len(parts) != 3 {
		return nil, fmt.Errorf("toy payload %q", e.Payload)
	}
	return []storage.Entry{{Kind: storage.KindRocketMQ, Topic: string(parts[0]), Count: 1, Payload: bytes.Clone(parts[2])}}, nil
}

func openStore(t testing.TB, dir string) *storage.Store {
	t.Helper()
	s, err := storage.Open(context.Background(), storage.Config{
		Dir: dir, Logger: slog.New(slog.DiscardHandler), SegmentSize: 64 << 20,
		IndexSlots: 64, IndexEntries: 1024,
		FlushInterval: time.Hour, CheckpointInterval: time.Hour, RetentionCheckInterval: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func startService(t testing.TB, st *storage.Store, build delay.Build) *Service {
	t.Helper()
	s, err := Start(context.Background(), Config{Store: st, Build: build, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type arrival struct {
	body      string
	due, seen int64
}

// poll reads new messages of topic/0; seen is the delivered entry's store
// time, when the Service re-stored it.
func poll(st *storage.Store, topic string, off *int64, out *[]arrival) {
	res, err := st.Read(topic, 0, *off, storage.ReadOptions{})
	if err != nil {
		return
	}
	defer res.Release()
	for _, e := range res.Entries {
		body, due, _ := bytes.Cut(e.Payload, []byte("@"))
		d, _ := strconv.ParseInt(string(due), 10, 64)
		*out = append(*out, arrival{string(body), d, e.StoreTime})
	}
	*off = res.NextOffset
}

func waitN(t testing.TB, st *storage.Store, topic string, off *int64, out *[]arrival, n int) {
	t.Helper()
	deadline := time.Now().Add(time.Hour)
	for len(*out) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d arrived", len(*out), n)
		}
		time.Sleep(5 * time.Millisecond)
		poll(st, topic, off, out)
	}
}

// check: never before due, and (in the bubble, where only the broker's own
// work takes time) within 100 ms of it.
func check(t testing.TB, got []arrival) {
	t.Helper()
	seen := map[string]bool{}
	for _, a := range got {
		if a.seen < a.due {
			t.Errorf("%s arrived at %d, before %d", a.body, a.seen, a.due)
		}
		if a.seen > a.due+100 {
			t.Errorf("%s arrived at %d, %d ms late", a.body, a.seen, a.seen-a.due)
		}
		if seen[a.body] {
			t.Errorf("%s arrived twice", a.body)
		}
		seen[a.body] = true
	}
}

func TestServiceFiresAtTime(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		st := openStore(t, dir)
		defer st.Close()
		s := startService(t, st, toyBuild)
		defer s.Close()
		rng := rand.New(rand.NewPCG(1, 2))
		n := 0
		for round := range 5 {
			var entries []storage.Entry
			for range 40 {
				// Short delays land in slots already loaded; long ones in
				// chains on disk.
				d := 1 + rng.Int64N(10_000)
				entries = append(entries, timerEntry(t, "Real", d, fmt.Sprint("t", n)))
				n++
			}
			if _, err := st.Append(context.Background(), entries); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Duration(round) * 700 * time.Millisecond)
		}
		var got []arrival
		var off int64
		waitN(t, st, "Real", &off, &got, n)
		time.Sleep(20 * time.Second)
		poll(st, "Real", &off, &got)
		if len(got) != n {
			t.Fatalf("%d arrivals, want %d", len(got), n)
		}
		check(t, got)
		if st := s.Stats(); st.Fired != int64(n) || st.PendingSlots != 0 || st.InHeap != 0 {
			t.Fatalf("stats %+v", st)
		}
	})
}

func TestServiceRestart(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		st := openStore(t, dir)
		s := startService(t, st, toyBuild)
		var entries []storage.Entry
		for i := range 30 {
			entries = append(entries, timerEntry(t, "Real", int64(500+i*1000), fmt.Sprint("r", i)))
		}
		if _, err := st.Append(context.Background(), entries); err != nil {
			t.Fatal(err)
		}
		var got []arrival
		var off int64
		waitN(t, st, "Real", &off, &got, 5) // some fire before the stop
		s.Close()
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Second) // down: more fall due
		st = openStore(t, dir)
		defer st.Close()
		s = startService(t, st, toyBuild)
		defer s.Close()
		waitN(t, st, "Real", &off, &got, 30)
		time.Sleep(time.Minute)
		poll(st, "Real", &off, &got)
		seen := map[string]int{}
		for _, a := range got {
			seen[a.body]++
			if a.seen < a.due {
				t.Errorf("%s early", a.body)
			}
		}
		if len(got) != 30 || len(seen) != 30 {
			t.Fatalf("%d arrivals of %d timers, want each of 30 once", len(got), len(seen))
		}
	})
}
