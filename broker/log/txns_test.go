package log

import (
	"context"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// txnTestLoader reads the test entries: "b<pid>" a transactional batch,
// "c<pid>" a COMMIT marker, "a<pid>" an ABORT marker, anything else plain.
func txnTestLoader(e *Entry) (TxnBatch, bool) {
	p := string(e.Payload)
	if len(p) < 2 || !strings.Contains("bca", p[:1]) {
		return TxnBatch{}, false
	}
	pid, err := strconv.ParseInt(p[1:], 10, 64)
	if err != nil {
		return TxnBatch{}, false
	}
	return TxnBatch{ProducerID: pid, Marker: p[0] != 'b', Abort: p[0] == 'a'}, true
}

// TestTxnsStable: the LSO stops at the oldest open transaction, the
// aborted list names what read_committed readers skip, and a fresh index
// rebuilt from the log after a restart says the same; a read with Until
// stops before the LSO.
func TestTxnsStable(t *testing.T) {
	s := openStore(t)
	l := New(s)
	ctx := context.Background()
	k := PartKey{Queue: 0}
	live := NewTxns(s, 1000, txnTestLoader)
	// offsets: 0 plain, 1 b7, 2 b8, 3 a7 (abort 7), 4 plain, 5 b8, 6 c8, 7 b9 (open)
	for _, p := range []string{"x", "b7", "b8", "a7", "x", "b8", "c8", "b9"} {
		m := Message{Kind: KindKafka, Topic: "t", Count: 1, Payload: []byte(p)}
		if tb, ok := txnTestLoader(&Entry{Payload: []byte(p)}); ok {
			if err := live.Load(k, "t"); err != nil {
				t.Fatal(err)
			}
			m.Encode = func(_ []byte, _, offset, _ int64) {
				if tb.Marker {
					live.End(k, tb.ProducerID, offset, tb.Abort)
				} else {
					live.Begin(k, tb.ProducerID, offset)
				}
			}
		}
		if _, err := l.Append(ctx, []Message{m}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.WaitVisible(ctx, "t", 0, 7); err != nil {
		t.Fatal(err)
	}
	want := []AbortedTxn{{ProducerID: 7, FirstOffset: 1, LastOffset: 3}}
	for name, x := range map[string]*Txns{"live": live, "rebuilt": NewTxns(s, 1000, txnTestLoader)} {
		lso, aborted, err := x.Stable(k, "t", 0, 0, 8)
		if err != nil || lso != 7 || !reflect.DeepEqual(aborted, want) {
			t.Fatalf("%s: lso %d aborted %+v err %v", name, lso, aborted, err)
		}
		if _, aborted, _ := x.Stable(k, "t", 0, 4, 8); len(aborted) != 0 {
			t.Fatalf("%s: aborted from 4: %+v", name, aborted)
		}
	}
	rd, err := l.Read("t", 0, 4, ReadOptions{MaxBytes: 1 << 20, Until: 7})
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Release()
	if len(rd.Entries) != 3 || rd.Next != 7 {
		t.Fatalf("read until 7: %d entries, next %d", len(rd.Entries), rd.Next)
	}
	// A marker written again (a coordinator retrying after a restart)
	// changes nothing; retention past the marker drops the entry.
	live.End(k, 7, 9, true)
	if _, aborted, _ := live.Stable(k, "t", 4, 0, 8); len(aborted) != 0 {
		t.Fatalf("aborted after retention: %+v", aborted)
	}
}

// TestTxnsRebuildWithLiveEvents: the Begin and End of appends made while a
// partition's index is rebuilt are applied after what the rebuild read,
// once: those of entries the rebuild read are not applied twice (no
// duplicate aborted transaction, no transaction reopened).
func TestTxnsRebuildWithLiveEvents(t *testing.T) {
	s := openStore(t)
	l := New(s)
	ctx := context.Background()
	for _, p := range []string{"x", "b7", "a7", "x"} { // offsets 0-3
		if _, err := l.Append(ctx, []Message{{Kind: KindKafka, Topic: "t", Count: 1, Payload: []byte(p)}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.WaitVisible(ctx, "t", 0, 3); err != nil {
		t.Fatal(err)
	}
	k := PartKey{}
	x := NewTxns(s, 1000, txnTestLoader)
	// As if a rebuild were running: the partition is known, not loaded.
	x.parts[k] = &txnPart{open: map[int64]int64{}}
	x.Begin(k, 7, 1)     // read by the rebuild too
	x.End(k, 7, 2, true) // read by the rebuild too
	x.Begin(k, 9, 5)     // past what the rebuild reads
	lso, aborted, err := x.Stable(k, "t", 0, 0, 6)
	if err != nil {
		t.Fatal(err)
	}
	if want := []AbortedTxn{{ProducerID: 7, FirstOffset: 1, LastOffset: 2}}; lso != 5 || !reflect.DeepEqual(aborted, want) {
		t.Fatalf("lso %d, aborted %+v", lso, aborted)
	}
}
