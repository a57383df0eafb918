package kafkaapi_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// produceRounds sends rounds Produce requests, each with one single-record
// batch for every partition of topic: many small batches, as a chain of
// consumers re-producing what they read leaves them (kgo's TestGroupETL).
func produceRounds(t *testing.T, rc *rawConn, topic string, parts int32, rounds int) {
	t.Helper()
	for i := range rounds {
		req := kmsg.NewPtrProduceRequest()
		req.Version, req.Acks, req.TimeoutMillis = 9, 1, 5000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = topic
		for p := range parts {
			rp := kmsg.NewProduceRequestTopicPartition()
			rp.Partition, rp.Records = p, testBatch(t, fmt.Sprintf("p%d-r%d", p, i), 1)
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
		for _, p := range rc.roundTrip(req).(*kmsg.ProduceResponse).Topics[0].Partitions {
			if p.ErrorCode != 0 {
				t.Fatalf("produce round %d partition %d: error %d", i, p.Partition, p.ErrorCode)
			}
		}
	}
}

// checkBatches parses a partition's RecordBatches: whole v2 batches only
// (twinmq never cuts one), offsets dense from next. It returns the next
// offset and the bytes.
func checkBatches(t *testing.T, b []byte, next int64) (int64, int) {
	t.Helper()
	n := len(b)
	for len(b) > 0 {
		if len(b) < 12 {
			t.Fatalf("%d trailing bytes", len(b))
		}
		size := 12 + int(int32(binary.BigEndian.Uint32(b[8:])))
		if size < 61 || size > len(b) {
			t.Fatalf("batch of %d bytes in %d remaining", size, len(b))
		}
		var rb kmsg.RecordBatch
		if err := rb.ReadFrom(b[:size]); err != nil {
			t.Fatalf("batch at offset %d: %v", next, err)
		}
		if rb.FirstOffset != next {
			t.Fatalf("batch at offset %d, want %d", rb.FirstOffset, next)
		}
		next += int64(rb.LastOffsetDelta) + 1
		b = b[size:]
	}
	return next, n
}

// TestFetchManySmallBatches: a fetch answer made of thousands of stored
// batches (each a writev buffer, more than Linux's 1024 per writev) is
// well formed at every version and byte limit, and a franz-go consumer
// reads every record. The broker used to close the connection
// ("writev: invalid argument") and kgo looped on "killing connection"
// (TestGroupETL's KIP-848 variants with 500,000 records).
func TestFetchManySmallBatches(t *testing.T) {
	const parts, rounds = 6, 700
	b := startBroker(t)
	id := b.createTopic(t, "many", parts).ID
	rc := dial(t, b.addr)
	produceRounds(t, rc, "many", parts, rounds)

	limits := []struct{ maxBytes, partBytes int32 }{
		{50 << 20, 1 << 20}, // kgo's defaults
		{50 << 20, 50 << 20},
		{4 << 10, 1 << 20},
		{1, 1}, // one batch per fetch (KIP-74)
	}
	for _, v := range []int16{4, 11, 12, 16} {
		for _, lim := range limits {
			next := make([]int64, parts)
			for fetches := 0; ; fetches++ {
				if fetches > parts*rounds {
					t.Fatalf("v%d %+v: no progress", v, lim)
				}
				req := kmsg.NewPtrFetchRequest()
				req.Version, req.MaxWaitMillis, req.MaxBytes, req.ReplicaID = v, 0, lim.maxBytes, -1
				rt := kmsg.NewFetchRequestTopic()
				rt.Topic, rt.TopicID = "many", id
				for p := range int32(parts) {
					rp := kmsg.NewFetchRequestTopicPartition()
					rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = p, next[p], lim.partBytes
					rt.Partitions = append(rt.Partitions, rp)
				}
				req.Topics = append(req.Topics, rt)
				resp := rc.roundTrip(req).(*kmsg.FetchResponse)
				total, done := 0, true
				for _, p := range resp.Topics[0].Partitions {
					if p.ErrorCode != 0 {
						t.Fatalf("v%d %+v: partition %d error %d", v, lim, p.Partition, p.ErrorCode)
					}
					var n int
					next[p.Partition], n = checkBatches(t, p.RecordBatches, next[p.Partition])
					if n > 0 && total > 0 && total+n > int(lim.maxBytes) {
						t.Fatalf("v%d %+v: %d bytes after %d, over MaxBytes", v, lim, n, total)
					}
					total += n
					done = done && next[p.Partition] == rounds
				}
				if done {
					break
				}
			}
		}
	}

	// And the client that hit it, with its default fetch limits.
	host, port, _ := net.SplitHostPort(b.addr)
	p, _ := strconv.Atoi(port)
	b.h.SetAdvertised(host, int32(p))
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.addr), kgo.ConsumeTopics("many"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	seen := make(map[int32]int64)
	for got := 0; got < parts*rounds; {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("%d of %d records after %v", got, parts*rounds, err)
		}
		fs.EachError(func(_ string, p int32, err error) { t.Fatalf("partition %d: %v", p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset != seen[r.Partition] {
				t.Fatalf("partition %d: offset %d, want %d", r.Partition, r.Offset, seen[r.Partition])
			}
			seen[r.Partition]++
			got++
		})
	}
}

// TestFetchRecordsNeverNull: every partition of a fetch answer carries
// records, empty when there is nothing to give (at the high watermark, an
// unknown partition, an offset out of range), never null. librdkafka
// rejects a null record set ("invalid MessageSetSize -1", a protocol parse
// failure) and drops the rest of the answer, as Kafka never sends one.
func TestFetchRecordsNeverNull(t *testing.T) {
	b := startBroker(t)
	id := b.createTopic(t, "nonull", 3).ID
	rc := dial(t, b.addr)
	produceRounds(t, rc, "nonull", 1, 2)
	for _, v := range []int16{4, 11, 12, 16} {
		req := kmsg.NewPtrFetchRequest()
		req.Version, req.MaxWaitMillis, req.MaxBytes, req.ReplicaID = v, 0, 1<<20, -1
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic, rt.TopicID = "nonull", id
		for _, pp := range []struct {
			part int32
			off  int64
		}{{0, 0}, {1, 0}, {2, 7}, {9, 0}} { // data, empty, out of range, unknown
			rp := kmsg.NewFetchRequestTopicPartition()
			rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = pp.part, pp.off, 1<<20
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
		resp := rc.roundTrip(req).(*kmsg.FetchResponse)
		for _, p := range resp.Topics[0].Partitions {
			if p.RecordBatches == nil {
				t.Errorf("v%d partition %d (error %d): null records", v, p.Partition, p.ErrorCode)
			}
		}
		if n := len(resp.Topics[0].Partitions[0].RecordBatches); n == 0 {
			t.Errorf("v%d: partition 0 has no records", v)
		}
	}
}

// parkedFetch sends a fetch of an empty partition that waits up to a
// minute for one byte, and returns its correlation id.
func parkedFetch(t *testing.T, rc *rawConn, topic string) (*kmsg.FetchRequest, int32) {
	req := kmsg.NewPtrFetchRequest()
	req.Version, req.MaxWaitMillis, req.MinBytes, req.MaxBytes, req.ReplicaID = 4, 60_000, 1, 1<<20, -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.PartitionMaxBytes = 1 << 20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	b, corr := rc.frame(req)
	rc.write(b)
	return req, corr
}

// TestParkedFetchCutShort: a fetch parked for data is answered at once,
// empty, when the listener shuts down, and given up when its connection
// closes; neither holds Shutdown for the fetch's minute of MaxWait.
func TestParkedFetchCutShort(t *testing.T) {
	b := startBroker(t)
	b.createTopic(t, "parked", 1)
	gone := dial(t, b.addr)
	parkedFetch(t, gone, "parked")
	open := dial(t, b.addr)
	req, corr := parkedFetch(t, open, "parked")
	// Both are parked once a produce would be needed to answer them:
	// nothing comes back on either meanwhile.
	if _, err := open.readFrame(200 * time.Millisecond); err == nil {
		t.Fatal("the fetch was answered without data")
	}
	_ = gone.c.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.srv.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown with parked fetches: %v", err)
	}
	resp := open.readResponse(req, corr).(*kmsg.FetchResponse)
	if p := resp.Topics[0].Partitions[0]; p.ErrorCode != 0 || len(p.RecordBatches) != 0 || p.HighWatermark != 0 {
		t.Fatalf("drained fetch: error %d, %d bytes, high watermark %d", p.ErrorCode, len(p.RecordBatches), p.HighWatermark)
	}
}
