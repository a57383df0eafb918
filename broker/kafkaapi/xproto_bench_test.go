package kafkaapi

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/broker/topics"
	"github.com/twinmq/twinmq/storage"
	"github.com/twinmq/twinmq/wire/kafka"
	"github.com/twinmq/twinmq/wire/remoting"
)

// Issue 7's read ratio on the broker side: the server's cost to answer
// Kafka fetches over the same data stored two ways in one real store, a
// partition of RocketMQ-produced messages (converted on every fetch,
// xproto_fetch.go) and a partition of Kafka-produced batches (served
// verbatim). Both hold xbRecords random 1 KiB values with a key, a
// header/property and a tag. Every iteration drains each partition from
// offset 0 as a consumer does (Fetch v12, 1 MiB per partition, the build
// fetch runs), and encodes each response as replyParts does: kmsg around
// markers, the batches spliced in, all copied into one buffer (the copy
// the kernel makes of the writev). The two drains alternate, so machine
// noise hits both alike; the metrics are the MB/s of values served each
// way and their ratio (target >= 0.5):
//
//	go test ./broker/kafkaapi -run '^$' -bench XProtoFetch -benchtime 20x
const (
	xbRecords   = 4000
	xbPerBatch  = 100 // records per Kafka batch
	xbValueSize = 1 << 10
)

func BenchmarkXProtoFetch(b *testing.B) {
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	st, err := storage.Open(ctx, storage.Config{Dir: b.TempDir(), SegmentSize: 64 << 20, Logger: log})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	reg, err := topics.Open(ctx, st, log)
	if err != nil {
		b.Fatal(err)
	}
	defer reg.Close()
	h, err := New(Config{NodeID: 1, ClusterID: "bench", Logger: log, XProtoCacheBytes: -1}, st, reg) // no cache: every fetch converts
	if err != nil {
		b.Fatal(err)
	}
	for _, name := range []string{"kafka-produced", "rocketmq-produced"} {
		cfg, err := reg.Create(ctx, topics.Config{Name: name, Queues: 1})
		if err != nil {
			b.Fatal(err)
		}
		entries := xbRocketMQEntries(name)
		if name == "kafka-produced" {
			entries = xbKafkaEntries(b, h, cfg)
		}
		xbAppend(b, st, entries)
	}
	var same, cross, unconv time.Duration
	var out []byte
	b.SetBytes(2 * xbRecords * xbValueSize)
	b.ReportAllocs()
	for b.Loop() {
		start := time.Now()
		xbDrainFetch(b, h, "kafka-produced", &out)
		mid := time.Now()
		xbDrainFetch(b, h, "rocketmq-produced", &out)
		end := time.Now()
		xbDrainStored(b, st, "rocketmq-produced", &out)
		same, cross, unconv = same+mid.Sub(start), cross+end.Sub(mid), unconv+time.Since(end)
	}
	mb := float64(b.N) * xbRecords * xbValueSize / 1e6
	b.ReportMetric(mb/same.Seconds(), "verbatim-MB/s")
	b.ReportMetric(mb/cross.Seconds(), "converted-MB/s")
	b.ReportMetric(same.Seconds()/cross.Seconds(), "converted/verbatim")
	// The bound: the RocketMQ-produced partition read from the store and
	// its stored messages copied out as they are, no conversion (what a
	// RocketMQ pull serves). A fetch converting them cannot be faster.
	b.ReportMetric(same.Seconds()/unconv.Seconds(), "unconverted/verbatim")
}

// xbDrainStored reads partition 0 of topic from the store as a fetch does
// (1 MiB reads) and copies the stored entries into out, unconverted.
func xbDrainStored(b *testing.B, st *storage.Store, topic string, out *[]byte) {
	for offset := int64(0); offset < xbRecords; {
		rd, err := st.Read(topic, 0, offset, storage.ReadOptions{MaxBytes: 1 << 20})
		if err != nil || rd.NextOffset == offset {
			b.Fatalf("%s@%d: read %v", topic, offset, err)
		}
		*out = (*out)[:0]
		for _, e := range rd.Entries {
			*out = append(*out, e.Payload...)
		}
		offset = rd.NextOffset
		rd.Release()
	}
}

// xbDrainFetch fetches partition 0 of topic from offset 0 to its end and
// checks that every record came.
func xbDrainFetch(b *testing.B, h *Handler, topic string, out *[]byte) {
	xbDrainFetchThink(b, h, topic, out, 0)
}

// xbDrainFetchThink is xbDrainFetch by a consumer that handles each
// fetch's records for think per MiB before fetching again (sleeping: the
// client runs elsewhere), and returns the time spent fetching.
func xbDrainFetchThink(b *testing.B, h *Handler, topic string, out *[]byte, think time.Duration) time.Duration {
	return xbDrainFetchIso(b, h, topic, out, think, 0)
}

// xbDrainFetchIso is xbDrainFetchThink at an isolation level (0
// read_uncommitted, 1 read_committed).
func xbDrainFetchIso(b *testing.B, h *Handler, topic string, out *[]byte, think time.Duration, iso int8) time.Duration {
	offset := int64(0)
	var fetching time.Duration
	for offset < xbRecords {
		if offset > 0 && think > 0 {
			time.Sleep(think * time.Duration(len(*out)) / (1 << 20))
		}
		t0 := time.Now()
		req := kmsg.NewPtrFetchRequest()
		req.SetVersion(12)
		req.MaxBytes, req.MinBytes, req.ReplicaID, req.IsolationLevel = 50<<20, 1, -1, iso
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.FetchOffset, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch, rp.LastFetchedEpoch = offset, 1<<20, -1, -1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		f := &fetchState{h: h, req: req, markers: newFetchMarkers()}
		resp, reads, _, _, errs := f.build(context.Background())
		if errs || len(f.data) != 1 {
			b.Fatalf("%s@%d: fetch errors %v, %d partitions with data", topic, offset, errs, len(f.data))
		}
		bufs, ok := spliceParts(kafka.AppendResponse(nil, 1, resp), &f.markers, f.data, resp.IsFlexible())
		if !ok {
			b.Fatal("markers not found")
		}
		*out = (*out)[:0]
		for _, p := range bufs {
			*out = append(*out, p...)
		}
		// The partition's batches follow the response up to its
		// RecordBatches length (bufs[0], bufs[1]); a converted batch may
		// be several parts (its bodies not copied), so walk the batches.
		n := 0
		for _, p := range f.data[0] {
			n += len(p)
		}
		records := (*out)[len(bufs[0])+len(bufs[1]):][:n]
		for len(records) > 0 {
			h, err := kafka.ParseBatchHeader(records)
			if err != nil || int(h.BatchLength)+12 > len(records) {
				b.Fatalf("%s@%d: batch %+v, %d bytes left: %v", topic, offset, h, len(records), err)
			}
			offset = h.BaseOffset + int64(h.LastOffsetDelta) + 1
			records = records[12+h.BatchLength:]
		}
		for _, rd := range reads {
			rd.Release()
		}
		fetching += time.Since(t0)
	}
	if offset != xbRecords {
		b.Fatalf("%s: fetched to offset %d of %d", topic, offset, xbRecords)
	}
	return fetching
}

// xbAppend stores entries and waits until the dispatcher has made all
// xbRecords offsets of their topic readable.
func xbAppend(b testing.TB, st *storage.Store, entries []storage.Entry) {
	topic := entries[0].Topic
	for len(entries) > 0 {
		n := min(len(entries), 256)
		if _, err := st.Append(context.Background(), entries[:n]); err != nil {
			b.Fatal(err)
		}
		entries = entries[n:]
	}
	deadline := time.Now().Add(10 * time.Second)
	for end, _ := st.MaxOffset(topic, 0); end < xbRecords; end, _ = st.MaxOffset(topic, 0) {
		if time.Now().After(deadline) {
			b.Fatalf("%s: %d of %d offsets readable", topic, end, xbRecords)
		}
		time.Sleep(time.Millisecond)
	}
}

// xbValue is record i's value: 1 KiB of seeded random bytes.
func xbValue(i int) []byte {
	r := rand.New(rand.NewPCG(7, uint64(i)))
	v := make([]byte, xbValueSize)
	for j := range v {
		v[j] = byte(r.Uint32())
	}
	return v
}

func xbTag(i int) string {
	if i%2 == 0 {
		return "TagA"
	}
	return "TagB"
}

// xbKafkaEntries are the entries Produce stores for uncompressed batches
// of xbPerBatch records (buildEntry, 00_produce.go).
func xbKafkaEntries(b testing.TB, h *Handler, cfg topics.Config) []storage.Entry {
	var out []storage.Entry
	now := time.Now().UnixMilli()
	for first := 0; first < xbRecords; first += xbPerBatch {
		recs := make([]kafka.Record, xbPerBatch)
		for j := range recs {
			i := first + j
			recs[j] = kafka.Record{OffsetDelta: int32(j), Key: fmt.Appendf(nil, "key-%d", i), Value: xbValue(i),
				Headers: []kafka.RecordHeader{{Key: "h", Value: fmt.Appendf(nil, "hv-%d", i)}, {Key: "TAGS", Value: []byte(xbTag(i))}}}
		}
		batch, err := kafka.AppendBatch(nil, kafka.BatchSpec{FirstTimestamp: now, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1},
			recs, kafka.CodecNone)
		if err != nil {
			b.Fatal(err)
		}
		e, _, _, code := h.buildEntry(cfg, 0, batch, nil)
		if code != errNone {
			b.Fatalf("build entry: code %d", code)
		}
		out = append(out, e.StoreEntry())
	}
	return out
}

// xbRocketMQEntries are the entries a RocketMQ single send stores
// (remotingapi's Broker.entry) for the same records.
func xbRocketMQEntries(topic string) []storage.Entry {
	host := netip.MustParseAddrPort("127.0.0.1:10911")
	out := make([]storage.Entry, xbRecords)
	now := time.Now().UnixMilli()
	for i := range out {
		props := remoting.AppendPropertyList(nil, []remoting.Property{{Key: "TAGS", Value: xbTag(i)},
			{Key: "KEYS", Value: fmt.Sprint("key-", i)}, {Key: "h", Value: fmt.Sprint("hv-", i)},
			{Key: "UNIQ_KEY", Value: fmt.Sprintf("%032X", i)}})
		m := &remoting.MessageExt{Topic: topic, BornTimestamp: now, BornHost: host, StoreHost: host, Body: xbValue(i), Properties: props}
		m.SysFlag = remoting.HostSysFlags(host, host)
		out[i] = storage.Entry{Kind: storage.KindRocketMQ, Topic: topic, Count: 1,
			TagsCodes: []int64{remoting.TagsHashCode(xbTag(i))}, Keys: []string{fmt.Sprint("key-", i)},
			Payload: remoting.AppendStoredMessage(nil, m),
			Encode: func(p []byte, phys, queueOffset, storeTime int64) {
				_ = remoting.PatchStored(p, queueOffset, phys, storeTime)
			}}
	}
	return out
}
