package storage

import (
	"context"
	"strings"
	"testing"

	"github.com/twinmq/twinmq/storage/vfs"
)

// TestPrepareQueues: PrepareQueues creates a topic's queues durably
// before any message, the first messages then create no file or
// directory (that was the produce path's cost, issue 19), and a prepared
// queue reads and recovers like any other.
func TestPrepareQueues(t *testing.T) {
	fs := vfs.NewMem()
	cfg := testConfig(fs)
	s := mustOpen(t, cfg)
	if err := s.PrepareQueues(context.Background(), "T", 40); err != nil { // more than one batch
		t.Fatal(err)
	}
	for _, q := range []int32{0, 39} {
		if min, max, ok := s.Bounds("T", q); !ok || min != 0 || max != 0 {
			t.Fatalf("queue %d: %d, %d, %v; want an empty queue", q, min, max, ok)
		}
	}
	if _, _, ok := s.Bounds("T", 40); ok {
		t.Fatal("queue 40 prepared too")
	}
	// Durable at once: a crash keeps the prepared queues' files.
	crashed := fs.CrashClone(vfs.CrashConfig{})
	if names, err := crashed.List("data/consumequeue/T/39"); err != nil || len(names) != 1 {
		t.Fatalf("after a crash: %v, %v; want the queue's first file", names, err)
	}
	var created []string
	fs.InjectError(func(op vfs.Op, name string) error {
		if (op == vfs.OpCreate || op == vfs.OpMkdir) && strings.HasPrefix(name, "data/consumequeue/") {
			created = append(created, name)
		}
		return nil
	})
	var want [][]byte
	for i := range 10 {
		e := msg("T", 7, i)
		if _, err := s.Append(context.Background(), []Entry{e}); err != nil {
			t.Fatal(err)
		}
		want = append(want, e.Payload)
	}
	waitDispatched(t, s, "T", 7, 10)
	fs.InjectError(nil)
	if len(created) != 0 {
		t.Fatalf("the first messages of a prepared queue created %v", created)
	}
	if got := readAll(t, s, "T", 7); !equalPayloads(got, want) {
		t.Fatalf("read %d messages, want %d", len(got), len(want))
	}
	// Preparing again changes nothing.
	if err := s.PrepareQueues(context.Background(), "T", 40); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, s, "T", 7); !equalPayloads(got, want) {
		t.Fatalf("after preparing again: %d messages, want %d", len(got), len(want))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, cfg)
	defer s.Close()
	if got := readAll(t, s, "T", 7); !equalPayloads(got, want) {
		t.Fatalf("after reopen: %d messages, want %d", len(got), len(want))
	}
	if _, _, ok := s.Bounds("T", 39); !ok {
		t.Fatal("prepared empty queue gone after reopen")
	}
}
