package remotingapi

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/twinmq/twinmq/broker/topics"
	"github.com/twinmq/twinmq/storage"
	"github.com/twinmq/twinmq/wire/kafka"
	"github.com/twinmq/twinmq/wire/remoting"
)

// Issue 7's read ratio on the broker side: the server's cost to answer
// RocketMQ pulls over the same data stored two ways in one real store, a
// queue of Kafka-produced batches (converted on every pull, xproto_pull.go)
// and a queue of RocketMQ-produced messages (served verbatim). Both hold
// xbRecords random 1 KiB values with a key, a header/property and a tag.
// Every iteration drains each queue from offset 0 as a consumer does
// (PULL_MESSAGE of 32 entries after 32, readPull as pullMessage calls
// it), and encodes each response: the header, then the bodies copied into
// one buffer, the copy the kernel makes of sendPull's writev. The two
// drains alternate, so machine noise hits both alike; the metrics are the
// MB/s of values served each way and their ratio (target >= 0.5):
//
//	go test ./broker/remotingapi -run '^$' -bench XProtoPull -benchtime 20x
const (
	xbRecords   = 4000
	xbPerBatch  = 100 // records per Kafka batch (franz-go lingers into batches of this order)
	xbValueSize = 1 << 10
)

func BenchmarkXProtoPull(b *testing.B) {
	br, st, _ := startBroker(b)
	ctx := context.Background()
	for _, name := range []string{"kafka-produced", "rocketmq-produced"} {
		if _, err := br.topics.Create(ctx, topics.Config{Name: name, Queues: 1}); err != nil {
			b.Fatal(err)
		}
	}
	xbAppend(b, st, xbKafkaEntries(b, "kafka-produced"))
	xbAppend(b, st, xbRocketMQEntries(br, "rocketmq-produced"))
	var same, cross time.Duration
	var out []byte
	b.SetBytes(2 * xbRecords * xbValueSize)
	b.ReportAllocs()
	for b.Loop() {
		start := time.Now()
		xbDrainPull(b, br, "rocketmq-produced", &out)
		mid := time.Now()
		xbDrainPull(b, br, "kafka-produced", &out)
		same, cross = same+mid.Sub(start), cross+time.Since(mid)
	}
	mb := float64(b.N) * xbRecords * xbValueSize / 1e6
	b.ReportMetric(mb/same.Seconds(), "verbatim-MB/s")
	b.ReportMetric(mb/cross.Seconds(), "converted-MB/s")
	b.ReportMetric(same.Seconds()/cross.Seconds(), "converted/verbatim")
}

// xbDrainPull pulls queue 0 of topic from offset 0 to its end and checks
// that every record came.
func xbDrainPull(b *testing.B, br *Broker, topic string, out *[]byte) {
	req := remoting.NewRequest(remoting.PullMessage, 1)
	r := pullRequest{group: "g", topic: topic, maxMsgs: maxPullMessages}
	msgs := 0
	for {
		res, err := br.readPull(context.Background(), &r, nil)
		if err != nil {
			b.Fatal(err)
		}
		if res.code != remoting.Success {
			break
		}
		*out = remoting.AppendHeader((*out)[:0], pullResponse(req, res), res.n)
		for _, p := range res.parts {
			*out = append(*out, p...)
			msgs++ // a stored message, or a run of converted records
		}
		res.release()
		r.offset = res.next
	}
	if r.offset != xbRecords || msgs == 0 {
		b.Fatalf("%s: drained to offset %d of %d", topic, r.offset, xbRecords)
	}
}

// xbAppend stores entries and waits until the dispatcher has made all
// xbRecords offsets of their topic readable.
func xbAppend(b *testing.B, st *storage.Store, entries []storage.Entry) {
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

// xbKafkaEntries are the store entries a Kafka producer of uncompressed
// batches makes (buildEntry in kafkaapi/00_produce.go): the batch as
// sent, one TAGS code per record, base offset set at append.
func xbKafkaEntries(b *testing.B, topic string) []storage.Entry {
	var out []storage.Entry
	now := time.Now().UnixMilli()
	for first := 0; first < xbRecords; first += xbPerBatch {
		recs := make([]kafka.Record, xbPerBatch)
		tags := make([]int64, xbPerBatch)
		for j := range recs {
			i := first + j
			recs[j] = kafka.Record{OffsetDelta: int32(j), Key: fmt.Appendf(nil, "key-%d", i), Value: xbValue(i),
				Headers: []kafka.RecordHeader{{Key: "h", Value: fmt.Appendf(nil, "hv-%d", i)}, {Key: "TAGS", Value: []byte(xbTag(i))}}}
			tags[j] = remoting.TagsHashCode(xbTag(i))
		}
		batch, err := kafka.AppendBatch(nil, kafka.BatchSpec{FirstTimestamp: now, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1},
			recs, kafka.CodecNone)
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, storage.Entry{Kind: storage.KindKafka, Topic: topic, Count: xbPerBatch, TagsCodes: tags, Payload: batch,
			Encode: func(p []byte, _, queueOffset, _ int64) { _ = kafka.SetBaseOffset(p, queueOffset) }})
	}
	return out
}

// xbRocketMQEntries are the store entries of single sends (Broker.entry,
// as sendMessage makes them) of the same records.
func xbRocketMQEntries(br *Broker, topic string) []storage.Entry {
	out := make([]storage.Entry, xbRecords)
	now := time.Now().UnixMilli()
	for i := range out {
		props := remoting.AppendPropertyList(nil, []remoting.Property{{Key: "TAGS", Value: xbTag(i)},
			{Key: "KEYS", Value: fmt.Sprint("key-", i)}, {Key: "h", Value: fmt.Sprint("hv-", i)},
			{Key: "UNIQ_KEY", Value: fmt.Sprintf("%032X", i)}})
		m := &remoting.MessageExt{Topic: topic, BornTimestamp: now, BornHost: br.storeHost, StoreHost: br.storeHost,
			Body: xbValue(i), Properties: props}
		m.SysFlag = remoting.HostSysFlags(m.BornHost, m.StoreHost)
		e := br.entry(m)
		out[i] = e.StoreEntry()
	}
	return out
}
