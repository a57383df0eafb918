package halfmsg

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/twinmq/twinmq/storage"
)

// harness is a Service over a real store in a temporary directory, with
// a Check that records what it was asked.
type harness struct {
	t     *testing.T
	dir   string
	store *storage.Store
	svc   *Service

	mu     sync.Mutex
	checks map[string]int // payload -> last check count
}

func newHarness(t *testing.T, dir string, timing Config) *harness {
	h := &harness{t: t, dir: dir, checks: map[string]int{}}
	h.open(timing)
	t.Cleanup(h.close)
	return h
}

func (h *harness) open(cfg Config) {
	h.t.Helper()
	ctx := context.Background()
	store, err := storage.Open(ctx, storage.Config{Dir: h.dir, SegmentSize: 1 << 20})
	if err != nil {
		h.t.Fatal(err)
	}
	h.store = store
	cfg.Store = store
	cfg.Check = func(_ context.Context, e storage.ReadEntry, n int) error {
		h.mu.Lock()
		h.checks[string(e.Payload)] = n
		h.mu.Unlock()
		return nil
	}
	cfg.Discarded = func(e storage.ReadEntry) ([]storage.Entry, error) {
		return []storage.Entry{{Kind: storage.KindInternal, Topic: CheckMaxTopic, Count: 1, Payload: append([]byte(nil), e.Payload...)}}, nil
	}
	if h.svc, err = Start(ctx, cfg); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) close() {
	if h.svc != nil {
		h.svc.Close()
		h.svc = nil
	}
	if h.store != nil {
		if err := h.store.Close(); err != nil {
			h.t.Error(err)
		}
		h.store = nil
	}
}

func (h *harness) checked(payload string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.checks[payload]
}

// prepare appends a half message and makes it pending.
func (h *harness) prepare(payload string) (key, phys int64) {
	h.t.Helper()
	pos, err := h.store.Append(context.Background(), []storage.Entry{{Kind: storage.KindInternal, Topic: HalfTopic, Count: 1, Payload: []byte(payload)}})
	if err != nil {
		h.t.Fatal(err)
	}
	h.svc.Prepared(pos[0].QueueOffset, pos[0].Phys, pos[0].StoreTime)
	return pos[0].QueueOffset, pos[0].Phys
}

// toReal is a Build that copies the half message to topic "real".
func toReal(e storage.ReadEntry) ([]storage.Entry, error) {
	return []storage.Entry{{Kind: storage.KindInternal, Topic: "real", Count: 1, Payload: append([]byte(nil), e.Payload...)}}, nil
}

func noEntries(storage.ReadEntry) ([]storage.Entry, error) { return nil, nil }

func (h *harness) payloads(topic string) []string {
	h.t.Helper()
	var out []string
	if _, err := h.store.Replay(topic, 0, 0, func(e storage.ReadEntry) error {
		out = append(out, string(e.Payload))
		return nil
	}); err != nil {
		h.t.Fatal(err)
	}
	return out
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 20s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestServiceResolveAndRestart: commits and rollbacks are durable, a
// second END_TRANSACTION changes nothing, and after a restart only the
// unresolved half message is pending; it is checked back, and discarded
// after its last check, across another restart.
func TestServiceResolveAndRestart(t *testing.T) {
	slow := Config{Timeout: time.Hour, Interval: time.Hour, MaxChecks: 2}
	h := newHarness(t, t.TempDir(), slow)
	ka, pa := h.prepare("a")
	kb, pb := h.prepare("b")
	h.prepare("c")
	ctx := context.Background()
	if err := h.svc.Resolve(ctx, ka, pa, ActionCommit, toReal); err != nil {
		t.Fatal(err)
	}
	if err := h.svc.Resolve(ctx, kb, pb, ActionRollback, noEntries); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		key, phys int64
	}{{"again", ka, pa}, {"rolled back", kb, pb}, {"wrong offset", 2, pa}, {"unknown", 99, 99}} {
		if err := h.svc.Resolve(ctx, tc.key, tc.phys, ActionCommit, toReal); !errors.Is(err, ErrUnknown) {
			t.Fatalf("%s: %v, want ErrUnknown", tc.name, err)
		}
	}
	refused := errors.New("refused")
	if err := h.svc.Resolve(ctx, 2, h.mustPhys(2), ActionCommit, func(storage.ReadEntry) ([]storage.Entry, error) { return nil, refused }); !errors.Is(err, refused) {
		t.Fatalf("refused build: %v", err)
	}
	if h.svc.Pending() != 1 {
		t.Fatalf("pending %d, want 1", h.svc.Pending())
	}

	// Restart with a short timeout: c alone comes back, and is checked.
	h.close()
	h.open(Config{Timeout: time.Millisecond, Interval: time.Millisecond, MaxChecks: 2})
	if got := h.svc.Pending(); got != 1 {
		t.Fatalf("pending after restart %d, want 1", got)
	}
	waitFor(t, "c discarded", func() bool { return h.svc.Pending() == 0 })
	if got := h.checked("c"); got != 2 {
		t.Fatalf("c checked %d times, want 2", got)
	}
	if h.checked("a") != 0 || h.checked("b") != 0 {
		t.Fatalf("resolved messages checked: %v", h.checks)
	}
	h.close()
	h.open(slow)
	if got := h.svc.Pending(); got != 0 {
		t.Fatalf("pending after the discard and a restart: %d", got)
	}
	if got := h.payloads("real"); len(got) != 1 || got[0] != "a" {
		t.Fatalf("real topic %q, want [a]", got)
	}
	if got := h.payloads(CheckMaxTopic); len(got) != 1 || got[0] != "c" {
		t.Fatalf("%s %q, want [c]", CheckMaxTopic, got)
	}
}

// TestServiceChecksSurviveRestart: the number of checks a half message
// had is replayed, so a restart does not give it MaxChecks more.
func TestServiceChecksSurviveRestart(t *testing.T) {
	h := newHarness(t, t.TempDir(), Config{Timeout: time.Millisecond, Interval: time.Hour, MaxChecks: 3})
	h.prepare("x")
	waitFor(t, "first check", func() bool { return h.checked("x") == 1 })
	h.close()
	h.open(Config{Timeout: time.Hour, Interval: time.Hour, MaxChecks: 3})
	if n, ok := h.svc.core.Checks(0); !ok || n != 1 {
		t.Fatalf("replayed checks %d (pending %v), want 1", n, ok)
	}
}

// TestServiceConcurrentEnds: of many END_TRANSACTIONs racing for one half
// message, exactly one commits.
func TestServiceConcurrentEnds(t *testing.T) {
	h := newHarness(t, t.TempDir(), Config{Timeout: time.Hour, Interval: time.Hour})
	key, phys := h.prepare("m")
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := h.svc.Resolve(context.Background(), key, phys, ActionCommit, toReal); err == nil {
				mu.Lock()
				ok++
				mu.Unlock()
			} else if !errors.Is(err, ErrUnknown) && !errors.Is(err, ErrResolving) {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if ok != 1 {
		t.Fatalf("%d commits succeeded, want 1", ok)
	}
	waitFor(t, "commit visible", func() bool { return len(h.payloads("real")) > 0 })
	if got := h.payloads("real"); len(got) != 1 {
		t.Fatalf("real topic %q, want one message", got)
	}
}

func (h *harness) mustPhys(key int64) int64 {
	h.t.Helper()
	phys, _, _, err := h.store.EntryAt(HalfTopic, 0, key)
	if err != nil {
		h.t.Fatal(err)
	}
	return phys
}
