package storage

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path"
	"runtime/debug"
	"sync/atomic"
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

// TestRetentionCrash crashes the store at every file-system operation of
// a retention pass (deleting CommitLog segments, then moving every
// queue's start past them, then the checkpoint) and reopens what the
// crash left: every queue must start at an entry the CommitLog still
// holds, so a read below it is out of range and a read from it returns
// data, never a CommitLog offset that is gone.
func TestRetentionCrash(t *testing.T) {
	base := vfs.NewMem()
	cfg := testConfig(base)
	cfg.RetentionBytes = 2 * cfg.SegmentSize
	s := mustOpen(t, cfg)
	for i := 0; len(s.log.Segments()) < 5; i++ {
		if _, err := s.Append(context.Background(), []Entry{msg("T", int32(i%2), i), msg("U", 0, i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	n := crashAtEachOp(t, base, cfg, 7, func(s *Store) error { return s.EnforceRetention() }, func(k int, s *Store) {
		for _, qi := range s.Queues("") {
			if qi.Min > 0 {
				if _, err := s.Read(qi.Topic, qi.Queue, qi.Min-1, ReadOptions{}); !errors.Is(err, ErrOffsetOutOfRange) {
					t.Fatalf("crash at op %d: read %s/%d below its start %d: %v", k, qi.Topic, qi.Queue, qi.Min, err)
				}
			}
			res, err := s.Read(qi.Topic, qi.Queue, qi.Min, ReadOptions{MaxEntries: 1})
			if err != nil || (qi.Min < qi.Max && len(res.Entries) != 1) {
				t.Fatalf("crash at op %d: read %s/%d at its start %d (log starts at %d): %v",
					k, qi.Topic, qi.Queue, qi.Min, s.log.MinOffset(), err)
			}
			res.Release()
		}
		if _, err := s.Replay("T", 0, 0, func(ReadEntry) error { return nil }); err != nil {
			t.Fatalf("crash at op %d: replay: %v", k, err)
		}
	})
	if n < 3 {
		t.Fatalf("retention did %d file-system operations", n)
	}
}

// TestShortSegmentNotRead damages the CommitLog on the real file system:
// its first segment is cut at a page boundary, below the checkpoint, so
// the entries the checkpoint vouches for beyond the cut are gone. The
// mapping still covers them, and touching a page past a file's end
// faults (SIGBUS); the store must answer ErrCorrupt instead, both when
// recovery rebuilds a ConsumeQueue from there and when a reader asks for
// one of those entries. debug.SetPanicOnFault turns a fault into a panic
// this test can report.
func TestShortSegmentNotRead(t *testing.T) {
	for _, rebuild := range []bool{false, true} {
		t.Run(fmt.Sprintf("rebuild=%v", rebuild), func(t *testing.T) {
			cfg := testConfig(vfs.Default())
			cfg.Dir = t.TempDir()
			s := mustOpen(t, cfg)
			var cut int64 // the offset of T/0's first entry past the page
			for i := 0; len(s.log.Segments()) < 3; i++ {
				pos, err := s.Append(context.Background(), []Entry{msg("T", 0, i)})
				if err != nil {
					t.Fatal(err)
				}
				if cut == 0 && pos[0].Phys+int64(pos[0].Size) > 4096 {
					cut = pos[0].QueueOffset
				}
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			seg := path.Join(cfg.Dir, "commitlog", "00000000000000000000")
			if err := os.Truncate(seg, 4096); err != nil {
				t.Fatal(err)
			}
			if rebuild {
				if err := os.RemoveAll(path.Join(cfg.Dir, "consumequeue", "T")); err != nil {
					t.Fatal(err)
				}
			}
			defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("fault reading past the end of a segment file: %v\n%s", r, debug.Stack())
				}
			}()
			s, err := Open(context.Background(), cfg)
			if rebuild {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("open with a queue to rebuild over the cut: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if _, err := s.Read("T", 0, cut, ReadOptions{}); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("read of an entry past the cut: %v", err)
			}
			if res, err := s.Read("T", 0, 0, ReadOptions{MaxEntries: 1}); err != nil || len(res.Entries) != 1 {
				t.Fatalf("read of the first entry, before the cut: %v", err)
			}
		})
	}
}

// TestDeletedTopicStaysDeleted: the entries of a deleted topic stay in
// the CommitLog until retention, and recovery rebuilds derived data from
// the CommitLog. A queue rebuilt from it, or every queue after the
// checkpoint is lost (recovery then starts at the log's first entry),
// must not bring the deleted topic's records back, nor serve them in
// place of a topic created again under the same name.
func TestDeletedTopicStaysDeleted(t *testing.T) {
	damage := []struct {
		name string
		fn   func(fs *vfs.MemFS) error
	}{
		{"none", func(*vfs.MemFS) error { return nil }},
		{"queue rebuilt", func(fs *vfs.MemFS) error { return fs.RemoveAll("data/consumequeue/T") }},
		{"checkpoint lost", func(fs *vfs.MemFS) error {
			f, err := fs.Create("data/checkpoint")
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = f.WriteAt([]byte("garbage"), 0)
			return err
		}},
	}
	for _, recreate := range []bool{false, true} {
		for _, d := range damage {
			t.Run(fmt.Sprintf("recreated=%v/%s", recreate, d.name), func(t *testing.T) {
				fs := vfs.NewMem()
				cfg := testConfig(fs)
				s := mustOpen(t, cfg)
				for i := range 5 {
					if _, err := s.Append(context.Background(), []Entry{msg("T", 0, i), msg("U", 0, i)}); err != nil {
						t.Fatal(err)
					}
				}
				waitDispatched(t, s, "U", 0, 5)
				if err := s.DeleteTopic("T"); err != nil {
					t.Fatal(err)
				}
				var want [][]byte
				if recreate {
					for i := 100; i < 103; i++ {
						e := msg("T", 0, i)
						if _, err := s.Append(context.Background(), []Entry{e}); err != nil {
							t.Fatal(err)
						}
						want = append(want, e.Payload)
					}
					waitDispatched(t, s, "T", 0, 3)
				}
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
				if err := d.fn(fs); err != nil {
					t.Fatal(err)
				}
				s = mustOpen(t, cfg)
				defer s.Close()
				if !recreate {
					if q := s.Queues("T"); len(q) != 0 {
						t.Fatalf("deleted topic came back: %+v", q)
					}
				} else if got := readAll(t, s, "T", 0); !equalPayloads(got, want) {
					t.Fatalf("re-created topic reads %q, want %q", got, want)
				}
				res, err := s.QueryByKey("T", "key-2", 4, 0, 1<<62)
				if err != nil || len(res.Entries) != 0 {
					t.Fatalf("query by a deleted record's key: %d entries, %v", len(res.Entries), err)
				}
				res.Release()
				if got := readAll(t, s, "U", 0); len(got) != 5 {
					t.Fatalf("other topic reads %d records, want 5", len(got))
				}
				pos, err := s.Append(context.Background(), []Entry{msg("T", 0, 200)})
				if err != nil || pos[0].QueueOffset != int64(len(want)) {
					t.Fatalf("next record of T at %+v (%v), want offset %d", pos, err, len(want))
				}
			})
		}
	}
}

// TestDeleteTopicCrash crashes the store at every file-system operation
// of DeleteTopic (the deletion record's append and fsync, the queues'
// removal, the checkpoint): after recovery the topic is either whole, as
// before the call, or gone, and its next offset follows from that.
func TestDeleteTopicCrash(t *testing.T) {
	base := vfs.NewMem()
	cfg := testConfig(base)
	s := mustOpen(t, cfg)
	var old [2][][]byte
	for i := range 40 {
		e := msg("T", int32(i%2), i)
		if _, err := s.Append(context.Background(), []Entry{e, msg("U", 0, i)}); err != nil {
			t.Fatal(err)
		}
		old[i%2] = append(old[i%2], e.Payload)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	crashAtEachOp(t, base, cfg, 8, func(s *Store) error { return s.DeleteTopic("T") }, func(k int, s *Store) {
		gone := len(s.Queues("T")) == 0
		for q := range int32(2) {
			var want [][]byte
			if !gone {
				want = old[q]
				if got := readAll(t, s, "T", q); !equalPayloads(got, want) {
					t.Fatalf("crash at op %d: T/%d holds %d records, want %d", k, q, len(got), len(want))
				}
			}
			pos, err := s.Append(context.Background(), []Entry{msg("T", q, 99)})
			if err != nil || pos[0].QueueOffset != int64(len(want)) {
				t.Fatalf("crash at op %d (T gone %v): next record of T/%d at %+v, %v", k, gone, q, pos, err)
			}
		}
		if got := readAll(t, s, "U", 0); len(got) != 40 {
			t.Fatalf("crash at op %d: U holds %d records", k, len(got))
		}
	})
}

// crashAtEachOp runs op on a store over a crash clone of base, once per
// file-system operation op makes, crashing at the k-th (odd k tear what
// was not synced, even ones drop it; seed varies the tearing), then
// reopens the crashed file system and calls check. It returns how many
// operations op made.
func crashAtEachOp(t *testing.T, base *vfs.MemFS, cfg Config, seed uint64, op func(*Store) error, check func(k int, s *Store)) int {
	t.Helper()
	for k := 1; ; k++ {
		torn := vfs.CrashConfig{}
		if k%2 == 1 {
			torn = vfs.CrashConfig{Rand: rand.New(rand.NewPCG(uint64(k), seed)), UnsyncedDataPercent: 50}
		}
		fs := base.CrashClone(vfs.CrashConfig{})
		cfg.FS = fs
		s := mustOpen(t, cfg)
		var ops atomic.Int32
		var crashed *vfs.MemFS
		fs.InjectError(func(vfs.Op, string) error {
			if ops.Add(1) == int32(k) {
				crashed = fs.CrashClone(torn)
			}
			return nil
		})
		if err := op(s); err != nil {
			t.Fatal(err)
		}
		fs.InjectError(nil)
		s.Close()
		if crashed == nil {
			t.Logf("crashed at each of %d file-system operations", k-1)
			return k - 1
		}
		cfg.FS = crashed
		s = mustOpen(t, cfg)
		check(k, s)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
