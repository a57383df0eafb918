package storage

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/twinmq/twinmq/storage/vfs"
)

// TestReplicaTruncate: an old primary rejoining as a replica cuts its
// log back to the prefix it shares with the new primary, then follows
// the new primary to a byte-identical copy.
func TestReplicaTruncate(t *testing.T) {
	ctx := context.Background()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 9))
	p := mustOpen(t, replConfig(t.TempDir(), AsyncFlush))
	defer p.Close()
	old := mustOpen(t, replConfig(t.TempDir(), AsyncFlush))
	defer old.Close()
	old.SetReplica(true)
	sl := &slave{r: old}
	for i := range 200 {
		if _, err := p.Append(ctx, []Entry{replEntry(rng, i)}); err != nil {
			t.Fatal(err)
		}
	}
	sl.catchUp(t, p, rng)
	_, common := old.LogRange()

	// old is promoted for a while and takes writes p never sees; p goes
	// on too (a split brain, or writes p lost in a failover).
	old.SetReplica(false)
	for i := range 150 {
		if _, err := old.Append(ctx, []Entry{replEntry(rng, 1000+i)}); err != nil {
			t.Fatal(err)
		}
		if _, err := p.Append(ctx, []Entry{replEntry(rng, 2000+i)}); err != nil {
			t.Fatal(err)
		}
	}
	waitAllDispatched(t, old)
	if err := old.Truncate(common); !errors.Is(err, ErrNotReplica) {
		t.Fatalf("Truncate on a primary: %v", err)
	}
	old.SetReplica(true)
	_, w := old.LogRange()
	if err := old.Truncate(common + 1); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("Truncate inside an entry: %v", err)
	}
	if err := old.Truncate(w + 1); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("Truncate past the end: %v", err)
	}
	if err := old.Truncate(common); err != nil {
		t.Fatal(err)
	}
	if _, w := old.LogRange(); w != common {
		t.Fatalf("truncated to %d, want %d", w, common)
	}
	if st := old.Stats(); st.DispatchedOffset != common || st.FlushedOffset > common {
		t.Fatalf("after the cut: %+v", st)
	}
	_, pb := logBytes(t, p, rng)
	_, ob := logBytes(t, old, rng)
	if !slices.Equal(ob, pb[:common]) {
		t.Fatal("the truncated log is not the common prefix")
	}
	for _, q := range old.Queues("") {
		got := queueEntries(t, old, q.Topic, q.Queue)
		if len(got) > 0 && got[len(got)-1].Phys >= common {
			t.Fatalf("%s/%d still serves an entry at %d", q.Topic, q.Queue, got[len(got)-1].Phys)
		}
	}
	sl = &slave{r: old}
	sl.catchUp(t, p, rng)
	sameStores(t, p, old, rng)
}

// TestReplicaTruncateCrash crashes a Truncate at each of its file-system
// operations, unsynced data torn or kept: the store reopens as it was
// before or as it is after, never a mix, with queues serving exactly the
// entries below the log's end.
func TestReplicaTruncateCrash(t *testing.T) {
	ctx := context.Background()
	base := vfs.NewMem()
	cfg := testConfig(base)
	s := mustOpen(t, cfg)
	var pos []Position
	for i := range 120 {
		p, err := s.Append(ctx, []Entry{msg("T", int32(i%3), i)})
		if err != nil {
			t.Fatal(err)
		}
		pos = append(pos, p[0])
	}
	_, full := s.LogRange()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, cutAt := range []int{70, 1} {
		cut := pos[cutAt].Phys
		below := func(end int64) map[int32]int {
			n := map[int32]int{}
			for i, p := range pos {
				if p.Phys < end {
					n[int32(i%3)]++
				}
			}
			return n
		}
		cfg.FS = base
		crashAtEachOp(t, base, cfg, uint64(cutAt), func(s *Store) error {
			s.SetReplica(true)
			return s.Truncate(cut)
		}, func(k int, s *Store) {
			_, w := s.LogRange()
			if w != full && w != cut {
				t.Fatalf("crash at op %d: the log ends at %d, neither %d nor %d", k, w, full, cut)
			}
			want := below(w)
			for q := range int32(3) {
				max, _ := s.MaxOffset("T", q)
				if int(max) != want[q] {
					t.Fatalf("crash at op %d: log end %d, queue %d ends at %d, want %d", k, w, q, max, want[q])
				}
				got := queueEntries(t, s, "T", q)
				if len(got) != want[q] {
					t.Fatalf("crash at op %d: queue %d serves %d entries, want %d", k, q, len(got), want[q])
				}
			}
		})
	}
}
