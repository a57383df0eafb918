package kafkaapi

import (
	"bytes"
	"testing"

	"github.com/twinmq/twinmq/broker/topics"
)

// A consumer draining RocketMQ-produced messages with read-ahead gets the
// same batches as without it, each range converted once, and the
// conversions after the first fetch's are made ahead of the fetches (the
// fetches find them cached or being converted).
func TestXProtoReadAheadConvertsNextRange(t *testing.T) {
	st, reg := xcStore(t)
	plain := xcHandler(t, st, reg, -1)
	h := xcHandlerConfig(t, st, reg, Config{})
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
				return h.xcache.holds(queueKey{"rmq", 0}, end)
			})
		}
		off = end
		fetches++
	}
	c := h.xcache
	if fetches < 3 {
		t.Fatalf("the topic drained in %d fetches; the test needs more", fetches)
	}
	if ra, conv := c.readAheads.Load(), c.converts.Load(); ra != int64(fetches-1) || conv != int64(fetches) {
		t.Fatalf("%d fetches: %d conversions, %d of them read ahead; want %d and %d", fetches, conv, ra, fetches, fetches-1)
	}
	if _, hits, misses := h.XProtoCacheStats(); misses >= hits {
		t.Fatalf("%d hits, %d misses", hits, misses)
	}
	waitFor(t, "read-aheads done", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.aheads) == 0 && len(c.flights) == 0
	})
}

// No read-ahead when it is turned off, at the end of the partition, or
// over stored Kafka batches.
func TestXProtoReadAheadSkips(t *testing.T) {
	st, reg := xcStore(t)
	off := xfReadEnd(t, xcHandler(t, st, reg, 0), 0) // read-ahead off
	h := xcHandlerConfig(t, st, reg, Config{})
	h.readAheadFrom(queueKey{"rmq", 0}, xbRecords, xbRecords, 64<<10) // at the end
	if n := h.xcache.readAheads.Load(); n != 0 {
		t.Fatalf("%d read-aheads at the end of the partition", n)
	}
	if off >= xbRecords {
		t.Fatal("one fetch drained the topic")
	}
	if h.xcache.holds(queueKey{"rmq", 0}, off) {
		t.Fatal("cached ahead with read-ahead off")
	}
	cfg, err := reg.Create(t.Context(), topics.Config{Name: "kaf", Queues: 1})
	if err != nil {
		t.Fatal(err)
	}
	xbAppend(t, st, xbKafkaEntries(t, h, cfg))
	h.readAhead(h.xcache, queueKey{"kaf", 0}, 0, 64<<10)
	if n := h.xcache.readAheads.Load(); n != 0 || h.xcache.holds(queueKey{"kaf", 0}, 0) {
		t.Fatalf("%d read-aheads over Kafka batches", n)
	}
}

// xfReadEnd fetches rmq at offset with h and returns the offset after
// the batches served.
func xfReadEnd(t *testing.T, h *Handler, offset int64) int64 {
	_, end := batchRange(t, xfRead(t.Context(), t, h, offset))
	return end
}
