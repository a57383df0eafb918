package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"path"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twinmq/twinmq/storage/vfs"
)

func testConfig(fs vfs.FS) Config {
	return Config{
		Dir: "data", FS: fs, Logger: slog.New(slog.DiscardHandler),
		SegmentSize: 8192, ConsumeQueueUnits: 16, IndexSlots: 64, IndexEntries: 256,
		FlushInterval: time.Hour, CheckpointInterval: time.Hour, RetentionCheckInterval: time.Hour,
		MappedMinUnflushed: -1, // ASYNC_FLUSH appends store through the mapping from the first byte
	}
}

func mustOpen(t testing.TB, cfg Config) *Store {
	t.Helper()
	s, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func msg(topic string, queue int32, i int) Entry {
	return Entry{
		Kind: KindRocketMQ, Topic: topic, QueueID: queue, Count: 1,
		TagsCodes: []int64{int64(i % 3)}, Keys: []string{fmt.Sprint("key-", i)},
		Payload: fmt.Appendf(nil, "%s/%d message %d %s", topic, queue, i, bytes.Repeat([]byte("z"), i%40)),
	}
}

// waitDispatched polls until the queue's max offset reaches want.
func waitDispatched(t testing.TB, s *Store, topic string, queue int32, want int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if max, err := s.MaxOffset(topic, queue); err == nil && max >= want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s/%d never reached offset %d", topic, queue, want)
		}
		time.Sleep(time.Millisecond)
	}
}

func readAll(t testing.TB, s *Store, topic string, queue int32) [][]byte {
	t.Helper()
	min, err := s.MinOffset(topic, queue)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for off := min; ; {
		res, err := s.Read(topic, queue, off, ReadOptions{MaxBytes: 1000})
		if err != nil {
			t.Fatalf("read %s/%d@%d: %v", topic, queue, off, err)
		}
		for _, e := range res.Entries {
			out = append(out, bytes.Clone(e.Payload))
		}
		res.Release()
		if res.NextOffset == off {
			return out
		}
		off = res.NextOffset
	}
}

func TestAppendReadReopen(t *testing.T) {
	for _, mode := range []FlushDiskType{AsyncFlush, SyncFlush} {
		t.Run(string(mode), func(t *testing.T) {
			fs := vfs.NewMem()
			cfg := testConfig(fs)
			cfg.FlushDiskType = mode
			s := mustOpen(t, cfg)
			var want [2][][]byte
			for i := range 300 {
				e := msg("T", int32(i%2), i)
				pos, err := s.Append(context.Background(), []Entry{e})
				if err != nil {
					t.Fatal(err)
				}
				if pos[0].QueueOffset != int64(i/2) {
					t.Fatalf("message %d got offset %d", i, pos[0].QueueOffset)
				}
				want[i%2] = append(want[i%2], e.Payload)
			}
			waitDispatched(t, s, "T", 1, 150)
			for q := range 2 {
				if got := readAll(t, s, "T", int32(q)); !equalPayloads(got, want[q]) {
					t.Fatalf("queue %d: read %d messages, want %d", q, len(got), len(want[q]))
				}
			}
			res, err := s.QueryByKey("T", "key-77", 10, 0, 1<<62)
			if err != nil || len(res.Entries) != 1 || !bytes.Equal(res.Entries[0].Payload, want[1][38]) {
				t.Fatalf("query by key: %v %+v", err, res)
			}
			res.Release()
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = mustOpen(t, cfg)
			defer s.Close()
			if !s.Recovery().CleanShutdown || s.Recovery().EntriesScanned != 0 {
				t.Fatalf("reopen after clean close: %+v", s.Recovery())
			}
			for q := range 2 {
				if got := readAll(t, s, "T", int32(q)); !equalPayloads(got, want[q]) {
					t.Fatalf("after reopen queue %d: %d messages, want %d", q, len(got), len(want[q]))
				}
			}
			pos, err := s.Append(context.Background(), []Entry{msg("T", 0, 1)})
			if err != nil || pos[0].QueueOffset != 150 {
				t.Fatalf("append after reopen: %v %+v", err, pos)
			}
		})
	}
}

func equalPayloads(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

func TestKafkaBatchUnits(t *testing.T) {
	s := mustOpen(t, testConfig(vfs.NewMem()))
	defer s.Close()
	for range 3 {
		if _, err := s.Append(context.Background(), []Entry{{Kind: KindKafka, Topic: "k", Count: 10, Payload: []byte("batch")}}); err != nil {
			t.Fatal(err)
		}
	}
	waitDispatched(t, s, "k", 0, 30)
	res, err := s.Read("k", 0, 15, ReadOptions{MaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	if len(res.Entries) != 2 || res.Entries[0].QueueOffset != 10 || res.Entries[1].QueueOffset != 20 || res.NextOffset != 30 {
		t.Fatalf("read from the middle of a batch: %+v next %d", res.Entries, res.NextOffset)
	}
	// MaxUnits counts the offsets the entries read cover from the start.
	for _, c := range []struct {
		from   int64
		units  int
		firsts []int64
	}{
		{0, 5, []int64{0}},
		{0, 10, []int64{0}},
		{0, 11, []int64{0, 10}},
		{5, 5, []int64{0}},
		{5, 6, []int64{0, 10}},
		{15, 32, []int64{10, 20}},
	} {
		r, err := s.Read("k", 0, c.from, ReadOptions{MaxUnits: c.units})
		if err != nil {
			t.Fatal(err)
		}
		var got []int64
		for _, e := range r.Entries {
			got = append(got, e.QueueOffset)
		}
		r.Release()
		if fmt.Sprint(got) != fmt.Sprint(c.firsts) {
			t.Errorf("from %d, MaxUnits %d: entries at %v, want %v", c.from, c.units, got, c.firsts)
		}
	}
	if _, err := s.Read("k", 0, 31, ReadOptions{}); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("read past end: %v", err)
	}
	if _, err := s.Read("nope", 0, 0, ReadOptions{}); !errors.Is(err, ErrQueueNotFound) {
		t.Fatalf("read unknown queue: %v", err)
	}
}

func TestNotifyWakesLongPoll(t *testing.T) {
	s := mustOpen(t, testConfig(vfs.NewMem()))
	defer s.Close()
	woke := make(chan struct{})
	cancel := s.Notify("T", 0, 0, func() { close(woke) })
	select {
	case <-woke:
		t.Fatal("woke before any append")
	default:
	}
	if _, err := s.Append(context.Background(), []Entry{msg("T", 0, 0)}); err != nil {
		t.Fatal(err)
	}
	<-woke
	if cancel() {
		t.Fatal("cancel after firing reported it removed the waiter")
	}
	ran := false
	s.Notify("T", 0, 0, func() { ran = true })
	if !ran {
		t.Fatal("Notify for an offset already present did not run at once")
	}
}

func TestSyncFlushGroupCommit(t *testing.T) {
	fs := vfs.NewMem()
	cfg := testConfig(fs)
	cfg.FlushDiskType = SyncFlush
	cfg.SegmentSize = 1 << 20
	s := mustOpen(t, cfg)
	var wg sync.WaitGroup
	var mu sync.Mutex
	acked := map[string]bool{}
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				e := msg("T", int32(w%4), w*100+i)
				if _, err := s.Append(context.Background(), []Entry{e}); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				acked[string(e.Payload)] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	crashed := fs.CrashClone(vfs.CrashConfig{})
	s.Close()
	cfg.FS = crashed
	s2 := mustOpen(t, cfg)
	defer s2.Close()
	got := 0
	for q := range 4 {
		for _, p := range readAll(t, s2, "T", int32(q)) {
			if acked[string(p)] {
				got++
			}
		}
	}
	if got != len(acked) {
		t.Fatalf("%d of %d acknowledged messages survived the crash", got, len(acked))
	}
}

// TestSyncFlushCloseAnswersAppenders closes the store while SYNC_FLUSH
// appenders keep appending: every Append returns, acknowledged or with
// ErrClosed, and none hangs.
func TestSyncFlushCloseAnswersAppenders(t *testing.T) {
	cfg := testConfig(vfs.NewMem())
	cfg.FlushDiskType = SyncFlush
	s := mustOpen(t, cfg)
	var wg sync.WaitGroup
	var acked atomic.Int64
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				_, err := s.Append(context.Background(), []Entry{msg("T", int32(w), i)})
				if errors.Is(err, ErrClosed) {
					return
				}
				if err != nil {
					t.Error(err)
					return
				}
				acked.Add(1)
			}
		}()
	}
	for acked.Load() < 100 {
		runtime.Gosched()
	}
	s.Close()
	wg.Wait()
}

// TestSyncFlushCanceledContext: an append whose context is already done
// returns, either acknowledged or with the context's error.
func TestSyncFlushCanceledContext(t *testing.T) {
	cfg := testConfig(vfs.NewMem())
	cfg.FlushDiskType = SyncFlush
	s := mustOpen(t, cfg)
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for i := range 20 {
		if _, err := s.Append(ctx, []Entry{msg("T", 0, i)}); err != nil && !errors.Is(err, context.Canceled) {
			t.Fatalf("append with a canceled context: %v", err)
		}
	}
	if _, err := s.Append(context.Background(), []Entry{msg("T", 0, 99)}); err != nil {
		t.Fatal(err)
	}
}

func TestFsyncFailureRefusesWrites(t *testing.T) {
	fs := vfs.NewMem()
	cfg := testConfig(fs)
	cfg.FlushDiskType = SyncFlush
	s := mustOpen(t, cfg)
	defer s.Close()
	if err := s.Stats().Err; err != nil {
		t.Fatalf("a new store reports %v", err)
	}
	fs.InjectError(func(op vfs.Op, name string) error {
		if op == vfs.OpSync && path.Dir(name) == "data/commitlog" {
			return errors.New("injected EIO")
		}
		return nil
	})
	if _, err := s.Append(context.Background(), []Entry{msg("T", 0, 0)}); !errors.Is(err, ErrFailed) {
		t.Fatalf("append with failing fsync: %v", err)
	}
	// Monitoring sees it (the HTTP listener's readiness, broker/httpapi).
	if st := s.Stats(); st.Err == nil || !strings.Contains(st.Err.Error(), "injected EIO") || st.FlushedOffset >= st.WrittenOffset {
		t.Fatalf("stats after the failed fsync: %+v", st)
	}
	fs.InjectError(nil)
	if _, err := s.Append(context.Background(), []Entry{msg("T", 0, 1)}); !errors.Is(err, ErrFailed) {
		t.Fatalf("append after a failed fsync was accepted: %v", err)
	}
}

func TestFormatVersionRefused(t *testing.T) {
	fs := vfs.NewMem()
	s := mustOpen(t, testConfig(fs))
	s.Close()
	f, _ := fs.Create("data/FORMAT")
	f.WriteAt([]byte("twinmq-store 9\n"), 0)
	f.Close()
	if _, err := Open(context.Background(), testConfig(fs)); !errors.Is(err, ErrFormat) {
		t.Fatalf("open of another format: %v", err)
	}
	fs2 := vfs.NewMem()
	fs2.MkdirAll("data", 0o755)
	f, _ = fs2.Create("data/something-else")
	f.Close()
	if _, err := Open(context.Background(), testConfig(fs2)); !errors.Is(err, ErrFormat) {
		t.Fatalf("open of a foreign directory: %v", err)
	}
}

// TestFormatUpgrade: a version 1 directory (before topic-deletion
// records) opens, keeps its data and is marked version 2, so a version 1
// binary no longer opens a directory that may hold such records.
func TestFormatUpgrade(t *testing.T) {
	fs := vfs.NewMem()
	cfg := testConfig(fs)
	s := mustOpen(t, cfg)
	var want [][]byte
	for i := range 20 {
		e := msg("T", 0, i)
		if _, err := s.Append(context.Background(), []Entry{e}); err != nil {
			t.Fatal(err)
		}
		want = append(want, e.Payload)
	}
	s.Close()
	f, _ := fs.Create("data/FORMAT")
	f.WriteAt([]byte("twinmq-store 1\n"), 0)
	f.Close()
	s = mustOpen(t, cfg)
	if got := readAll(t, s, "T", 0); !equalPayloads(got, want) {
		t.Fatalf("after the upgrade: %d records, want %d", len(got), len(want))
	}
	if err := s.DeleteTopic("T"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if b, err := readFile(fs, "data/FORMAT"); err != nil || string(b) != "twinmq-store 2\n" {
		t.Fatalf("FORMAT after the upgrade: %q, %v", b, err)
	}
}

func TestDeletedConsumeQueueRebuilt(t *testing.T) {
	fs := vfs.NewMem()
	cfg := testConfig(fs)
	s := mustOpen(t, cfg)
	for i := range 100 {
		if _, err := s.Append(context.Background(), []Entry{msg("T", 0, i), msg("U", 0, i)}); err != nil {
			t.Fatal(err)
		}
	}
	waitDispatched(t, s, "U", 0, 100)
	want := readAll(t, s, "T", 0)
	s.Close()
	names, _ := fs.List("data/consumequeue/T/0")
	if len(names) < 3 {
		t.Fatalf("want several ConsumeQueue files, have %v", names)
	}
	for _, victim := range []string{names[1], names[len(names)-1]} {
		if err := fs.Remove("data/consumequeue/T/0/" + victim); err != nil {
			t.Fatal(err)
		}
		s = mustOpen(t, cfg)
		if got := readAll(t, s, "T", 0); !equalPayloads(got, want) || s.Recovery().RebuiltQueues != 1 {
			t.Fatalf("after deleting %s: %d messages (want %d), report %+v", victim, len(got), len(want), s.Recovery())
		}
		s.Close()
	}
	if err := fs.RemoveAll("data/consumequeue/T"); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, cfg)
	defer s.Close()
	if got := readAll(t, s, "T", 0); !equalPayloads(got, want) {
		t.Fatalf("after deleting the topic's queues: %d messages, want %d", len(got), len(want))
	}
}

func TestBitFlipNotServed(t *testing.T) {
	fs := vfs.NewMem()
	cfg := testConfig(fs)
	s := mustOpen(t, cfg)
	pos, err := s.Append(context.Background(), []Entry{msg("T", 0, 0), msg("T", 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	f, _ := fs.OpenReadWrite("data/commitlog/00000000000000000000")
	b := []byte{0}
	at := pos[0].Phys + int64(pos[0].Size) - 3
	f.ReadAt(b, at)
	b[0] ^= 1
	f.WriteAt(b, at)
	f.Close()
	s = mustOpen(t, cfg)
	defer s.Close()
	if _, err := s.Read("T", 0, 0, ReadOptions{}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("read of a flipped entry: %v", err)
	}
	res, err := s.Read("T", 0, 1, ReadOptions{})
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("read of the next entry: %v", err)
	}
	res.Release()
}

func TestRetentionAndMinOffset(t *testing.T) {
	fs := vfs.NewMem()
	cfg := testConfig(fs)
	cfg.RetentionBytes = 3 * cfg.SegmentSize
	s := mustOpen(t, cfg)
	defer s.Close()
	for i := range 400 {
		if _, err := s.Append(context.Background(), []Entry{msg("T", 0, i)}); err != nil {
			t.Fatal(err)
		}
	}
	waitDispatched(t, s, "T", 0, 400)
	res, err := s.Read("T", 0, 0, ReadOptions{}) // a reader holds the oldest segment
	if err != nil {
		t.Fatal(err)
	}
	held := bytes.Clone(res.Entries[0].Payload)
	if err := s.EnforceRetention(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(res.Entries[0].Payload, held) {
		t.Fatal("retention changed bytes a reader still held")
	}
	res.Release()
	min, _ := s.MinOffset("T", 0)
	if min == 0 || len(s.log.Segments()) > 3 {
		t.Fatalf("retention kept min offset %d and %d segments", min, len(s.log.Segments()))
	}
	if _, err := s.Read("T", 0, 0, ReadOptions{}); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("read below min: %v", err)
	}
	if err := s.SetMinOffset("T", 0, 390); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, s, "T", 0); len(got) != 10 {
		t.Fatalf("after SetMinOffset: %d messages", len(got))
	}
}

func TestDeleteTopic(t *testing.T) {
	fs := vfs.NewMem()
	cfg := testConfig(fs)
	s := mustOpen(t, cfg)
	s.Append(context.Background(), []Entry{msg("gone", 0, 0), msg("kept", 0, 0)})
	waitDispatched(t, s, "kept", 0, 1)
	if err := s.DeleteTopic("gone"); err != nil {
		t.Fatal(err)
	}
	crashed := fs.CrashClone(vfs.CrashConfig{})
	s.Close()
	cfg.FS = crashed
	s = mustOpen(t, cfg)
	defer s.Close()
	if q := s.Queues("gone"); len(q) != 0 {
		t.Fatalf("deleted topic came back: %+v", q)
	}
	if q := s.Queues("kept"); len(q) != 1 {
		t.Fatalf("kept topic: %+v", q)
	}
}

// TestCrashSeeds is the seeded crash test: random appends, syncs and
// segment rolls against a model; a crash at a random step with torn
// writes; reopen; every entry acknowledged under SYNC_FLUSH is present
// byte for byte and in order, nothing else is, and the ConsumeQueue and
// index agree with the CommitLog. -crash.seeds runs more.
func TestCrashSeeds(t *testing.T) {
	n := *crashSeeds
	if testing.Short() {
		n = 10
	}
	for seed := range uint64(n) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			crashSeed(t, seed)
		})
	}
}

func crashSeed(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 99))
	fs := vfs.NewMem()
	cfg := testConfig(fs)
	cfg.FlushDiskType = SyncFlush
	cfg.SegmentSize = 4096 + int64(rng.IntN(4096))
	cfg.CheckpointInterval = time.Duration(1+rng.IntN(5)) * time.Millisecond
	s := mustOpen(t, cfg)
	type rec struct {
		payload []byte
		key     string
	}
	acked := map[int32][]rec{}
	steps := 20 + rng.IntN(150)
	for i := range steps {
		n := 1 + rng.IntN(3)
		batch := make([]Entry, n)
		for j := range batch {
			batch[j] = msg("T", int32(rng.IntN(3)), i*3+j)
		}
		// Async appends (no wait) are written but may be lost.
		if rng.IntN(3) == 0 {
			s.log.Append(batch, nil)
			continue
		}
		if _, err := s.Append(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
		for _, e := range batch {
			acked[e.QueueID] = append(acked[e.QueueID], rec{e.Payload, e.Keys[0]})
		}
	}
	crashed := fs.CrashClone(vfs.CrashConfig{Rand: rng, UnsyncedDataPercent: 50})
	s.Close()
	cfg.FS = crashed
	s2, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("seed %d: reopen: %v", seed, err)
	}
	defer s2.Close()
	for q, want := range acked {
		got := readAll(t, s2, "T", q)
		// Every acknowledged message is there, in order; unacknowledged
		// ones may sit between them.
		j := 0
		for _, p := range got {
			if j < len(want) && bytes.Equal(p, want[j].payload) {
				j++
			}
		}
		if j != len(want) {
			t.Fatalf("seed %d queue %d: %d of %d acknowledged messages survived (read %d)", seed, q, j, len(want), len(got))
		}
		for _, r := range want {
			res, err := s2.QueryByKey("T", r.key, 4, 0, 1<<62)
			if err != nil || len(res.Entries) == 0 {
				t.Fatalf("seed %d: key %s not found in the index: %v", seed, r.key, err)
			}
			res.Release()
		}
	}
	if s2.Recovery().CleanShutdown {
		t.Fatalf("seed %d: crash reported as a clean shutdown", seed)
	}
}

// TestAsyncFlushLossWindow checks the ASYNC_FLUSH promise: an append older
// than the last completed flush pass survives a power loss; only the
// appends after it (at most FlushInterval of them) may be lost.
func TestAsyncFlushLossWindow(t *testing.T) {
	fs := vfs.NewMem()
	cfg := testConfig(fs)
	cfg.FlushInterval = 2 * time.Millisecond
	s := mustOpen(t, cfg)
	var durable [][]byte
	for i := range 20 {
		e := msg("T", 0, i)
		pos, err := s.Append(context.Background(), []Entry{e})
		if err != nil {
			t.Fatal(err)
		}
		end := pos[0].Phys + int64(pos[0].Size)
		for s.log.FlushedOffset() < end { // the periodic flusher, not a call from here
			time.Sleep(time.Millisecond)
		}
		durable = append(durable, e.Payload)
	}
	// Appends inside the window: written, not yet flushed.
	s.log.Append([]Entry{msg("T", 0, 100), msg("T", 0, 101)}, nil)
	crashed := fs.CrashClone(vfs.CrashConfig{})
	s.Close()
	cfg.FS = crashed
	s2 := mustOpen(t, cfg)
	defer s2.Close()
	got := readAll(t, s2, "T", 0)
	if len(got) < len(durable) || !equalPayloads(got[:len(durable)], durable) {
		t.Fatalf("%d messages after the crash, want the %d flushed ones first", len(got), len(durable))
	}
}

func TestReplayInternalTopic(t *testing.T) {
	fs := vfs.NewMem()
	cfg := testConfig(fs)
	s := mustOpen(t, cfg)
	for i := range 50 {
		rec := Entry{Kind: KindInternal, Topic: "__twinmq_test", Count: 1, Payload: fmt.Appendf(nil, "rec-%d", i)}
		if _, err := s.Append(context.Background(), []Entry{rec}); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	s = mustOpen(t, cfg)
	defer s.Close()
	n := 0
	next, err := s.Replay("__twinmq_test", 0, 0, func(e ReadEntry) error {
		if e.Kind != KindInternal || string(e.Payload) != fmt.Sprintf("rec-%d", n) {
			return fmt.Errorf("record %d: %q", n, e.Payload)
		}
		n++
		return nil
	})
	if err != nil || n != 50 || next != 50 {
		t.Fatalf("replayed %d records to %d: %v", n, next, err)
	}
	if next, err := s.Replay("__none", 0, 0, func(ReadEntry) error { return nil }); err != nil || next != 0 {
		t.Fatalf("replay of an unknown topic: %d %v", next, err)
	}
}

// TestReadAtRightAfterAppend: a client may view a message by the id its
// send returned before the dispatcher has indexed it.
func TestReadAtRightAfterAppend(t *testing.T) {
	s := mustOpen(t, testConfig(vfs.NewMem()))
	defer s.Close()
	for i := range 500 {
		e := msg("T", 0, i)
		pos, err := s.Append(context.Background(), []Entry{e})
		if err != nil {
			t.Fatal(err)
		}
		res, err := s.ReadAt(pos[0].Phys)
		if err != nil || !bytes.Equal(res.Entries[0].Payload, e.Payload) {
			t.Fatalf("ReadAt right after append %d: %v", i, err)
		}
		res.Release()
	}
}

// TestNotifyOtherQueueLeavesAppendsLazy: while a long poll waits on one
// queue, appends to another do not each wake the dispatcher (the lazy
// tick dispatches them), yet become readable, and a long poll that parks
// on that queue afterwards still fires; an append to a waited queue wakes
// the dispatcher, and its waiter, at once.
func TestNotifyOtherQueueLeavesAppendsLazy(t *testing.T) {
	s := mustOpen(t, testConfig(vfs.NewMem()))
	defer s.Close()
	wokeA := make(chan struct{})
	s.Notify("A", 0, 0, func() { close(wokeA) })
	if _, err := s.Append(context.Background(), []Entry{msg("B", 0, 0)}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { m, _ := s.MaxOffset("B", 0); return m == 1 })
	// Each append woke the dispatcher before; now only one that finds
	// the lazy tick disarmed, or a backlog past lazyDispatchBytes, does
	// (the dispatcher arms the tick when woken and disarms it after a
	// tick, 1 ms, with nothing new). Each append waits until the one
	// before is dispatched, by the tick, and the appends that found the
	// tick armed are counted until there are 200: at most the few racing a
	// disarming tick may wake the dispatcher.
	n, armed, woke := 0, 0, 0
	for deadline := time.Now().Add(20 * time.Second); armed < 200; n++ {
		if time.Now().After(deadline) {
			t.Fatalf("%d appends, %d found the lazy tick armed", n, armed)
		}
		wasArmed, w0 := s.lazyArmed.Load(), s.wakeups.Load()
		if _, err := s.Append(context.Background(), []Entry{msg("B", 0, n+1)}); err != nil {
			t.Fatal(err)
		}
		if wasArmed {
			armed++
			if s.wakeups.Load() != w0 {
				woke++
			}
		}
		for s.dispatched.Load() < s.log.WrittenOffset() {
			time.Sleep(20 * time.Microsecond)
		}
	}
	if woke > armed/4 {
		t.Fatalf("%d of %d appends that found the lazy tick armed woke the dispatcher", woke, armed)
	}
	waitUntil(t, func() bool { m, _ := s.MaxOffset("B", 0); return m == int64(n)+1 })
	wokeB := make(chan struct{})
	s.Notify("B", 0, int64(n)+1, func() { close(wokeB) })
	w0 := s.wakeups.Load()
	if _, err := s.Append(context.Background(), []Entry{msg("B", 0, n+1)}); err != nil {
		t.Fatal(err)
	}
	if s.wakeups.Load() == w0 {
		t.Fatal("an append to a waited queue did not wake the dispatcher")
	}
	<-wokeB
	select {
	case <-wokeA:
		t.Fatal("queue A's waiter fired with no append to A")
	default:
	}
	if _, err := s.Append(context.Background(), []Entry{msg("A", 0, 0)}); err != nil {
		t.Fatal(err)
	}
	<-wokeA
}

// TestNotifyAfterAppendWakesDispatcher: a waiter registered just after
// the append it waits for (a Kafka produce with acks does this) wakes the
// dispatcher, rather than waiting for the lazy tick that append left its
// entry to. The dispatcher's wake-up count tells, not a timing.
func TestNotifyAfterAppendWakesDispatcher(t *testing.T) {
	s := mustOpen(t, testConfig(vfs.NewMem()))
	defer s.Close()
	for n := range 1000 {
		wasArmed := s.lazyArmed.Load()
		pos, err := s.Append(context.Background(), []Entry{msg("C", 0, n)})
		if err != nil {
			t.Fatal(err)
		}
		end := pos[0].Phys + int64(pos[0].Size)
		w0 := s.wakeups.Load()
		if !wasArmed || s.dispatched.Load() >= end {
			// The append woke the dispatcher itself, or the tick came
			// first: nothing to tell. Let it settle and try again at
			// once: the tick stays armed for lazyDispatchInterval after
			// a dispatch, and a poll that sleeps as long lets it disarm
			// (with one CPU, every time).
			for deadline := time.Now().Add(10 * time.Second); s.dispatched.Load() < end; runtime.Gosched() {
				if time.Now().After(deadline) {
					t.Fatal("append not dispatched in 10 s")
				}
			}
			continue
		}
		fired := make(chan struct{})
		s.Notify("C", 0, pos[0].QueueOffset, func() { close(fired) })
		if s.wakeups.Load() == w0 && s.dispatched.Load() < end {
			t.Fatalf("append %d: a waiter for a written entry left it to the lazy tick", n)
		}
		<-fired
		if s.wakeups.Load() != w0 {
			return // a waiter registered after the append woke the dispatcher
		}
	}
	t.Fatal("no append left its entry to the lazy tick in 1000 tries")
}

// waitUntil polls cond until it holds, failing after 10 s.
func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10 s")
		}
	}
}

// TestDispatchNow: an appender that dispatches its own entry finds it
// readable at once, and the waiters it satisfies fire on its goroutine
// before DispatchNow returns.
func TestDispatchNow(t *testing.T) {
	s := mustOpen(t, testConfig(vfs.NewMem()))
	defer s.Close()
	inline := 0
	for n := range 200 {
		var fired atomic.Bool
		s.Notify("W", 0, int64(n)-1, func() { fired.Store(true) })
		if _, err := s.Append(context.Background(), []Entry{msg("W", 0, n)}); err != nil {
			t.Fatal(err)
		}
		if !s.DispatchNow() {
			continue // the dispatcher had it, or was at work
		}
		inline++
		if !fired.Load() {
			t.Fatalf("append %d: DispatchNow returned before the waiter it satisfied fired", n)
		}
		if max, _ := s.MaxOffset("W", 0); max != int64(n)+1 {
			t.Fatalf("append %d: max offset %d after DispatchNow, want %d", n, max, n+1)
		}
		if s.DispatchNow() {
			t.Fatalf("append %d: a second DispatchNow found work", n)
		}
	}
	if inline == 0 {
		t.Fatal("DispatchNow never dispatched in 200 appends")
	}
	t.Logf("%d of 200 appends dispatched by their appender", inline)
}

// TestDispatchNowConcurrent runs appenders that dispatch their own entries
// beside the dispatcher, long polls and a Close: every entry is dispatched
// once, in order, and nothing races (go test -race).
func TestDispatchNowConcurrent(t *testing.T) {
	s := mustOpen(t, testConfig(vfs.NewMem()))
	const writers, each = 4, 300
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range each {
				pos, err := s.Append(context.Background(), []Entry{msg("P", int32(w), n)})
				if err != nil {
					t.Error(err)
					return
				}
				s.DispatchNow()
				fired := make(chan struct{})
				s.Notify("P", int32(w), pos[0].QueueOffset, func() {})
				s.Notify("P", int32(w), pos[0].QueueOffset-1, func() { close(fired) })
				<-fired
			}
		}()
	}
	wg.Wait()
	for w := range writers {
		if max, _ := s.MaxOffset("P", int32(w)); max != each {
			t.Fatalf("queue %d: max offset %d, want %d", w, max, each)
		}
		var got int
		for off := int64(0); off < each; {
			res, err := s.Read("P", int32(w), off, ReadOptions{MaxBytes: 1 << 20})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Entries) == 0 {
				t.Fatalf("queue %d: nothing read at %d", w, off)
			}
			for _, e := range res.Entries {
				if want := msg("P", int32(w), int(off)).Payload; e.QueueOffset != off || !bytes.Equal(e.Payload, want) {
					t.Fatalf("queue %d: entry at %d is %q, want %q at %d", w, e.QueueOffset, e.Payload, want, off)
				}
				off++
				got++
			}
			res.Release()
		}
		if got != each {
			t.Fatalf("queue %d: read %d entries, want %d", w, got, each)
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for !s.closed.Load() {
			s.DispatchNow()
		}
		s.DispatchNow()
	}()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	<-done
}

// TestHoldDispatch: while an appender holds the dispatch, its appends do
// not wake the dispatcher and its entries become readable when it
// releases, on its goroutine; DispatchNow cannot take the hold meanwhile,
// nor can a SYNC_FLUSH store give it.
func TestHoldDispatch(t *testing.T) {
	s := mustOpen(t, testConfig(vfs.NewMem()))
	defer s.Close()
	held := 0
	for n := range 100 {
		if !s.HoldDispatch() {
			continue // the dispatcher was at work
		}
		held++
		if s.DispatchNow() {
			t.Fatal("DispatchNow dispatched while the dispatch was held")
		}
		w0 := s.wakeups.Load()
		if _, err := s.Append(context.Background(), []Entry{msg("H", 0, n)}); err != nil {
			s.ReleaseDispatch()
			t.Fatal(err)
		}
		if w := s.wakeups.Load(); w != w0 {
			s.ReleaseDispatch()
			t.Fatalf("append %d under the hold woke the dispatcher", n)
		}
		s.ReleaseDispatch()
		// Only the tries that held appended: a busy dispatcher (a pass
		// takes a millisecond under -race) can refuse dozens in a row.
		if max, _ := s.MaxOffset("H", 0); max != int64(held) {
			t.Fatalf("append %d (hold %d): max offset %d after ReleaseDispatch, want %d", n, held, max, held)
		}
	}
	if held == 0 {
		t.Fatal("HoldDispatch never succeeded in 100 tries")
	}

	cfg := testConfig(vfs.NewMem())
	cfg.FlushDiskType = SyncFlush
	ss := mustOpen(t, cfg)
	defer ss.Close()
	if ss.HoldDispatch() {
		ss.ReleaseDispatch()
		t.Fatal("a SYNC_FLUSH store gave the dispatch hold: an append would wait for the fsync holding it")
	}
}

// TestRetentionByAge: segments older than the retention age go; the
// topic registry can raise the age past RetentionHours (a topic with a
// longer retention.ms, or -1) and lower it again. The in-memory file
// system reports segments from the zero time, so every sealed one is old.
func TestRetentionByAge(t *testing.T) {
	fs := vfs.NewMem()
	cfg := testConfig(fs)
	s := mustOpen(t, cfg)
	defer s.Close()
	if s.RetentionMs() != 72*3600*1000 || s.RetentionHours() != 72 {
		t.Fatalf("default retention %d ms, %d h; want 72 h", s.RetentionMs(), s.RetentionHours())
	}
	for i := range 400 {
		if _, err := s.Append(context.Background(), []Entry{msg("T", 0, i)}); err != nil {
			t.Fatal(err)
		}
	}
	waitDispatched(t, s, "T", 0, 400)
	segs := len(s.log.Segments())
	if segs < 3 {
		t.Fatalf("%d segments", segs)
	}
	s.SetRetentionMs(-1) // a topic keeps its records forever
	if err := s.EnforceRetention(); err != nil {
		t.Fatal(err)
	}
	if n := len(s.log.Segments()); n != segs {
		t.Fatalf("retention -1 deleted %d of %d segments", segs-n, segs)
	}
	if min, _ := s.MinOffset("T", 0); min != 0 {
		t.Fatalf("retention -1 moved the min offset to %d", min)
	}
	s.SetRetentionMs(3600 * 1000)
	if err := s.EnforceRetention(); err != nil {
		t.Fatal(err)
	}
	if n := len(s.log.Segments()); n != 1 {
		t.Fatalf("%d segments left, want the active one", n)
	}
	if min, _ := s.MinOffset("T", 0); min == 0 {
		t.Fatal("the min offset did not move")
	}

	cfg = testConfig(vfs.NewMem())
	cfg.RetentionHours = -1
	k := mustOpen(t, cfg)
	defer k.Close()
	if k.RetentionMs() != -1 {
		t.Fatalf("RetentionHours -1 reads as %d ms", k.RetentionMs())
	}
}

// TestStoreTimeNeverGoesBack: the wall clock may step back (NTP, a VM
// migration); store times must not, within a run or across a restart,
// since OffsetForTime binary-searches a queue on them (Kafka ListOffsets
// by timestamp, RocketMQ SEARCH_OFFSET_BY_TIMESTAMP).
func TestStoreTimeNeverGoesBack(t *testing.T) {
	var clock atomic.Int64
	cfg := testConfig(vfs.NewMem())
	cfg.Now = func() time.Time { return time.UnixMilli(clock.Load()) }
	s := mustOpen(t, cfg)
	var got []int64
	for i, now := range []int64{10_000, 5_000, 7_000, 12_000} {
		clock.Store(now)
		pos, err := s.Append(context.Background(), []Entry{msg("T", 0, i)})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, pos[0].StoreTime)
	}
	waitDispatched(t, s, "T", 0, 4)
	for _, c := range []struct{ ts, want int64 }{{6_000, 0}, {10_000, 0}, {11_000, 3}, {13_000, 4}} {
		if off, err := s.OffsetForTime("T", 0, c.ts); err != nil || off != c.want {
			t.Errorf("OffsetForTime(%d) = %d, %v; want %d", c.ts, off, err, c.want)
		}
	}
	if fmt.Sprint(got) != "[10000 10000 10000 12000]" {
		t.Fatalf("store times %v with the clock at 10000, 5000, 7000, 12000", got)
	}
	for _, clean := range []bool{true, false} {
		if clean {
			s.Close()
		} else {
			crashed := cfg.FS.(*vfs.MemFS).CrashClone(vfs.CrashConfig{})
			s.Close()
			cfg.FS = crashed
		}
		clock.Store(3_000)
		s = mustOpen(t, cfg)
		pos, err := s.Append(context.Background(), []Entry{msg("T", 0, 9)})
		if err != nil || pos[0].StoreTime != 12_000 {
			t.Fatalf("after a reopen (clean %v) with the clock at 3000: store time %+v, %v; want 12000", clean, pos, err)
		}
	}
	s.Close()
}
