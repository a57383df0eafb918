package storage

import (
	"context"
	"errors"
	"path"
	"testing"

	"github.com/twinmq/twinmq/storage/vfs"
)

// TestRebuiltQueueKeepsRange: a ConsumeQueue that recovery rebuilds from
// the CommitLog gets back the range the checkpoint recorded, not the one
// the CommitLog alone gives: records DeleteRecords (SetMinOffset) removed
// stay removed, and a queue whose records retention deleted keeps its end,
// so its next offsets are not handed out again.
func TestRebuiltQueueKeepsRange(t *testing.T) {
	damage := []struct {
		name string
		fn   func(fs *vfs.MemFS, dir string) error
	}{
		{"none", func(*vfs.MemFS, string) error { return nil }},
		{"last file removed", func(fs *vfs.MemFS, dir string) error {
			names, err := fs.List(dir)
			if err != nil || len(names) == 0 {
				return err
			}
			return fs.Remove(path.Join(dir, names[len(names)-1]))
		}},
		{"queue directory removed", func(fs *vfs.MemFS, dir string) error { return fs.RemoveAll(dir) }},
	}
	for _, d := range damage {
		t.Run("DeleteRecords/"+d.name, func(t *testing.T) {
			fs := vfs.NewMem()
			cfg := testConfig(fs)
			s := mustOpen(t, cfg)
			for i := range 100 {
				if _, err := s.Append(context.Background(), []Entry{msg("T", 0, i)}); err != nil {
					t.Fatal(err)
				}
			}
			waitDispatched(t, s, "T", 0, 100)
			if err := s.SetMinOffset("T", 0, 50); err != nil {
				t.Fatal(err)
			}
			want := readAll(t, s, "T", 0)
			s.Close()
			if err := d.fn(fs, "data/consumequeue/T/0"); err != nil {
				t.Fatal(err)
			}
			s = mustOpen(t, cfg)
			defer s.Close()
			if d.name != "none" && s.Recovery().RebuiltQueues != 1 {
				t.Fatalf("no rebuild: %+v", s.Recovery())
			}
			if min, _ := s.MinOffset("T", 0); min != 50 {
				t.Fatalf("rebuilt queue starts at %d, want 50", min)
			}
			if _, err := s.Read("T", 0, 10, ReadOptions{}); !errors.Is(err, ErrOffsetOutOfRange) {
				t.Fatalf("read of a deleted record after the rebuild: %v", err)
			}
			if got := readAll(t, s, "T", 0); !equalPayloads(got, want) {
				t.Fatalf("rebuilt queue holds %d messages, want %d", len(got), len(want))
			}
		})
	}
	// Retention deletes every record of T; its end, 16 (one full
	// ConsumeQueue file), must survive, or T's next record gets offset 0
	// again.
	for _, d := range damage {
		t.Run("retention/"+d.name, func(t *testing.T) {
			fs := vfs.NewMem()
			cfg := testConfig(fs)
			cfg.RetentionBytes = 2 * cfg.SegmentSize
			s := mustOpen(t, cfg)
			for i := range 16 {
				if _, err := s.Append(context.Background(), []Entry{msg("T", 0, i)}); err != nil {
					t.Fatal(err)
				}
			}
			for i := 0; len(s.log.Segments()) < 4; i++ {
				if _, err := s.Append(context.Background(), []Entry{msg("U", 0, i)}); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.EnforceRetention(); err != nil {
				t.Fatal(err)
			}
			if min, max := queueRange(t, s, "T", 0); min != 16 || max != 16 {
				t.Fatalf("after retention T is [%d, %d), want [16, 16)", min, max)
			}
			s.Close()
			if err := d.fn(fs, "data/consumequeue/T/0"); err != nil {
				t.Fatal(err)
			}
			s = mustOpen(t, cfg)
			defer s.Close()
			if min, max := queueRange(t, s, "T", 0); min != 16 || max != 16 {
				t.Fatalf("after reopen T is [%d, %d), want [16, 16); report %+v", min, max, s.Recovery())
			}
			pos, err := s.Append(context.Background(), []Entry{msg("T", 0, 16)})
			if err != nil || pos[0].QueueOffset != 16 {
				t.Fatalf("T's next record got offset %+v (%v), want 16", pos, err)
			}
		})
	}
}

func queueRange(t *testing.T, s *Store, topic string, queue int32) (int64, int64) {
	t.Helper()
	min, err := s.MinOffset(topic, queue)
	if err != nil {
		t.Fatalf("%s/%d: %v", topic, queue, err)
	}
	max, _ := s.MaxOffset(topic, queue)
	return min, max
}
