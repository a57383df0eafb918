package delay

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/twinmq/twinmq/storage"
)

// The tests use a toy payload, "REAL_TOPIC|REAL_QID|body", in place of a
// protocol's encoding: the Scheduler never looks inside payloads.

func toyEntry(t testing.TB, p *Policy, topic string, queue int32, delayLevel int, body string) storage.Entry {
	t.Helper()
	props := map[string]string{PropDelay: strconv.Itoa(delayLevel)}
	pl, err := p.Place(lookup(props), topic, queue, time.Now())
	if err != nil || pl.Route != RouteLevel {
		t.Fatalf("place: %+v %v", pl, err)
	}
	return storage.Entry{
		Kind: storage.KindRocketMQ, Topic: pl.Topic, QueueID: pl.Queue, Count: 1,
		TagsCodes: []int64{pl.DueMs},
		Payload:   fmt.Appendf(nil, "%s|%d|%s@%d", topic, queue, body, pl.DueMs),
	}
}

func toyBuild(e storage.ReadEntry) ([]storage.Entry, error) {
	parts := bytes.SplitN(e.Payload, []byte("|"), 3)
	if len(parts) != 3 {
		return nil, fmt.Errorf("toy payload %q", e.Payload)
	}
	q, err := strconv.Atoi(string(parts[1]))
	if err != nil {
		return nil, err
	}
	return []storage.Entry{{
		Kind: storage.KindRocketMQ, Topic: string(parts[0]), QueueID: int32(q), Count: 1,
		Payload: bytes.Clone(parts[2]),
	}}, nil
}

func openStore(t testing.TB, dir string) *storage.Store {
	t.Helper()
	s, err := storage.Open(context.Background(), storage.Config{
		Dir: dir, Logger: slog.New(slog.DiscardHandler), SegmentSize: 1 << 20,
		ConsumeQueueUnits: 1024, IndexSlots: 64, IndexEntries: 1024,
		FlushInterval: time.Hour, CheckpointInterval: time.Hour, RetentionCheckInterval: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func startScheduler(t testing.TB, st *storage.Store) *Scheduler {
	t.Helper()
	s, err := Start(context.Background(), Config{Store: st, Build: toyBuild, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// arrival is one delivered message and the (bubble) time it was seen.
type arrival struct {
	body string
	due  int64
	seen int64
}

// collect polls (topic, queue) from *off, recording each new message with
// the time it was first seen.
func collect(t testing.TB, st *storage.Store, topic string, queue int32, off *int64, out *[]arrival) {
	t.Helper()
	res, err := st.Read(topic, queue, *off, storage.ReadOptions{})
	if err != nil {
		return // queue not created yet
	}
	defer res.Release()
	for _, e := range res.Entries {
		body, dueStr, _ := bytes.Cut(e.Payload, []byte("@"))
		due, _ := strconv.ParseInt(string(dueStr), 10, 64)
		*out = append(*out, arrival{string(body), due, time.Now().UnixMilli()})
	}
	*off = res.NextOffset
}

// waitFor polls every 10 ms of bubble time until n messages arrived.
func waitFor(t testing.TB, st *storage.Store, topic string, off *int64, out *[]arrival, n int, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for len(*out) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d messages arrived in %v", len(*out), n, limit)
		}
		time.Sleep(10 * time.Millisecond)
		collect(t, st, topic, 0, off, out)
	}
}

func checkNotEarly(t testing.TB, got []arrival) {
	t.Helper()
	for _, a := range got {
		if a.seen < a.due {
			t.Errorf("%s delivered at %d, before its due time %d", a.body, a.seen, a.due)
		}
	}
}

func TestSchedulerDeliversLevelsWhenDue(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		st := openStore(t, dir)
		defer st.Close()
		s := startScheduler(t, st)
		defer s.Close()
		p := Policy{}
		p.Validate()
		var entries []storage.Entry
		for i := range 10 {
			entries = append(entries, toyEntry(t, &p, "Real", 0, 1+i%2, fmt.Sprint("m", i)))
		}
		if _, err := st.Append(context.Background(), entries[:5]); err != nil {
			t.Fatal(err)
		}
		time.Sleep(500 * time.Millisecond)
		if p1, p2 := s.Pending(1), s.Pending(2); p1 != 3 || p2 != 2 {
			t.Fatalf("pending before the first due time: %d %d, want 3 2", p1, p2)
		}
		// More messages while the scheduler waits: they wake it through
		// Notify.
		for i := range 5 {
			entries[5+i] = toyEntry(t, &p, "Real", 0, 1+i%2, fmt.Sprint("n", i))
		}
		if _, err := st.Append(context.Background(), entries[5:]); err != nil {
			t.Fatal(err)
		}
		var got []arrival
		var off int64
		waitFor(t, st, "Real", &off, &got, 10, time.Minute)
		checkNotEarly(t, got)
		time.Sleep(10 * time.Second)
		collect(t, st, "Real", 0, &off, &got)
		if len(got) != 10 {
			t.Fatalf("%d deliveries, want 10: %v", len(got), got)
		}
		if s.Progress(1) != 6 || s.Progress(2) != 4 {
			t.Fatalf("progress %d %d, want 6 4", s.Progress(1), s.Progress(2))
		}
		if s.Fired(1) != 6 || s.Fired(2) != 4 || s.Pending(1) != 0 || s.Pending(2) != 0 || s.Pending(3) != 0 {
			t.Fatalf("fired %d %d, pending %d %d %d: want 6 4, 0 0 0", s.Fired(1), s.Fired(2), s.Pending(1), s.Pending(2), s.Pending(3))
		}
	})
}

func TestSchedulerRestart(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		p := Policy{}
		p.Validate()
		st := openStore(t, dir)
		s := startScheduler(t, st)
		// Level 1 is delivered before the stop; level 2 and level 3 are
		// pending across it, and level 2 falls due while the broker is down.
		var entries []storage.Entry
		for i := range 3 {
			entries = append(entries, toyEntry(t, &p, "Real", 0, 1, fmt.Sprint("a", i)),
				toyEntry(t, &p, "Real", 0, 2, fmt.Sprint("b", i)), toyEntry(t, &p, "Real", 0, 3, fmt.Sprint("c", i)))
		}
		if _, err := st.Append(context.Background(), entries); err != nil {
			t.Fatal(err)
		}
		var got []arrival
		var off int64
		waitFor(t, st, "Real", &off, &got, 3, time.Minute)
		s.Close()
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}

		time.Sleep(7 * time.Second) // down: level 2 falls due
		st = openStore(t, dir)
		defer st.Close()
		s = startScheduler(t, st)
		defer s.Close()
		waitFor(t, st, "Real", &off, &got, 9, time.Minute)
		time.Sleep(time.Minute)
		collect(t, st, "Real", 0, &off, &got)
		checkNotEarly(t, got)
		seen := map[string]int{}
		for _, a := range got {
			seen[a.body]++
		}
		if len(got) != 9 || len(seen) != 9 {
			t.Fatalf("deliveries %v, want each of 9 once", got)
		}
		if s.Progress(1) != 3 || s.Progress(2) != 3 || s.Progress(3) != 3 {
			t.Fatalf("progress %d %d %d", s.Progress(1), s.Progress(2), s.Progress(3))
		}
	})
}

// TestSchedulerDropsUndecodable keeps a level moving past a message its
// Build rejects.
func TestSchedulerDropsUndecodable(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		st := openStore(t, dir)
		defer st.Close()
		s := startScheduler(t, st)
		defer s.Close()
		p := Policy{}
		p.Validate()
		bad := toyEntry(t, &p, "Real", 0, 1, "x")
		bad.Payload = []byte("garbage")
		good := toyEntry(t, &p, "Real", 0, 1, "ok")
		if _, err := st.Append(context.Background(), []storage.Entry{bad, good}); err != nil {
			t.Fatal(err)
		}
		var got []arrival
		var off int64
		waitFor(t, st, "Real", &off, &got, 1, time.Minute)
		if len(got) != 1 || got[0].body != "ok" {
			t.Fatalf("got %v", got)
		}
	})
}
