package kafkaapi

import (
	"bytes"
	"testing"

	"github.com/twinmq/twinmq/broker/topics"
)

// A consumer draining RocketMQ-produced messages with read-ahead, behind
// one that read the first range, gets the same batches as without it,
// each range converted once into the cache, and the conversions after the
// first fetch's are made ahead of the fetches (the fetches find them
// cached or being converted).
func TestXProtoReadAheadConvertsNextRange(t *testing.T) {
	st, reg := xcStore(t)
	plain := xcHandler(t, st, reg, -1)
	h := xcHandlerConfig(t, st, reg, Config{})
	xfRead(t.Context(), t, h, 0) // the first reader: converted, not cached, no read-ahead
	if n := h.aheads.n.Load(); n != 0 || h.xcache.Stats().Bytes != 0 {
		t.Fatalf("the first read of a range cached %d bytes, started %d read-aheads", h.xcache.Stats().Bytes, n)
	}
	var off int64
	fetches := 0
	for off < xbRecords {
		want := xfRead(t.Context(), t, plain, off)
		got := xfRead(t.Context(), t, h, off)
		if !bytes.Equal(got, want) {
			t.Fatalf("offset %d: %d bytes with read-ahead, %d without", off, len(got), len(want))
		}
		_, end := batchRange(t, got)
		if end <= off {
			t.Fatalf("no progress at offset %d", off)
		}
		if end < xbRecords {
			// The next range is cached, or its read-ahead runs.
			waitFor(t, "the read-ahead of the next range", func() bool {
				return h.xcache.Covers(queueKey{Topic: "rmq"}, end)
			})
		}
		off = end
		fetches++
	}
	c := h.xcache
	if fetches < 3 {
		t.Fatalf("the topic drained in %d fetches; the test needs more", fetches)
	}
	if ra, conv := h.aheads.n.Load(), c.Stats().Converts; ra != int64(fetches-1) || conv != int64(fetches) {
		t.Fatalf("%d fetches: %d conversions, %d of them read ahead; want %d and %d", fetches, conv, ra, fetches, fetches-1)
	}
	if _, hits, misses := xcStats(h); misses >= hits {
		t.Fatalf("%d hits, %d misses", hits, misses)
	}
	waitFor(t, "read-aheads done", func() bool { return aheadsIdle(h) })
}

// No read-ahead when it is turned off, at the end of the partition, or
// over stored Kafka batches.
func TestXProtoReadAheadSkips(t *testing.T) {
	st, reg := xcStore(t)
	off := xfReadEnd(t, xcHandler(t, st, reg, 0), 0) // read-ahead off
	h := xcHandlerConfig(t, st, reg, Config{})
	h.readAheadFrom(queueKey{Topic: "rmq"}, xbRecords, xbRecords, 64<<10) // at the end
	if n := h.aheads.n.Load(); n != 0 {
		t.Fatalf("%d read-aheads at the end of the partition", n)
	}
	if off >= xbRecords {
		t.Fatal("one fetch drained the topic")
	}
	if h.xcache.Covers(queueKey{Topic: "rmq"}, off) {
		t.Fatal("cached ahead with read-ahead off")
	}
	cfg, err := reg.Create(t.Context(), topics.Config{Name: "kaf", Queues: 1})
	if err != nil {
		t.Fatal(err)
	}
	xbAppend(t, st, xbKafkaEntries(t, h, cfg))
	h.readAhead(h.xcache, queueKey{Topic: "kaf"}, 0, 64<<10)
	if n := h.aheads.n.Load(); n != 0 || h.xcache.Covers(queueKey{Topic: "kaf"}, 0) {
		t.Fatalf("%d read-aheads over Kafka batches", n)
	}
}

// xfReadEnd fetches rmq at offset with h and returns the offset after
// the batches served.
func xfReadEnd(t *testing.T, h *Handler, offset int64) int64 {
	_, end := batchRange(t, xfRead(t.Context(), t, h, offset))
	return end
}

// A lone consumer draining RocketMQ-produced messages converts every range
// for itself: nothing cached, no read-ahead (broker/log/cache_admit.go). A second
// group draining the same offsets caches them (and reads ahead), and a
// third is served from the cache alone.
func TestXProtoLoneReaderNotCached(t *testing.T) {
	st, reg := xcStore(t)
	plain := xcHandler(t, st, reg, -1)
	h := xcHandlerConfig(t, st, reg, Config{})
	c := h.xcache
	drain := func(who string) {
		for off := int64(0); off < xbRecords; {
			want, got := xfRead(t.Context(), t, plain, off), xfRead(t.Context(), t, h, off)
			if !bytes.Equal(got, want) {
				t.Fatalf("%s at %d: %d bytes, want the %d converted without cache", who, off, len(got), len(want))
			}
			_, off = batchRange(t, got)
			// A read-ahead the fetch started is registered before the
			// fetch returns; waiting for it keeps the next fetch from
			// claiming its range first (the count below would vary).
			waitFor(t, "read-aheads done", func() bool { return aheadsIdle(h) })
		}
	}
	drain("first group")
	if size, hits, misses := xcStats(h); size != 0 || hits != 0 || misses != xbRecords || h.aheads.n.Load() != 0 {
		t.Fatalf("lone reader: %d bytes cached, %d hits, %d misses, %d read-aheads; want 0, 0, %d, 0",
			size, hits, misses, h.aheads.n.Load(), xbRecords)
	}
	drain("second group")
	size, _, misses := xcStats(h)
	if size == 0 || h.aheads.n.Load() == 0 {
		t.Fatalf("second group: %d bytes cached, %d read-aheads", size, h.aheads.n.Load())
	}
	drain("third group")
	if _, hits, m := xcStats(h); m != misses || hits < xbRecords {
		t.Fatalf("third group: misses %d -> %d, %d hits; want no new miss", misses, m, hits)
	}

	// The partition has several readers now: new messages are cached at
	// their first read (groups tailing it together convert them once).
	more := xbRocketMQEntries("rmq")[:200]
	if _, err := st.Append(t.Context(), more); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the new messages readable", func() bool { end, _ := st.MaxOffset("rmq", 0); return end == xbRecords+200 })
	converts := c.Stats().Converts
	if got := xfRead(t.Context(), t, h, xbRecords); len(got) == 0 {
		t.Fatal("no batch for the new messages")
	}
	if c.Stats().Converts == converts || !c.Covers(queueKey{Topic: "rmq"}, xbRecords) {
		t.Fatal("the first read of new messages on a shared partition was not cached")
	}
}

// aheadsIdle reports whether no read-ahead and no conversion runs.
func aheadsIdle(h *Handler) bool {
	h.aheads.mu.Lock()
	defer h.aheads.mu.Unlock()
	return len(h.aheads.keys) == 0 && h.xcache.Stats().Flights == 0
}
