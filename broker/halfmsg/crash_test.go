package halfmsg

import (
	"context"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twinmq/twinmq/storage"
	"github.com/twinmq/twinmq/storage/vfs"
)

// TestServiceCrashAtEachOp: three prepared half messages are committed,
// rolled back and committed, on a SYNC_FLUSH store over an in-memory file
// system that crashes at each of its operations in turn, once dropping
// what was not synced and four times tearing it (512-byte blocks survive
// or not, each on its own). After each crash: a resolution the service
// acknowledged is durable; no half message is resolved without what its
// resolution wrote (a committed message is in its topic, exactly once);
// a rolled-back one is never there; anything else is pending again.
func TestServiceCrashAtEachOp(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	ctx := context.Background()
	cfg := storage.Config{Dir: "/data", SegmentSize: 1 << 20, FlushDiskType: storage.SyncFlush}
	svcCfg := func(st *storage.Store) Config {
		return Config{Store: st, Timeout: time.Hour, Interval: time.Hour, SnapshotEvery: 2,
			Check:     func(context.Context, storage.ReadEntry, int) error { return nil },
			Discarded: noEntries}
	}
	// base: the three half messages, prepared and synced.
	base := vfs.NewMem()
	cfg.FS = base
	st, err := storage.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var keys, phys []int64
	for _, p := range []string{"a", "b", "c"} {
		// 1000 bytes: a committed message spans 512-byte blocks, which
		// survive a torn crash each on its own.
		pos, err := st.Append(ctx, []storage.Entry{{Kind: storage.KindInternal, Topic: HalfTopic, Count: 1, Payload: []byte(p + strings.Repeat(".", 999))}})
		if err != nil {
			t.Fatal(err)
		}
		keys, phys = append(keys, pos[0].QueueOffset), append(phys, pos[0].Phys)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	actions := []Action{ActionCommit, ActionRollback, ActionCommit}
	builds := []Build{toReal, noEntries, toReal}

	const tears = 4 // torn crashes per operation, each with its own seed
	for run := tears + 1; ; run++ {
		k := run / (tears + 1)
		torn := vfs.CrashConfig{}
		if run%(tears+1) != 0 {
			torn = vfs.CrashConfig{Rand: rand.New(rand.NewPCG(uint64(run), seed)), UnsyncedDataPercent: 50}
		}
		fs := base.CrashClone(vfs.CrashConfig{})
		cfg.FS = fs
		st, err := storage.Open(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		svc, err := Start(ctx, svcCfg(st))
		if err != nil {
			t.Fatal(err)
		}
		var ops, acked atomic.Int32
		var crashed *vfs.MemFS
		ackedAtCrash := int32(-1)
		fs.InjectError(func(vfs.Op, string) error {
			if ops.Add(1) == int32(k) {
				ackedAtCrash = acked.Load()
				crashed = fs.CrashClone(torn)
			}
			return nil
		})
		for i := range keys {
			if err := svc.Resolve(ctx, keys[i], phys[i], actions[i], builds[i]); err != nil {
				t.Fatalf("crash at op %d: resolve %d: %v", k, i, err)
			}
			acked.Add(1)
		}
		svc.Close()
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
		fs.InjectError(nil)
		if crashed == nil {
			t.Logf("crashed at each of %d file-system operations", k-1)
			return
		}

		cfg.FS = crashed
		st, err = storage.Open(ctx, cfg)
		if err != nil {
			t.Fatalf("crash at op %d: reopen: %v", k, err)
		}
		svc, err = Start(ctx, svcCfg(st))
		if err != nil {
			t.Fatalf("crash at op %d: restart: %v", k, err)
		}
		var real []string
		if _, err := st.Replay("real", 0, 0, func(e storage.ReadEntry) error {
			real = append(real, string(e.Payload[:1]))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		for i, p := range []string{"a", "b", "c"} {
			_, pending := svc.core.items[keys[i]]
			n := 0
			for _, r := range real {
				if r == p {
					n++
				}
			}
			switch {
			case int32(i) < ackedAtCrash && pending:
				t.Errorf("crash at op %d: %s pending, its resolution was acknowledged", k, p)
			case actions[i] == ActionCommit && !pending && n != 1:
				t.Errorf("crash at op %d: %s committed, in the topic %d times", k, p, n)
			case actions[i] == ActionCommit && n > 1:
				t.Errorf("crash at op %d: %s pending, in the topic %d times", k, p, n)
			case actions[i] == ActionRollback && n != 0:
				t.Errorf("crash at op %d: %s rolled back, in the topic", k, p)
			}
		}
		if slices.Contains(real, "b") {
			t.Errorf("crash at op %d: the rolled-back message is in the topic: %q", k, real)
		}
		svc.Close()
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
		if t.Failed() {
			return
		}
	}
}
