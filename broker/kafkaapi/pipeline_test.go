package kafkaapi_test

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/storage"
	"github.com/twinmq/twinmq/wire/kafka"
)

// TestPipelinedProduceStoresEachBatchOnce pipelines many non-idempotent
// produce requests (acks 1, -1 and 0 mixed) with distinct payloads on
// several connections while other goroutines keep every core busy: every
// record must be stored exactly once, and every request with acks != 0
// answered exactly once, in request order, without error.
func TestPipelinedProduceStoresEachBatchOnce(t *testing.T) {
	b := startBroker(t)
	topic := "pipeline"
	b.createTopic(t, topic, 2)

	stop := make(chan struct{})
	var burners sync.WaitGroup
	for range 2 * runtime.GOMAXPROCS(0) {
		burners.Go(func() { burn(stop) })
	}
	defer func() { close(stop); burners.Wait() }()

	const conns, perConn = 4, 300
	var wg sync.WaitGroup
	var want atomic.Int64
	for c := range conns {
		wg.Go(func() { want.Add(int64(pipelineProduce(t, b.addr, topic, c, perConn))) })
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	seen := map[string]int{}
	for p := range int32(2) {
		readValues(t, b.store, topic, p, func(v string) { seen[v]++ })
	}
	for v, n := range seen {
		if n != 1 {
			t.Errorf("record %q stored %d times", v, n)
		}
	}
	t.Logf("%d records stored once each", len(seen))
	if int64(len(seen)) != want.Load() {
		t.Errorf("stored %d distinct records, produced %d", len(seen), want.Load())
	}
}

// burn keeps a core busy until stop is closed.
func burn(stop <-chan struct{}) {
	x := 0
	for {
		select {
		case <-stop:
			return
		default:
		}
		for i := range 100_000 {
			x += i
		}
		runtime.Gosched()
	}
}

// pipelineProduce writes n produce requests on one connection without
// waiting, reads the replies concurrently, and returns the records sent.
func pipelineProduce(t *testing.T, addr, topic string, conn, n int) int {
	rc := dial(t, addr)
	type sent struct {
		req  *kmsg.ProduceRequest
		corr int32
	}
	answered := make(chan sent, n)
	records := 0
	var frames [][]byte
	for i := range n {
		req := kmsg.NewPtrProduceRequest()
		req.Version = int16(3 + i%7) // v3..v9, flexible from v9
		req.Acks = []int16{1, -1, 1, -1, 0}[i%5]
		req.TimeoutMillis = 30_000
		nrec := 1 + i%3
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Partition = int32(i % 2)
		rp.Records = testBatch(t, fmt.Sprintf("c%d-r%d", conn, i), nrec)
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		records += nrec
		f, corr := rc.frame(req)
		frames = append(frames, f)
		if req.Acks != 0 {
			answered <- sent{req, corr}
		}
	}
	close(answered)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, f := range frames {
			if _, err := rc.c.Write(f); err != nil {
				t.Errorf("conn %d: write: %v", conn, err)
				return
			}
		}
	}()
	for s := range answered {
		b, err := rc.readFrame(30 * time.Second)
		if err != nil {
			t.Errorf("conn %d: reading reply to %d: %v", conn, s.corr, err)
			break
		}
		resp, corr, err := decodeResponse(s.req, b)
		if err != nil || corr != s.corr {
			t.Errorf("conn %d: reply %d (%v), want %d", conn, corr, err, s.corr)
			break
		}
		for _, rt := range resp.(*kmsg.ProduceResponse).Topics {
			for _, rp := range rt.Partitions {
				if rp.ErrorCode != 0 {
					t.Errorf("conn %d: request %d: error %d", conn, corr, rp.ErrorCode)
				}
			}
		}
	}
	<-done
	// Nothing more may come: the next reply is the one to a fresh request.
	md := kmsg.NewPtrMetadataRequest()
	rc.roundTrip(md)
	return records
}

// testBatch is one uncompressed batch of n records with values tag-0..n-1.
func testBatch(t testing.TB, tag string, n int) []byte {
	t.Helper()
	recs := make([]kafka.Record, n)
	for i := range recs {
		recs[i] = kafka.Record{Value: fmt.Appendf(nil, "%s-%d", tag, i)}
	}
	spec := kafka.BatchSpec{FirstTimestamp: time.Now().UnixMilli(), ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}
	b, err := kafka.AppendBatch(nil, spec, recs, kafka.CodecNone)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// readValues calls fn with the value of every record of a partition, after
// checking that the offsets are dense from 0.
func readValues(t testing.TB, store *storage.Store, topic string, part int32, fn func(string)) {
	t.Helper()
	hi, err := store.MaxOffset(topic, part)
	if err != nil {
		t.Fatal(err)
	}
	next := int64(0)
	for off := int64(0); off < hi; {
		res, err := store.Read(topic, part, off, storage.ReadOptions{MaxBytes: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range res.Entries {
			if e.QueueOffset != next {
				t.Errorf("%s/%d: entry at %d, want %d", topic, part, e.QueueOffset, next)
			}
			next = e.QueueOffset + int64(e.Count)
			err := kafka.ForEachRecord(e.Payload, 0, func(r kafka.Record) error {
				fn(string(r.Value))
				return nil
			})
			if err != nil {
				t.Errorf("%s/%d@%d: %v", topic, part, e.QueueOffset, err)
			}
		}
		off = res.NextOffset
		res.Release()
	}
}
