package storage

import (
	"context"
	"errors"
	"log/slog"
	"path"
	"sync"
	"testing"
	"time"

	"github.com/twinmq/twinmq/storage/vfs"
)

// recordLog keeps the messages of the records logged at ERROR.
type recordLog struct {
	mu   sync.Mutex
	msgs []string
	args []map[string]any
}

func (h *recordLog) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelError }
func (h *recordLog) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	args := map[string]any{}
	r.Attrs(func(a slog.Attr) bool { args[a.Key] = a.Value.Any(); return true })
	h.msgs, h.args = append(h.msgs, r.Message), append(h.args, args)
	return nil
}
func (h *recordLog) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordLog) WithGroup(string) slog.Handler      { return h }

func (h *recordLog) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.msgs)
}

// TestRepeatLog: a recurring error is logged the first time, then once per
// repeatLogInterval with its count of repeats; another message is its
// own.
func TestRepeatLog(t *testing.T) {
	h := &recordLog{}
	log := slog.New(h)
	var r repeatLog
	t0 := time.Unix(1_700_000_000, 0)
	for s := range 150 { // one a second for 150 s
		r.error(log, t0.Add(time.Duration(s)*time.Second), "fsync failed")
	}
	r.error(log, t0, "checkpoint failed")
	want := []string{"fsync failed", "fsync failed", "fsync failed", "checkpoint failed"}
	if len(h.msgs) != len(want) {
		t.Fatalf("logged %v, want %v", h.msgs, want)
	}
	for i, m := range want {
		if h.msgs[i] != m {
			t.Fatalf("logged %v, want %v", h.msgs, want)
		}
	}
	if h.args[1]["repeats"] != int64(60) || h.args[2]["repeats"] != int64(60) {
		t.Fatalf("reminders say %v and %v repeats, want 60 each", h.args[1]["repeats"], h.args[2]["repeats"])
	}
}

// TestFailedFsyncLoggedOnce: after a failed fsync every periodic flush and
// checkpoint fails again; they are logged once each, not every time.
func TestFailedFsyncLoggedOnce(t *testing.T) {
	fs := vfs.NewMem()
	cfg := testConfig(fs)
	h := &recordLog{}
	cfg.Logger = slog.New(h)
	cfg.FlushInterval, cfg.CheckpointInterval = time.Millisecond, time.Millisecond
	now := time.Unix(1_700_000_000, 0)
	cfg.Now = func() time.Time { return now } // no reminder comes due
	s := mustOpen(t, cfg)
	defer s.Close()
	fs.InjectError(func(op vfs.Op, name string) error {
		if op == vfs.OpSync && path.Dir(name) == "data/commitlog" {
			return errors.New("injected EIO")
		}
		return nil
	})
	if _, err := s.Append(context.Background(), []Entry{msg("T", 0, 0)}); err != nil {
		t.Fatal(err) // ASYNC_FLUSH: written; the flush fails later
	}
	start := s.flushes.Load()
	deadline := time.Now().Add(20 * time.Second)
	for s.flushes.Load() < start+100 {
		if time.Now().After(deadline) {
			t.Fatalf("%d flushes in 20 s", s.flushes.Load()-start)
		}
		time.Sleep(time.Millisecond)
	}
	if n := h.count(); n == 0 || n > 2 {
		h.mu.Lock()
		defer h.mu.Unlock()
		t.Fatalf("%d failing flushes logged %d errors: %v", s.flushes.Load()-start, n, h.msgs)
	}
}
