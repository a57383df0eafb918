package kafkaapi

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/twinmq/twinmq/netio"
)

// A Kafka client reading RocketMQ-produced messages from a broker without
// the cache gets batches whose bodies were written from the mapped
// CommitLog (xproto.ToKafkaParts, spliced into the writev): every record,
// in order, with its value, key and headers, and batches whose CRC-32C
// franz-go checks.
func TestXProtoFetchZeroCopyOverTheWire(t *testing.T) {
	st, reg := xcStore(t)
	log := slog.New(slog.DiscardHandler)
	h := xcHandler(t, st, reg, -1)
	srv, err := netio.New(ServerConfig("127.0.0.1:0", log), h)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	host, port, _ := net.SplitHostPort(srv.Addr().String())
	p, _ := strconv.Atoi(port)
	h.SetAdvertised(host, int32(p))
	cl, err := kgo.NewClient(kgo.SeedBrokers(srv.Addr().String()), kgo.ConsumeTopics("rmq"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxPartitionBytes(256<<10))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second) // a hang fails the test, not a slow run
	defer cancel()
	next := int64(0)
	for next < xbRecords {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("%d of %d records: %v", next, xbRecords, err)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("%s/%d: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset != next {
				t.Fatalf("offset %d, want %d", r.Offset, next)
			}
			i := int(next)
			hdr := map[string]string{}
			for _, h := range r.Headers {
				hdr[h.Key] = string(h.Value)
			}
			if !bytes.Equal(r.Value, xbValue(i)) || string(r.Key) != fmt.Sprint("key-", i) ||
				hdr["TAGS"] != xbTag(i) || hdr["h"] != fmt.Sprint("hv-", i) || hdr["UNIQ_KEY"] != fmt.Sprintf("%032X", i) {
				t.Fatalf("record %d: key %q, %d-byte value (equal: %v), headers %v", i, r.Key, len(r.Value), bytes.Equal(r.Value, xbValue(i)), hdr)
			}
			next++
		})
	}
	if _, hits, misses := xcStats(h); hits != 0 || misses != 0 {
		t.Fatalf("cache used: %d hits, %d misses", hits, misses)
	}
}
