package pop

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestQueueSettle: a step with one bad settlement changes nothing; a
// good one accepts, rejects, releases (deliverable at once, one more
// delivery next time) and renews.
func TestQueueSettle(t *testing.T) {
	q := NewQueue(0)
	locks := q.Take([]int64{0, 1, 2, 3}, 4, 1000, 500)
	bad := []struct {
		name string
		ops  []Op
		want error
	}{
		{"not held", []Op{{Offset: 0, Serial: locks[0].Serial, Kind: OpAccept}, {Offset: 7, Serial: 1, Kind: OpAccept}}, ErrNotHeld},
		{"another lock", []Op{{Offset: 0, Serial: locks[0].Serial, Kind: OpAccept}, {Offset: 1, Serial: locks[0].Serial, Kind: OpAccept}}, ErrLockExpired},
		{"twice", []Op{{Offset: 0, Serial: locks[0].Serial, Kind: OpAccept}, {Offset: 0, Serial: locks[0].Serial, Kind: OpReject}}, ErrDuplicateOp},
	}
	for _, c := range bad {
		if err := q.Settle(c.ops, 1100); !errors.Is(err, c.want) {
			t.Fatalf("%s: %v, want %v", c.name, err, c.want)
		}
		if len(q.InFlight) != 4 {
			t.Fatalf("%s: a refused step changed the state: %d in flight", c.name, len(q.InFlight))
		}
	}
	// Expired locks are refused.
	if err := q.Settle([]Op{{Offset: 0, Serial: locks[0].Serial, Kind: OpAccept}}, 1500); !errors.Is(err, ErrLockExpired) {
		t.Fatalf("expired: %v", err)
	}
	err := q.Settle([]Op{
		{Offset: 0, Serial: locks[0].Serial, Kind: OpAccept},
		{Offset: 1, Serial: locks[1].Serial, Kind: OpReject},
		{Offset: 2, Serial: locks[2].Serial, Kind: OpRelease},
		{Offset: 3, Serial: locks[3].Serial, Kind: OpRenew, Invisible: 10_000},
	}, 1100)
	if err != nil {
		t.Fatal(err)
	}
	if q.Acked != 2 || len(q.InFlight) != 2 {
		t.Fatalf("acked %d in flight %v", q.Acked, q.InFlight)
	}
	if got := q.Expired(1100, 10); len(got) != 1 || got[0] != 2 {
		t.Fatalf("released record not deliverable at once: %v", got)
	}
	if l := q.InFlight[3]; l.Deadline != 11_100 || l.Serial != locks[3].Serial {
		t.Fatalf("renewed lock %+v", l)
	}
	// The releasing holder's lock is gone.
	if err := q.Settle([]Op{{Offset: 2, Serial: locks[2].Serial, Kind: OpAccept}}, 1100); !errors.Is(err, ErrLockExpired) {
		t.Fatalf("settle after release: %v", err)
	}
	if l, err := q.Redeliver(2, 1100, 500); err != nil || l.Attempts != 2 {
		t.Fatalf("redeliver after release: %+v %v", l, err)
	}
}

// TestEngineShareLimit: with a source's own MaxAttempts, a record
// released at every delivery is delivered that many times, then done
// (Dead called once), and a Settle survives a restart.
func TestEngineShareLimit(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	clk := &clock{t: time.UnixMilli(1_000_000)}
	store := openStore(t, dir)
	e, err := Open(ctx, store, Options{Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	src := &sliceSource{n: 2}
	s := src.src()
	s.MaxAttempts = 3
	k := Key{Group: "share", Topic: "t", Queue: 0}
	for i := 1; i <= 3; i++ {
		ds, err := Acquire(ctx, e, k, 10, time.Minute, s)
		if err != nil || len(ds) == 0 || ds[0].Offset != 0 || ds[0].Lock.Attempts != int32(i) {
			t.Fatalf("delivery %d: %+v %v", i, ds, err)
		}
		ops := []Op{{Offset: 0, Serial: ds[0].Lock.Serial, Kind: OpRelease}}
		if i == 1 {
			ops = append(ops, Op{Offset: 1, Serial: ds[1].Lock.Serial, Kind: OpAccept})
		}
		if err := e.Settle(ctx, k, ops); err != nil {
			t.Fatal(err)
		}
	}
	e.Close()
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	store = openStore(t, dir)
	defer store.Close()
	e, err = Open(ctx, store, Options{Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ds, err := Acquire(ctx, e, k, 10, time.Minute, s)
	if err != nil || len(ds) != 0 || len(src.dead) != 1 {
		t.Fatalf("past the limit: %+v %v dead %v", ds, err, src.dead)
	}
	if st, _ := e.Status(k); st.Acked != 2 || st.InFlight != 0 {
		t.Fatalf("status %+v", st)
	}
	if err := e.SetGroupConfig(ctx, "share", map[string]string{"share.auto.offset.reset": "earliest"}); err != nil {
		t.Fatal(err)
	}
	if got := e.GroupConfig("share")["share.auto.offset.reset"]; got != "earliest" {
		t.Fatalf("config %q", got)
	}
	if ks := e.Keys("share"); len(ks) != 1 || ks[0] != k {
		t.Fatalf("keys %v", ks)
	}
	if err := e.Reset(ctx, k, 1); err != nil {
		t.Fatal(err)
	}
	if st, _ := e.Status(k); st.Acked != 1 || st.Next != 1 {
		t.Fatalf("after reset %+v", st)
	}
	if err := e.Forget(ctx, k); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.Status(k); ok || len(e.Keys("share")) != 0 {
		t.Fatal("state left after Forget")
	}
}

// FuzzGroupConfig: any stored bytes decode without panic, and what they
// decode to encodes and decodes to the same configs.
func FuzzGroupConfig(f *testing.F) {
	f.Add([]byte("share.auto.offset.reset=earliest\nshare.record.lock.duration.ms=15000\n"))
	f.Add([]byte("a=b=c\n=x\nnoequals\n\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg := decodeGroupConfig(b)
		enc, err := appendGroupConfig(nil, cfg)
		if err != nil {
			t.Fatalf("decoded configs do not encode: %v", err)
		}
		again := decodeGroupConfig(enc)
		if len(again) != len(cfg) {
			t.Fatalf("round trip: %q -> %q", cfg, again)
		}
		for k, v := range cfg {
			if again[k] != v {
				t.Fatalf("round trip of %q: %q, want %q", k, again[k], v)
			}
		}
	})
}
