package log

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

// TestRead: a reader sees [Start, End), End the visible end, whatever it
// asks for; out-of-range offsets and unwritten queues are errors a
// protocol can answer with.
func TestRead(t *testing.T) {
	s := openStore(t)
	l := New(s)
	ctx := context.Background()
	var entries []Message
	for i := range 5 {
		entries = append(entries, Message{Kind: KindRocketMQ, Topic: "t", Count: 1, Payload: fmt.Appendf(nil, "m%d", i)})
	}
	entries = append(entries, Message{Kind: KindKafka, Topic: "t", Count: 3, Payload: []byte("batch")})
	pos, err := l.Append(ctx, entries)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.WaitVisible(ctx, "t", 0, pos[len(pos)-1].QueueOffset+2); err != nil {
		t.Fatal(err)
	}
	if start, end, err := l.Range("t", 0); err != nil || start != 0 || end != 8 {
		t.Fatalf("Range = %d, %d, %v; want 0, 8", start, end, err)
	}

	rd, err := l.Read("t", 0, 1, ReadOptions{MaxEntries: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(rd.Entries) != 5 || rd.Next != 8 || rd.Start != 0 || rd.End != 8 {
		t.Fatalf("read from 1: %d entries, next %d, range [%d, %d)", len(rd.Entries), rd.Next, rd.Start, rd.End)
	}
	if e := rd.Entries[0]; e.Kind != KindRocketMQ || e.QueueOffset != 1 || string(e.Payload) != "m1" {
		t.Fatalf("first entry %+v", e)
	}
	if e := rd.Entries[4]; e.Kind != KindKafka || e.QueueOffset != 5 || e.Count != 3 || string(e.Payload) != "batch" {
		t.Fatalf("last entry %+v", e)
	}
	phys := rd.Entries[4].Phys
	hold := rd.Hold()
	rd.Release()
	hold.Release()

	if got, _, _, err := l.EntryAt("t", 0, 6); err != nil || got != phys {
		t.Fatalf("EntryAt(6) = %d, %v; want the batch's %d", got, err, phys)
	}

	rd, err = l.Read("t", 0, 8, ReadOptions{})
	if err != nil || len(rd.Entries) != 0 || rd.Next != 8 {
		t.Fatalf("read at the end: %v, %+v", err, rd)
	}
	rd.Release()

	for _, off := range []int64{-1, 9} {
		_, err = l.Read("t", 0, off, ReadOptions{})
		var oe *OffsetError
		if !errors.As(err, &oe) || !errors.Is(err, ErrOffsetOutOfRange) || oe.Start != 0 || oe.End != 8 {
			t.Fatalf("read at %d: %v", off, err)
		}
	}
	if _, _, _, err := l.EntryAt("t", 0, 8); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("EntryAt(end) = %v", err)
	}
	if _, err := l.Read("t", 1, 0, ReadOptions{}); !errors.Is(err, ErrQueueNotFound) {
		t.Fatalf("read of an unwritten queue: %v", err)
	}
	if _, _, err := l.Range("t", 1); !errors.Is(err, ErrQueueNotFound) {
		t.Fatalf("Range of an unwritten queue: %v", err)
	}
}
