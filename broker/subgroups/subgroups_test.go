package subgroups

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/twinmq/twinmq/storage"
)

func openStore(t *testing.T, dir string) *storage.Store {
	t.Helper()
	st, err := storage.Open(context.Background(), storage.Config{Dir: dir, SegmentSize: 1 << 20, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestRestartAndFollower: a config put, replaced and another deleted is
// what a reopened table and a follower of the same store read back.
func TestRestartAndFollower(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st := openStore(t, dir)
	tb, err := Open(ctx, st, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{`{"groupName":"a","consumeEnable":false}`, `{"groupName":"b","retryMaxTimes":3}`,
		`{"groupName":"a","consumeEnable":false,"retryMaxTimes":5,"attributes":{"k":"v"}}`} {
		c, err := Decode([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		if err := tb.Put(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if ok, err := tb.Delete(ctx, "b"); !ok || err != nil {
		t.Fatalf("delete b: %v %v", ok, err)
	}
	if ok, err := tb.Delete(ctx, "never"); ok || err != nil {
		t.Fatalf("delete of a group without a config: %v %v", ok, err)
	}
	check := func(name string, tb *Table) {
		t.Helper()
		a, ok := tb.Get("a")
		if !ok || a.ConsumeEnable || a.RetryMaxTimes != 5 || a.Attributes["k"] != "v" || !a.ConsumeBroadcastEnable {
			t.Fatalf("%s: a = %+v, %v", name, a, ok)
		}
		if b, ok := tb.Get("b"); ok || b.RetryMaxTimes != 16 || !b.ConsumeEnable {
			t.Fatalf("%s: b = %+v, %v (want the default)", name, b, ok)
		}
		if l := tb.List(); len(l) != 1 || l[0].GroupName != "a" {
			t.Fatalf("%s: list %+v", name, l)
		}
	}
	check("writer", tb)
	f, err := Open(ctx, st, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	check("follower", f)
	if err := f.Put(ctx, Default("x")); !errors.Is(err, ErrFollower) {
		t.Fatalf("follower put: %v", err)
	}
	f.Close()
	tb.Close()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st = openStore(t, dir)
	defer st.Close()
	tb, err = Open(ctx, st, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tb.Close()
	check("reopened", tb)
}

// FuzzDecode: any body decodes to a config with a valid group name or is
// refused with ErrInvalid; never a panic.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{"groupName":"g"}`, `{"groupName":"g","consumeEnable":false,"retryMaxTimes":0,"attributes":null}`,
		`{"groupName":""}`, `{`, `null`, `[]`, `{"groupName":"g","retryMaxTimes":-5}`, `{"groupName":"g","groupRetryPolicy":{"type":"EXPONENTIAL"}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Decode(b)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
			return
		}
		if ValidGroup(c.GroupName) != nil || c.Attributes == nil {
			t.Fatalf("decoded %+v", c)
		}
	})
}
