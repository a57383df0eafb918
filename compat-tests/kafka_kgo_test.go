package compattests

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// kafkaRecord is what a test produced and expects back.
type kafkaRecord struct {
	Partition int32
	Key       string
	Value     string
	Header    string
	Timestamp time.Time
}

func kgoClient(t *testing.T, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func createTopic(t *testing.T, addr, topic string, partitions int32, configs map[string]*string) {
	t.Helper()
	adm := kadm.NewClient(kgoClient(t, addr))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := adm.CreateTopic(ctx, partitions, 1, configs, topic)
	if err != nil || resp.Err != nil {
		t.Fatalf("create %s: %v %v", topic, err, resp.Err)
	}
}

// produceKgo produces n records spread over the partitions by key and
// returns them in produce order.
func produceKgo(t *testing.T, cl *kgo.Client, topic string, partitions int32, n int, tag string) []kafkaRecord {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	want := wantRecords(n, partitions, tag)
	recs := make([]*kgo.Record, n)
	for i := range n {
		recs[i] = &kgo.Record{Topic: topic, Partition: want[i].Partition, Key: []byte(want[i].Key),
			Value: []byte(want[i].Value), Timestamp: want[i].Timestamp,
			Headers: []kgo.RecordHeader{{Key: "i", Value: []byte(want[i].Header)}}}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	return want
}

// consumeKgo reads partitions from the given offsets until it has n
// records (or times out) and returns them.
func consumeKgo(t *testing.T, addr, topic string, from map[int32]kgo.Offset, n int) []*kgo.Record {
	t.Helper()
	cl := kgoClient(t, addr, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: from}),
		kgo.FetchMaxWait(200*time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var got []*kgo.Record
	for len(got) < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d records: %v", len(got), n, err)
		}
		fs.EachError(func(tp string, p int32, err error) { t.Errorf("fetch %s/%d: %v", tp, p, err) })
		got = append(got, fs.Records()...)
	}
	return got
}

// gotRecord is a consumed record, whatever the client.
type gotRecord struct {
	Partition int32
	Offset    int64
	Key       string
	Value     string
	Header    string // value of header "i"
	Timestamp time.Time
}

func fromKgo(rs []*kgo.Record) []gotRecord {
	out := make([]gotRecord, len(rs))
	for i, r := range rs {
		out[i] = gotRecord{Partition: r.Partition, Offset: r.Offset, Key: string(r.Key), Value: string(r.Value), Timestamp: r.Timestamp}
		for _, h := range r.Headers {
			if h.Key == "i" {
				out[i].Header = string(h.Value)
			}
		}
	}
	return out
}

// checkRecords asserts every wanted record arrived once, in order per
// partition, with key, header and timestamp (unless checkTs is false).
func checkRecords(t *testing.T, want []kafkaRecord, got []gotRecord, checkTs bool) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	perPart := map[int32][]kafkaRecord{}
	for _, w := range want {
		perPart[w.Partition] = append(perPart[w.Partition], w)
	}
	next := map[int32]int{}
	lastOff := map[int32]int64{}
	for _, r := range got {
		i := next[r.Partition]
		ws := perPart[r.Partition]
		if i >= len(ws) {
			t.Fatalf("extra record on partition %d: %s", r.Partition, r.Value)
		}
		w := ws[i]
		if o, ok := lastOff[r.Partition]; ok && r.Offset != o+1 {
			t.Fatalf("partition %d: offset %d after %d", r.Partition, r.Offset, o)
		}
		lastOff[r.Partition] = r.Offset
		if r.Key != w.Key || r.Value != w.Value || r.Header != w.Header || (checkTs && !r.Timestamp.Equal(w.Timestamp)) {
			t.Fatalf("partition %d #%d (offset %d): got %s/%s/%s/%v, want %s/%s/%s/%v", r.Partition, i, r.Offset,
				r.Key, r.Value, r.Header, r.Timestamp, w.Key, w.Value, w.Header, w.Timestamp)
		}
		next[r.Partition]++
	}
}

// wantRecords makes n records spread over the partitions, an hour old.
func wantRecords(n int, partitions int32, tag string) []kafkaRecord {
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	want := make([]kafkaRecord, n)
	for i := range n {
		want[i] = kafkaRecord{
			Partition: int32(i) % partitions, Key: fmt.Sprintf("k%d", i), Value: fmt.Sprintf("%s-v%d", tag, i),
			Header: strconv.Itoa(i), Timestamp: base.Add(time.Duration(i) * time.Millisecond),
		}
	}
	return want
}

// consumeAllKgo reads every partition from the start with kgo.
func consumeAllKgo(t *testing.T, addr, topic string, partitions int32, n int) []gotRecord {
	from := map[int32]kgo.Offset{}
	for p := range partitions {
		from[p] = kgo.NewOffset().AtStart()
	}
	return fromKgo(consumeKgo(t, addr, topic, from, n))
}

func TestKafkaKgoCodecsProduceConsume(t *testing.T) {
	b := startKafka(t, t.TempDir(), "127.0.0.1:0")
	codecs := map[string]kgo.CompressionCodec{
		"none": kgo.NoCompression(), "gzip": kgo.GzipCompression(), "snappy": kgo.SnappyCompression(),
		"lz4": kgo.Lz4Compression(), "zstd": kgo.ZstdCompression(),
	}
	for name, codec := range codecs {
		t.Run(name, func(t *testing.T) {
			topic := kafkaTopicName(t, "kgo-"+name)
			createTopic(t, b.addr, topic, 3, nil)
			// Default kgo: idempotent; a manual partitioner to place records.
			cl := kgoClient(t, b.addr, kgo.ProducerBatchCompression(codec), kgo.RecordPartitioner(kgo.ManualPartitioner()))
			want := produceKgo(t, cl, topic, 3, 300, name)
			checkRecords(t, want, consumeAllKgo(t, b.addr, topic, 3, len(want)), true)

			// From the middle of partition 1: exactly the later records.
			var p1 []kafkaRecord
			for _, w := range want {
				if w.Partition == 1 {
					p1 = append(p1, w)
				}
			}
			mid := len(p1) / 2
			got := consumeKgo(t, b.addr, topic, map[int32]kgo.Offset{1: kgo.NewOffset().At(int64(mid))}, len(p1)-mid)
			if got[0].Offset != int64(mid) {
				t.Fatalf("first record from the middle has offset %d, want %d", got[0].Offset, mid)
			}
			checkRecords(t, p1[mid:], fromKgo(got), true)
		})
	}
}

func TestKafkaKgoListOffsetsByTime(t *testing.T) {
	b := startKafka(t, t.TempDir(), "127.0.0.1:0")
	topic := kafkaTopicName(t, "times")
	createTopic(t, b.addr, topic, 1, nil)
	cl := kgoClient(t, b.addr)
	want := produceKgo(t, cl, topic, 1, 50, "ts")
	adm := kadm.NewClient(cl)
	ctx := context.Background()
	for _, i := range []int{0, 17, 49} {
		res, err := adm.ListOffsetsAfterMilli(ctx, want[i].Timestamp.UnixMilli(), topic)
		if err != nil {
			t.Fatal(err)
		}
		lo, _ := res.Lookup(topic, 0)
		if lo.Err != nil || lo.Offset != int64(i) || lo.Timestamp != want[i].Timestamp.UnixMilli() {
			t.Fatalf("after %d: %+v", i, lo)
		}
	}
	res, err := adm.ListOffsetsAfterMilli(ctx, time.Now().Add(time.Hour).UnixMilli(), topic)
	if err != nil {
		t.Fatal(err)
	}
	if lo, _ := res.Lookup(topic, 0); lo.Offset != 50 {
		t.Fatalf("after the last record: %+v, want the end offset 50", lo)
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	if lo, _ := ends.Lookup(topic, 0); lo.Offset != 50 {
		t.Fatalf("end offset %+v", lo)
	}
	// -3: the record with the largest timestamp.
	req := kmsg.NewPtrListOffsetsRequest()
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Timestamp = -3
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if p := resp.Topics[0].Partitions[0]; p.Offset != 49 || p.Timestamp != want[49].Timestamp.UnixMilli() {
		t.Fatalf("max timestamp: %+v", p)
	}
}

func TestKafkaKgoAdminRoundTrip(t *testing.T) {
	b := startKafka(t, t.TempDir(), "127.0.0.1:0")
	cl := kgoClient(t, b.addr)
	adm := kadm.NewClient(cl)
	ctx := context.Background()
	topic := kafkaTopicName(t, "admin")
	ms := "3600000"

	vr, err := adm.ValidateCreateTopics(ctx, 2, 1, map[string]*string{"retention.ms": &ms}, topic)
	if err != nil || vr.Error() != nil {
		t.Fatalf("validate-only: %v %v", err, vr.Error())
	}
	if _, ok := b.reg.Get(topic); ok {
		t.Fatal("validate-only created the topic")
	}
	cr, err := adm.CreateTopic(ctx, 2, 1, map[string]*string{"retention.ms": &ms}, topic)
	if err != nil || cr.Err != nil || cr.ID == (kadm.TopicID{}) {
		t.Fatalf("create: %v %+v", err, cr)
	}
	if again, _ := adm.CreateTopic(ctx, 2, 1, nil, topic); !errors.Is(again.Err, kerr.TopicAlreadyExists) {
		t.Fatalf("second create: %v", again.Err)
	}
	if bad, _ := adm.CreateTopic(ctx, 1, 3, nil, topic+"-rf3"); !errors.Is(bad.Err, kerr.InvalidReplicationFactor) {
		t.Fatalf("rf 3: %v", bad.Err)
	}
	if bad, _ := adm.CreateTopic(ctx, 1, 1, nil, "bad%name"); !errors.Is(bad.Err, kerr.InvalidTopicException) {
		t.Fatalf("bad name: %v", bad.Err)
	}

	td, err := adm.ListTopics(ctx, topic)
	if err != nil || len(td[topic].Partitions) != 2 || td[topic].ID != cr.ID {
		t.Fatalf("list: %v %+v", err, td[topic])
	}
	if _, err := adm.CreatePartitions(ctx, 2, topic); err != nil {
		t.Fatal(err)
	}
	td, _ = adm.ListTopics(ctx, topic)
	if len(td[topic].Partitions) != 4 {
		t.Fatalf("partitions after create: %d", len(td[topic].Partitions))
	}
	shrink, _ := adm.UpdatePartitions(ctx, 1, topic)
	if r, _ := shrink.On(topic, nil); !errors.Is(r.Err, kerr.InvalidPartitions) {
		t.Fatalf("shrink: %v", r.Err)
	}

	lat := "LogAppendTime"
	if _, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "message.timestamp.type", Value: &lat},
		{Name: "max.message.bytes", Value: kadm.StringPtr("2000")}}, topic); err != nil {
		t.Fatal(err)
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	rc, _ := rcs.On(topic, nil)
	seen := map[string]string{}
	for _, c := range rc.Configs {
		seen[c.Key] = c.MaybeValue()
	}
	if seen["retention.ms"] != ms || seen["message.timestamp.type"] != lat || seen["max.message.bytes"] != "2000" ||
		seen["cleanup.policy"] != "delete" || seen["retention.bytes"] != "-1" {
		t.Fatalf("configs: %v", seen)
	}

	// LogAppendTime stamps the broker's time; a record over 2000 bytes is
	// refused with MESSAGE_TOO_LARGE.
	before := time.Now().Add(-time.Second)
	r := &kgo.Record{Topic: topic, Partition: 0, Value: []byte("x"), Timestamp: time.Unix(1000, 0)}
	pcl := kgoClient(t, b.addr, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerBatchCompression(kgo.NoCompression()))
	if err := pcl.ProduceSync(ctx, r).FirstErr(); err != nil {
		t.Fatal(err)
	}
	big := &kgo.Record{Topic: topic, Partition: 0, Value: make([]byte, 3000)}
	if err := pcl.ProduceSync(ctx, big).FirstErr(); !errors.Is(err, kerr.MessageTooLarge) {
		t.Fatalf("big record: %v", err)
	}
	got := consumeKgo(t, b.addr, topic, map[int32]kgo.Offset{0: kgo.NewOffset().AtStart()}, 1)
	if got[0].Timestamp.Before(before) || got[0].Attrs.TimestampType() != 1 {
		t.Fatalf("LogAppendTime record: %v type %d", got[0].Timestamp, got[0].Attrs.TimestampType())
	}

	if _, err := pcl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: 0, Value: []byte("y")}).First(); err != nil {
		t.Fatal(err)
	}
	dr, err := adm.DeleteRecords(ctx, kadm.Offsets{topic: {0: {Topic: topic, Partition: 0, At: 1}}})
	if err != nil || dr.Error() != nil {
		t.Fatalf("delete records: %v %v", err, dr.Error())
	}
	starts, _ := adm.ListStartOffsets(ctx, topic)
	if lo, _ := starts.Lookup(topic, 0); lo.Offset != 1 {
		t.Fatalf("start after delete records: %+v", lo)
	}

	if _, err := adm.DescribeAllLogDirs(ctx, nil); err != nil {
		t.Fatal(err)
	}
	meta, err := adm.BrokerMetadata(ctx)
	if err != nil || len(meta.Brokers) != 1 || meta.Controller != meta.Brokers[0].NodeID || meta.Brokers[0].NodeID == 0 {
		t.Fatalf("metadata: %v %+v", err, meta)
	}
	dc, err := kmsg.NewPtrDescribeClusterRequest().RequestWith(ctx, cl)
	if err != nil || dc.ErrorCode != 0 || dc.ClusterID != meta.Cluster || len(dc.Brokers) != 1 {
		t.Fatalf("describe cluster: %v %+v", err, dc)
	}

	dt, err := adm.DeleteTopics(ctx, topic)
	if err != nil || dt.Error() != nil {
		t.Fatalf("delete: %v %v", err, dt.Error())
	}
	td, _ = adm.ListTopics(ctx)
	if td.Has(topic) {
		t.Fatal("topic still listed after delete")
	}
}
