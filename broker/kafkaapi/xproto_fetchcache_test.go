package kafkaapi

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/broker/topics"
	"github.com/twinmq/twinmq/storage"
	"github.com/twinmq/twinmq/wire/kafka"
)

// xcStats is the handler's cache's bytes, hits and misses.
func xcStats(h *Handler) (size, hits, misses int64) {
	s := h.XProtoCacheStats()
	return s.Bytes, s.Hits, s.Misses
}

// xcStore is a store and registry with one RocketMQ-produced topic of
// xbRecords messages.
func xcStore(t testing.TB) (*storage.Store, *topics.Registry) {
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	st, err := storage.Open(ctx, storage.Config{Dir: t.TempDir(), SegmentSize: 64 << 20, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	reg, err := topics.Open(ctx, st, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	xcCreate(t, st, reg, "rmq")
	return st, reg
}

func xcCreate(t testing.TB, st *storage.Store, reg *topics.Registry, name string) {
	if _, err := reg.Create(context.Background(), topics.Config{Name: name, Queues: 1}); err != nil {
		t.Fatal(err)
	}
	entries := xbRocketMQEntries(name)
	for len(entries) > 0 {
		n := min(len(entries), 256)
		if _, err := st.Append(context.Background(), entries[:n]); err != nil {
			t.Fatal(err)
		}
		entries = entries[n:]
	}
	deadline := time.Now().Add(10 * time.Second)
	for end, _ := st.MaxOffset(name, 0); end < xbRecords; end, _ = st.MaxOffset(name, 0) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d of %d offsets readable", name, end, xbRecords)
		}
		time.Sleep(time.Millisecond)
	}
}

// xcHandler is a Handler with a cache of cacheBytes and no read-ahead
// (xproto_fetchahead_test.go tests it), so conversions are only the
// fetches' own.
func xcHandler(t testing.TB, st *storage.Store, reg *topics.Registry, cacheBytes int64) *Handler {
	return xcHandlerConfig(t, st, reg, Config{XProtoCacheBytes: cacheBytes, XProtoReadAhead: -1})
}

func xcHandlerConfig(t testing.TB, st *storage.Store, reg *topics.Registry, cfg Config) *Handler {
	cfg.NodeID, cfg.ClusterID, cfg.Logger = 1, "t", slog.New(slog.DiscardHandler)
	h, err := New(cfg, st, reg)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// xcFetch fetches topic's partition 0 at offset (Fetch v12, maxBytes per
// partition) and returns the record batches and the error code.
func xcFetch(t testing.TB, h *Handler, topic string, offset int64, maxBytes int32) ([]byte, int16) {
	req := kmsg.NewPtrFetchRequest()
	req.SetVersion(12)
	req.MaxBytes, req.MinBytes, req.ReplicaID = 50<<20, 1, -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.FetchOffset, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch, rp.LastFetchedEpoch = offset, maxBytes, -1, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	f := &fetchState{h: h, req: req, markers: newFetchMarkers()}
	resp, reads, _, _, _ := f.build(context.Background())
	defer func() {
		for _, rd := range reads {
			rd.Release()
		}
	}()
	p := resp.Topics[0].Partitions[0]
	if len(f.data) == 0 {
		return nil, p.ErrorCode
	}
	return bytes.Join(f.data[0], nil), p.ErrorCode
}

// batchRange returns the offsets [first, end) of the batches in b.
func batchRange(t testing.TB, b []byte) (int64, int64) {
	first, end := int64(-1), int64(-1)
	for len(b) > 0 {
		hdr, err := kafka.ParseBatchHeader(b)
		if err != nil {
			t.Fatal(err)
		}
		if first < 0 {
			first = hdr.BaseOffset
		}
		end = hdr.BaseOffset + int64(hdr.LastOffsetDelta) + 1
		b = b[12+int(hdr.BatchLength):]
	}
	return first, end
}

// A cached batch is served as converted; a fetch inside it gets it whole;
// a start moved past it and a deleted topic stop it being served.
func TestXProtoCacheFetch(t *testing.T) {
	st, reg := xcStore(t)
	plain, cached := xcHandler(t, st, reg, -1), xcHandler(t, st, reg, 0)
	want, code := xcFetch(t, plain, "rmq", 0, 64<<10)
	if code != errNone || len(want) == 0 {
		t.Fatalf("fetch: code %d, %d bytes", code, len(want))
	}
	for i := range 3 {
		got, _ := xcFetch(t, cached, "rmq", 0, 64<<10)
		if !bytes.Equal(got, want) {
			t.Fatalf("read %d: cached fetch differs from converted", i)
		}
		if size, _, _ := xcStats(cached); i == 0 && size != 0 {
			t.Fatalf("the first read of the offsets cached %d bytes (broker/log/cache_admit.go: only a second read caches)", size)
		}
	}
	// Read 1 converted for itself, read 2 into the cache, read 3 hit.
	size, hits, misses := xcStats(cached)
	first, end := batchRange(t, want)
	if n := end - first; size == 0 || hits != n || misses != 2*n {
		t.Fatalf("stats: %d bytes, %d hits, %d misses; want 1x and 2x %d records", size, hits, misses, n)
	}
	got, _ := xcFetch(t, cached, "rmq", end/2, 64<<10)
	if !bytes.HasPrefix(got, want) {
		t.Fatalf("fetch at %d inside the cached batch [%d, %d) did not get it", end/2, first, end)
	}
	// The next batch, converted at end, follows the cached one (read
	// twice: cached).
	xcFetch(t, cached, "rmq", end, 64<<10)
	next, _ := xcFetch(t, cached, "rmq", end, 64<<10)
	if f, _ := batchRange(t, next); f != end {
		t.Fatalf("fetch at %d starts at %d", end, f)
	}

	// DeleteRecords into the cached batch: never served again.
	if err := st.SetMinOffset("rmq", 0, end/2); err != nil {
		t.Fatal(err)
	}
	got, _ = xcFetch(t, cached, "rmq", end/2, 64<<10)
	if f, _ := batchRange(t, got); f != end/2 {
		t.Fatalf("after the start moved to %d, fetch served a batch from %d", end/2, f)
	}

	// Deleted and created again: new data at the same offsets.
	before, _, _ := xcStats(cached)
	if err := reg.Delete(context.Background(), "rmq"); err != nil {
		t.Fatal(err)
	}
	if after, _, _ := xcStats(cached); after >= before {
		t.Fatalf("topic deletion left %d of %d cached bytes", after, before)
	}
	xcCreate(t, st, reg, "rmq")
	want, _ = xcFetch(t, plain, "rmq", 0, 64<<10)
	if got, _ := xcFetch(t, cached, "rmq", 0, 64<<10); !bytes.Equal(got, want) {
		t.Fatal("recreated topic: cached fetch differs")
	}
}

// Consumers reading the same offsets at once, with a cache too small for
// the data (eviction under load), each get every record, converted
// exactly as without the cache (run with -race).
func TestXProtoCacheConcurrent(t *testing.T) {
	st, reg := xcStore(t)
	plain, cached := xcHandler(t, st, reg, -1), xcHandler(t, st, reg, 1<<20)
	drain := func(h *Handler) [][]byte {
		var out [][]byte
		for off := int64(0); off < xbRecords; {
			b, code := xcFetch(t, h, "rmq", off, 100<<10)
			if code != errNone || len(b) == 0 {
				t.Errorf("fetch at %d: code %d", off, code)
				return nil
			}
			out = append(out, b)
			_, off = batchRange(t, b)
		}
		return out
	}
	want := drain(plain)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 3 {
				got := drain(cached)
				if len(got) != len(want) {
					t.Errorf("%d fetches, want %d", len(got), len(want))
					return
				}
				for i := range got {
					if !bytes.Equal(got[i], want[i]) {
						t.Errorf("fetch %d differs", i)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	// Hits depend on how the drains interleave (run one after another,
	// as with one CPU, each scans 4.5 MB through a 1 MiB cache and never
	// hits); conversions into the cache do not: every range is read
	// at least twice.
	if size, conv := cached.xcache.Stats().Bytes, cached.xcache.Stats().Converts; size > 1<<20 || conv == 0 {
		t.Fatalf("cache holds %d bytes (max %d), %d conversions into it", size, 1<<20, conv)
	}
}
