package kafkaapi

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twinmq/twinmq/broker/log"
)

// xfRead reads topic "rmq" from offset as a fetch does (64 KiB) and
// returns the batches.
func xfRead(ctx context.Context, t *testing.T, h *Handler, offset int64) []byte {
	rd, parts, _, _, err := h.readParts(ctx, "rmq", 0, offset, 0, log.ReadOptions{MaxBytes: 64 << 10})
	if err != nil {
		t.Error(err)
		return nil
	}
	defer rd.Release()
	return bytes.Join(parts, nil)
}

// gatedConvert replaces h's conversion: the first call waits for gate and
// then fails if fail is set; every call is counted.
func gatedConvert(h *Handler, fail bool) (gate chan struct{}, calls *atomic.Int64) {
	gate, calls = make(chan struct{}), new(atomic.Int64)
	h.xconvert = func(parts [][]byte, base int64, msgs [][]byte, own bool) ([][]byte, int, error) {
		if calls.Add(1) == 1 {
			<-gate
			if fail {
				return parts, 0, errors.New("injected")
			}
		}
		return convertBatch(parts, base, msgs, own)
	}
	return gate, calls
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// Fetches of offsets read before (so admitted to the cache), at the same
// moment, convert them once: the others wait for the first and are served
// its cached batch.
func TestXProtoFlightConvertsOnce(t *testing.T) {
	st, reg := xcStore(t)
	plain, h := xcHandler(t, st, reg, -1), xcHandler(t, st, reg, 0)
	want := xfRead(t.Context(), t, plain, 0)
	xfRead(t.Context(), t, h, 0) // first sight: converted, not cached
	gate, calls := gatedConvert(h, false)
	const fetchers = 4
	got := make([][]byte, fetchers)
	var wg sync.WaitGroup
	for i := range fetchers {
		wg.Go(func() { got[i] = xfRead(t.Context(), t, h, 0) })
	}
	waitFor(t, "3 fetches waiting", func() bool { return h.xcache.Stats().Waits == fetchers-1 })
	close(gate)
	wg.Wait()
	for i, g := range got {
		if !bytes.Equal(g, want) {
			t.Fatalf("fetch %d: %d bytes differ from the %d converted", i, len(g), len(want))
		}
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("%d conversions of one range, want 1", n)
	}
	first, end := batchRange(t, want)
	if _, hits, misses := xcStats(h); misses != 2*(end-first) || hits != (fetchers-1)*(end-first) {
		t.Fatalf("%d hits, %d misses; want %d and %d", hits, misses, (fetchers-1)*(end-first), 2*(end-first))
	}
}

// A conversion that fails ends its flight: the waiter converts the range
// itself (and caches it), and is not left waiting.
func TestXProtoFlightFailure(t *testing.T) {
	st, reg := xcStore(t)
	plain, h := xcHandler(t, st, reg, -1), xcHandler(t, st, reg, 0)
	want := xfRead(t.Context(), t, plain, 0)
	xfRead(t.Context(), t, h, 0) // first sight: converted, not cached
	gate, calls := gatedConvert(h, true)
	var owner, waiter []byte
	var wg sync.WaitGroup
	wg.Go(func() { owner = xfRead(t.Context(), t, h, 0) })
	waitFor(t, "the owner converting", func() bool { return calls.Load() == 1 })
	wg.Go(func() { waiter = xfRead(t.Context(), t, h, 0) })
	waitFor(t, "the waiter", func() bool { return h.xcache.Stats().Waits == 1 })
	close(gate)
	wg.Wait()
	if len(owner) != 0 {
		t.Fatalf("failed conversion served %d bytes", len(owner))
	}
	if !bytes.Equal(waiter, want) {
		t.Fatalf("waiter got %d bytes, want the %d converted", len(waiter), len(want))
	}
	if got := xfRead(t.Context(), t, h, 0); !bytes.Equal(got, want) || calls.Load() != 2 {
		t.Fatalf("after the failure: %d conversions, cached batch equal: %v", calls.Load(), bytes.Equal(got, want))
	}
}

// A fetch whose context is done does not wait for another's conversion:
// it converts the range itself.
func TestXProtoFlightContextDone(t *testing.T) {
	st, reg := xcStore(t)
	plain, h := xcHandler(t, st, reg, -1), xcHandler(t, st, reg, 0)
	want := xfRead(t.Context(), t, plain, 0)
	xfRead(t.Context(), t, h, 0) // first sight: converted, not cached
	gate, calls := gatedConvert(h, false)
	var wg sync.WaitGroup
	wg.Go(func() { xfRead(t.Context(), t, h, 0) })
	waitFor(t, "the owner converting", func() bool { return calls.Load() == 1 })
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if got := xfRead(ctx, t, h, 0); !bytes.Equal(got, want) {
		t.Fatalf("fetch with a done context got %d bytes, want %d", len(got), len(want))
	}
	close(gate)
	wg.Wait()
	if w := h.xcache.Stats().Waits; w != 0 || calls.Load() != 2 {
		t.Fatalf("%d waits, %d conversions; want 0 and 2", w, calls.Load())
	}
}
