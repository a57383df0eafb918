package storage

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twinmq/twinmq/storage/vfs"
)

// TestDiskFullRefusesAndResumes: while CommitLog writes fail with ENOSPC,
// appends are refused with ErrNoSpace and the store does not fail; once
// space returns, appends resume by themselves, every acknowledged entry
// is readable in order with consecutive offsets, before and after a
// reopen, and no refused entry appears.
func TestDiskFullRefusesAndResumes(t *testing.T) {
	for _, tc := range []struct {
		name      string
		mode      FlushDiskType
		zeroAhead int64
		all       bool // every write fails, derived data and checkpoint too
	}{
		{"async/zero-ahead", AsyncFlush, 0, false},
		{"async/no-zero-ahead", AsyncFlush, -1, false},
		{"sync/zero-ahead", SyncFlush, 0, false},
		{"sync/no-zero-ahead", SyncFlush, -1, false},
		{"async/everything", AsyncFlush, 0, true},
		{"sync/everything", SyncFlush, -1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := vfs.NewMem()
			cfg := testConfig(fs)
			cfg.FlushDiskType = tc.mode
			cfg.ZeroAhead = tc.zeroAhead
			cfg.CheckpointInterval = 2 * time.Millisecond // the guard looks again at each
			if os.Getenv("DF_DEBUG") != "" {
				cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
			}
			s := mustOpen(t, cfg)
			defer s.Close()
			ctx := context.Background()
			var want [][]byte
			i := 0
			appendOne := func() error {
				e := msg("T", 0, i)
				i++
				pos, err := s.Append(ctx, []Entry{e})
				if err == nil {
					if pos[0].QueueOffset != int64(len(want)) {
						t.Fatalf("acknowledged at offset %d, want %d", pos[0].QueueOffset, len(want))
					}
					want = append(want, e.Payload)
				}
				return err
			}
			for range 20 {
				if err := appendOne(); err != nil {
					t.Fatal(err)
				}
			}
			var full atomic.Bool
			full.Store(true)
			fs.InjectError(func(op vfs.Op, name string) error {
				hit := path.Dir(name) == "data/commitlog"
				if tc.all {
					hit = strings.HasPrefix(name, "data/") && (op == vfs.OpCreate || op == vfs.OpTruncate)
				}
				if full.Load() && (op == vfs.OpWrite || tc.all && hit) && (hit || tc.all && strings.HasPrefix(name, "data/")) {
					return &pathError{name: name, err: syscall.ENOSPC}
				}
				return nil
			})
			// Appends go on into space written before, then are refused.
			refused := 0
			for n := 0; refused < 5; n++ {
				if n > 10_000 {
					t.Fatal("no append refused on a full disk")
				}
				err := appendOne()
				switch {
				case err == nil && refused == 0:
				case errors.Is(err, ErrNoSpace):
					refused++
				default:
					t.Fatalf("append %d on a full disk: %v (refused %d before)", n, err, refused)
				}
			}
			if err := s.Stats().Err; err != nil {
				t.Fatalf("a full disk failed the store: %v", err)
			}
			full.Store(false)
			waitUntil(t, func() bool {
				err := appendOne()
				if err != nil && !errors.Is(err, ErrNoSpace) {
					t.Fatalf("append after space returned: %v", err)
				}
				return err == nil
			})
			for range 20 {
				if err := appendOne(); err != nil {
					t.Fatal(err)
				}
			}
			waitDispatched(t, s, "T", 0, int64(len(want)))
			if got := readAll(t, s, "T", 0); !equalPayloads(got, want) {
				t.Fatalf("read %d entries, want the %d acknowledged", len(got), len(want))
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = mustOpen(t, cfg)
			if got := readAll(t, s, "T", 0); !equalPayloads(got, want) {
				t.Fatalf("after reopen: read %d entries, want the %d acknowledged", len(got), len(want))
			}
		})
	}
}

type pathError struct {
	name string
	err  error
}

func (e *pathError) Error() string { return "write " + e.name + ": " + e.err.Error() }
func (e *pathError) Unwrap() error { return e.err }
