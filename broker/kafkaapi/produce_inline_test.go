package kafkaapi_test

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestProduceInline: franz-go producers that send one record per request
// (idempotent, plain, compressed, acks 1) get every record stored once, in
// order, each visible as soon as its produce is acknowledged. Produces
// are answered on the event loop but for each idempotent producer's first
// one per partition (its state is loaded off the loop) and gzip batches.
func TestProduceInline(t *testing.T) {
	b := startBroker(t)
	host, port, _ := net.SplitHostPort(b.addr)
	p, _ := strconv.Atoi(port)
	b.h.SetAdvertised(host, int32(p))
	const topic, parts, each = "inline", 2, 60
	b.createTopic(t, topic, parts)
	clients := []struct {
		name string
		opts []kgo.Opt
	}{
		{"idempotent", nil},
		{"plain acks=1", []kgo.Opt{kgo.DisableIdempotentWrite(), kgo.RequiredAcks(kgo.LeaderAck())}},
		{"snappy", []kgo.Opt{kgo.ProducerBatchCompression(kgo.SnappyCompression())}},
		{"uncompressed", []kgo.Opt{kgo.ProducerBatchCompression(kgo.NoCompression())}},
		{"gzip", []kgo.Opt{kgo.ProducerBatchCompression(kgo.GzipCompression())}},
	}
	pad := strings.Repeat(" padding", 64) // compressible: gzip batches stay compressed
	next := make([]int64, parts)
	for _, c := range clients {
		opts := append([]kgo.Opt{kgo.SeedBrokers(b.addr), kgo.ProducerLinger(0),
			kgo.RecordPartitioner(kgo.ManualPartitioner())}, c.opts...)
		cl, err := kgo.NewClient(opts...)
		if err != nil {
			t.Fatal(err)
		}
		before := b.h.ProducesInline()
		for i := range each {
			p := int32(i % parts)
			r := &kgo.Record{Topic: topic, Partition: p, Key: fmt.Appendf(nil, "%s-%d", c.name, i),
				Value: fmt.Appendf(nil, "value %s %d%s", c.name, i, pad), Headers: []kgo.RecordHeader{{Key: "n", Value: fmt.Append(nil, i)}}}
			if err := cl.ProduceSync(context.Background(), r).FirstErr(); err != nil {
				t.Fatalf("%s: produce %d: %v", c.name, i, err)
			}
			if r.Offset != next[p] {
				t.Fatalf("%s: record %d at offset %d of partition %d, want %d", c.name, i, r.Offset, p, next[p])
			}
			next[p]++
			if max, err := b.store.MaxOffset(topic, p); err != nil || max != next[p] {
				t.Fatalf("%s: after the ack of offset %d, partition %d ends at %d (%v)", c.name, r.Offset, p, max, err)
			}
		}
		cl.Close()
		inline := b.h.ProducesInline() - before
		t.Logf("%s: %d of %d produces answered on the event loop", c.name, inline, each)
		switch {
		case c.name == "gzip" && inline != 0:
			t.Fatalf("gzip: %d produces answered on the event loop, want none", inline)
		case c.name != "gzip" && inline < each/2:
			t.Fatalf("%s: %d of %d produces answered on the event loop, want most", c.name, inline, each)
		}
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(b.addr), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
		topic: {0: kgo.NewOffset().AtStart(), 1: kgo.NewOffset().AtStart()}}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	want := map[int32][]string{}
	for _, c := range clients {
		for i := range each {
			want[int32(i%parts)] = append(want[int32(i%parts)], fmt.Sprintf("%s-%d|value %s %d%s|n=%d", c.name, i, c.name, i, pad, i))
		}
	}
	got := map[int32][]string{}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for n := 0; n < len(clients)*each; {
		fs := cl.PollFetches(ctx)
		if err := fs.Err(); err != nil {
			t.Fatal(err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			got[r.Partition] = append(got[r.Partition], fmt.Sprintf("%s|%s|%s=%s", r.Key, r.Value, r.Headers[0].Key, r.Headers[0].Value))
			if want := int64(len(got[r.Partition]) - 1); r.Offset != want {
				t.Fatalf("partition %d: record at offset %d, want %d", r.Partition, r.Offset, want)
			}
			n++
		})
	}
	for p := range int32(parts) {
		if fmt.Sprint(got[p]) != fmt.Sprint(want[p]) {
			t.Fatalf("partition %d:\n got %v\nwant %v", p, got[p], want[p])
		}
	}
}
