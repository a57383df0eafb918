package kafkaapi_test

import (
	"context"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/storage"
	"github.com/twinmq/twinmq/wire/kafka"
	"github.com/twinmq/twinmq/wire/remoting"
)

// listOffset asks ListOffsets v7 for one partition's offset at ts.
func listOffset(t *testing.T, rc *rawConn, topic string, ts int64) (int64, int64) {
	t.Helper()
	req := kmsg.NewPtrListOffsetsRequest()
	req.Version, req.ReplicaID = 7, -1
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Timestamp = ts
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	p := rc.roundTrip(req).(*kmsg.ListOffsetsResponse).Topics[0].Partitions[0]
	if p.ErrorCode != 0 {
		t.Fatalf("ListOffsets %d: error %d", ts, p.ErrorCode)
	}
	return p.Offset, p.Timestamp
}

// TestListOffsetsByTimestamp: with CreateTime timestamps out of order
// (producers' clocks), in Kafka batches and RocketMQ messages (born
// timestamps) mixed in one partition, ListOffsets answers the first record whose
// timestamp is >= the target, as Kafka's time index does, for targets
// before, between, on and after stored timestamps, across enough
// batches for the sparse index to have many entries; and never an offset
// below the log start.
func TestListOffsetsByTimestamp(t *testing.T) {
	b := startBroker(t)
	b.createTopic(t, "times", 1)
	rc := dial(t, b.addr)
	rng := rand.New(rand.NewPCG(1, 2))
	// An hour ahead of the broker's clock: a store-time search (the old
	// "store time minus a minute" start) finds none of these.
	base := time.Now().UnixMilli() + 3_600_000
	var stamps []int64 // by offset
	value := make([]byte, 1500)
	host := netip.MustParseAddrPort("127.0.0.1:10911")
	for range 200 { // ~300 KiB: several index entries
		if rng.IntN(3) == 0 {
			// A run of RocketMQ messages in the same partition: a Kafka
			// consumer reads each with its born timestamp.
			for range 1 + rng.IntN(5) {
				born := base + rng.Int64N(1_000_000)
				m := &remoting.MessageExt{Topic: "times", BornTimestamp: born, BornHost: host, StoreHost: host, Body: value}
				m.SysFlag = remoting.HostSysFlags(host, host)
				e := storage.Entry{Kind: storage.KindRocketMQ, Topic: "times", Count: 1, Payload: remoting.AppendStoredMessage(nil, m),
					Encode: func(p []byte, phys, queueOffset, storeTime int64) {
						_ = remoting.PatchStored(p, queueOffset, phys, storeTime)
					}}
				if _, err := b.store.Append(context.Background(), []storage.Entry{e}); err != nil {
					t.Fatal(err)
				}
				stamps = append(stamps, born)
			}
		}
		n := 1 + rng.IntN(4)
		first := base + rng.Int64N(1_000_000)
		recs := make([]kafka.Record, n)
		for i := range recs {
			d := rng.Int64N(5_000)
			recs[i] = kafka.Record{TimestampDelta: d, OffsetDelta: int32(i), Value: value}
			stamps = append(stamps, first+d)
		}
		spec := kafka.BatchSpec{FirstTimestamp: first, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}
		batch, err := kafka.AppendBatch(nil, spec, recs, kafka.CodecNone)
		if err != nil {
			t.Fatal(err)
		}
		if code := produceOne(rc, "times", 0, batch); code != 0 {
			t.Fatalf("produce: error %d", code)
		}
	}
	want := func(from int, ts int64) (int64, int64) {
		for o := from; o < len(stamps); o++ {
			if stamps[o] >= ts {
				return int64(o), stamps[o]
			}
		}
		return -1, -1
	}
	check := func(from int) {
		t.Helper()
		targets := []int64{0, base - 1, base + 2_000_000}
		for range 100 {
			targets = append(targets, base+rng.Int64N(1_010_000))
		}
		for _, o := range []int{from, len(stamps) / 2, len(stamps) - 1} {
			targets = append(targets, stamps[o], stamps[o]+1)
		}
		for _, ts := range targets {
			gotOff, gotTs := listOffset(t, rc, "times", ts)
			if wantOff, wantTs := want(from, ts); gotOff != wantOff || gotTs != wantTs {
				t.Fatalf("start %d, ts %d: offset %d (ts %d), want %d (ts %d)", from, ts, gotOff, gotTs, wantOff, wantTs)
			}
		}
		// -3: the first record with the largest timestamp.
		maxOff, maxTs := from, stamps[from]
		for o := from; o < len(stamps); o++ {
			if stamps[o] > maxTs {
				maxOff, maxTs = o, stamps[o]
			}
		}
		if gotOff, gotTs := listOffset(t, rc, "times", -3); gotOff != int64(maxOff) || gotTs != maxTs {
			t.Fatalf("start %d, max timestamp: offset %d (ts %d), want %d (ts %d)", from, gotOff, gotTs, maxOff, maxTs)
		}
	}
	check(0)

	// Move the log start past the largest timestamp, into a batch.
	var maxOff int
	for o := range stamps {
		if stamps[o] > stamps[maxOff] {
			maxOff = o
		}
	}
	start := maxOff + 1
	if start > len(stamps)-10 {
		start = len(stamps) / 2
	}
	if err := b.store.SetMinOffset("times", 0, int64(start)); err != nil {
		t.Fatal(err)
	}
	check(start)
}
