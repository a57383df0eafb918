package compattests

import (
	"context"
	"errors"
	"io"
	"maps"
	"net"
	"slices"
	"strconv"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// kafka-go's low-level API: kafka.Client (one method per Kafka request,
// routed by a kafka.Transport) and kafka.Conn (one connection to one
// broker, optionally bound to one partition). The Writer and Reader built
// on them are in kafka_segmentio_test.go.

// lowClient is a kafka-go Client with a Transport of its own. The default
// Transport is shared by the process and refreshes its metadata every 6 s;
// this one keeps it an hour, so the Client's view of the cluster changes
// only when it creates topics itself (CreateTopics waits for them to show)
// and a request for a just-deleted topic is still routed to the broker,
// whose answer is what the tests check.
func lowClient(t *testing.T, addr string) *kafkago.Client {
	tr := &kafkago.Transport{MetadataTTL: time.Hour}
	t.Cleanup(tr.CloseIdleConnections)
	return &kafkago.Client{Addr: kafkago.TCP(addr), Timeout: 10 * time.Second, Transport: tr}
}

func lowCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// lowCreate creates topic with Client.CreateTopics.
func lowCreate(t *testing.T, cl *kafkago.Client, topic string, partitions int, configs ...kafkago.ConfigEntry) {
	t.Helper()
	resp, err := cl.CreateTopics(lowCtx(t), &kafkago.CreateTopicsRequest{Topics: []kafkago.TopicConfig{{
		Topic: topic, NumPartitions: partitions, ReplicationFactor: 1, ConfigEntries: configs}}})
	if err != nil {
		t.Fatalf("create %s: %v", topic, err)
	}
	if err := resp.Errors[topic]; err != nil {
		t.Fatalf("create %s: %v", topic, err)
	}
}

func lowRecord(r kafkaRecord) kafkago.Record {
	return kafkago.Record{Time: r.Timestamp, Key: kafkago.NewBytes([]byte(r.Key)), Value: kafkago.NewBytes([]byte(r.Value)),
		Headers: []kafkago.Header{{Key: "i", Value: []byte(r.Header)}}}
}

func fromLowRecord(t *testing.T, partition int, r *kafkago.Record) gotRecord {
	t.Helper()
	k, err := kafkago.ReadAll(r.Key)
	if err != nil {
		t.Fatal(err)
	}
	v, err := kafkago.ReadAll(r.Value)
	if err != nil {
		t.Fatal(err)
	}
	g := gotRecord{Partition: int32(partition), Offset: r.Offset, Key: string(k), Value: string(v), Timestamp: r.Time}
	for _, h := range r.Headers {
		if h.Key == "i" {
			g.Header = string(h.Value)
		}
	}
	return g
}

// lowProduce produces want with Client.Produce, each partition's records
// in two requests, and checks the base offset of each: the records go to
// empty partitions, so the second request starts where the first ended.
func lowProduce(t *testing.T, cl *kafkago.Client, topic string, want []kafkaRecord, codec kafkago.Compression) {
	t.Helper()
	perPart := map[int32][]kafkago.Record{}
	for _, r := range want {
		perPart[r.Partition] = append(perPart[r.Partition], lowRecord(r))
	}
	for p, recs := range perPart {
		half := len(recs) / 2
		for i, part := range [][]kafkago.Record{recs[:half], recs[half:]} {
			resp, err := cl.Produce(lowCtx(t), &kafkago.ProduceRequest{Topic: topic, Partition: int(p),
				RequiredAcks: kafkago.RequireAll, Compression: codec, Records: kafkago.NewRecordReader(part...)})
			if err != nil {
				t.Fatalf("produce %s/%d: %v", topic, p, err)
			}
			if resp.Error != nil || len(resp.RecordErrors) != 0 {
				t.Fatalf("produce %s/%d: %v %v", topic, p, resp.Error, resp.RecordErrors)
			}
			if wantBase := int64(i * half); resp.BaseOffset != wantBase {
				t.Fatalf("produce %s/%d: base offset %d, want %d", topic, p, resp.BaseOffset, wantBase)
			}
		}
	}
}

// lowFetch reads n records of one partition from offset from with
// Client.Fetch, one request after the other as a consumer loop does.
func lowFetch(t *testing.T, cl *kafkago.Client, topic string, partition int, from int64, n int) []gotRecord {
	t.Helper()
	ctx := lowCtx(t)
	var got []gotRecord
	for next := from; len(got) < n; {
		resp, err := cl.Fetch(ctx, &kafkago.FetchRequest{Topic: topic, Partition: partition, Offset: next,
			MinBytes: 1, MaxBytes: 1 << 20, MaxWait: 100 * time.Millisecond})
		if err != nil {
			t.Fatalf("fetch %s/%d@%d after %d of %d records: %v", topic, partition, next, len(got), n, err)
		}
		if resp.Error != nil {
			t.Fatalf("fetch %s/%d@%d: %v", topic, partition, next, resp.Error)
		}
		recs := readLowRecords(t, partition, resp.Records)
		for _, r := range recs {
			// A batch may start before the offset asked for (kafka-go's
			// FetchResponse doc): skipping is the program's job.
			if r.Offset >= next {
				got = append(got, r)
				next = r.Offset + 1
			}
		}
	}
	return got
}

func readLowRecords(t *testing.T, partition int, rr kafkago.RecordReader) []gotRecord {
	t.Helper()
	var got []gotRecord
	for {
		r, err := rr.ReadRecord()
		if errors.Is(err, io.EOF) {
			return got
		}
		if err != nil {
			t.Fatalf("read records: %v", err)
		}
		got = append(got, fromLowRecord(t, partition, r))
	}
}

// wantErr reports whether err is want (nil matching nil): kafka-go's
// errors wrap a kafka.Error code, as errors.Is expects.
func wantErr(err, want error) bool {
	if want == nil {
		return err == nil
	}
	return errors.Is(err, want)
}

// TestKafkaSegmentioLowLevelClient drives kafka.Client, one method per
// Kafka request: produce with every codec and read back with Fetch, then
// offsets, metadata, topic and partition admin and configs, each with the
// error codes Kafka answers.
func TestKafkaSegmentioLowLevelClient(t *testing.T) {
	b := startKafka(t, t.TempDir(), "127.0.0.1:0")
	cl := lowClient(t, b.addr)

	codecs := []struct {
		name  string
		codec kafkago.Compression
	}{{"none", 0}, {"gzip", kafkago.Gzip}, {"snappy", kafkago.Snappy}, {"lz4", kafkago.Lz4}, {"zstd", kafkago.Zstd}}
	for _, c := range codecs {
		t.Run("Produce/"+c.name, func(t *testing.T) {
			topic := kafkaTopicName(t, "low-produce-"+c.name)
			lowCreate(t, cl, topic, 2)
			want := wantRecords(200, 2, c.name)
			lowProduce(t, cl, topic, want, c.codec)
			// Partition 0 from kafka-go's FirstOffset (a ListOffsets first),
			// partition 1 from an explicit 0.
			got := lowFetch(t, cl, topic, 0, kafkago.FirstOffset, 100)
			got = append(got, lowFetch(t, cl, topic, 1, 0, 100)...)
			checkRecords(t, want, got, true)
		})
	}

	t.Run("Produce/acks=none", func(t *testing.T) {
		// With acks=0 the broker writes no answer: kafka-go's Transport
		// must not wait for one, and the next request on the connection
		// must still get its own answer.
		topic := kafkaTopicName(t, "low-acks0")
		lowCreate(t, cl, topic, 1)
		want := wantRecords(20, 1, "acks0")
		for _, r := range want {
			resp, err := cl.Produce(lowCtx(t), &kafkago.ProduceRequest{Topic: topic, RequiredAcks: kafkago.RequireNone,
				Records: kafkago.NewRecordReader(lowRecord(r))})
			if err != nil || resp != nil {
				t.Fatalf("produce with acks=0: %v %v", resp, err)
			}
		}
		checkRecords(t, want, lowFetch(t, cl, topic, 0, 0, len(want)), true)
	})

	t.Run("Produce/too large", func(t *testing.T) {
		// A batch over the topic's max.message.bytes is refused whole:
		// MESSAGE_TOO_LARGE, and nothing is stored.
		topic := kafkaTopicName(t, "low-large")
		lowCreate(t, cl, topic, 1, kafkago.ConfigEntry{ConfigName: "max.message.bytes", ConfigValue: "1024"})
		big := kafkago.Record{Value: kafkago.NewBytes(make([]byte, 4096))}
		resp, err := cl.Produce(lowCtx(t), &kafkago.ProduceRequest{Topic: topic, RequiredAcks: kafkago.RequireAll,
			Records: kafkago.NewRecordReader(big)})
		if err != nil {
			t.Fatal(err)
		}
		if !errors.Is(resp.Error, kafkago.MessageSizeTooLarge) {
			t.Fatalf("produce 4 KiB to a topic of max.message.bytes 1024: %v, want %v", resp.Error, kafkago.MessageSizeTooLarge)
		}
		lo, err := cl.ListOffsets(lowCtx(t), &kafkago.ListOffsetsRequest{Topics: map[string][]kafkago.OffsetRequest{
			topic: {kafkago.LastOffsetOf(0)}}})
		if ps := lo.Topics[topic]; err != nil || len(ps) != 1 || ps[0].Error != nil || ps[0].LastOffset != 0 {
			t.Fatalf("end offset after a refused batch: %+v %v, want 0", lo.Topics[topic], err)
		}
	})

	t.Run("ApiVersions", func(t *testing.T) {
		// The keys kafka-go's Client and Conn use, each from version 0.
		resp, err := cl.ApiVersions(lowCtx(t), &kafkago.ApiVersionsRequest{})
		if err != nil || resp.Error != nil {
			t.Fatalf("api versions: %v %v", err, resp)
		}
		served := map[int]kafkago.ApiVersionsResponseApiKey{}
		for _, k := range resp.ApiKeys {
			served[k.ApiKey] = k
		}
		for _, key := range []int{0, 1, 2, 3, 18, 19, 20, 32, 37, 44} {
			if k, ok := served[key]; !ok || k.MinVersion != 0 || k.MaxVersion < 1 {
				t.Errorf("key %d: %+v, served %v", key, k, ok)
			}
		}
	})

	t.Run("Fetch", func(t *testing.T) { testLowFetch(t, cl) })
	t.Run("ListOffsets", func(t *testing.T) { testLowListOffsets(t, cl) })
	t.Run("Metadata", func(t *testing.T) { testLowMetadata(t, cl, b.addr) })
	t.Run("CreateTopics", func(t *testing.T) { testLowCreateTopics(t, cl) })
	t.Run("DeleteTopics", func(t *testing.T) { testLowDeleteTopics(t, cl) })
	t.Run("CreatePartitions", func(t *testing.T) { testLowCreatePartitions(t, cl, b.addr) })
	t.Run("Configs", func(t *testing.T) { testLowConfigs(t, cl) })
}

// testLowFetch checks single Fetch answers: where they start, the
// partition's watermarks, and OFFSET_OUT_OF_RANGE outside [0, end].
func testLowFetch(t *testing.T, cl *kafkago.Client) {
	topic := kafkaTopicName(t, "low-fetch")
	lowCreate(t, cl, topic, 1)
	want := wantRecords(10, 1, "fetch")
	lowProduce(t, cl, topic, want, 0)
	cases := []struct {
		name      string
		offset    int64
		wantErr   error
		wantFirst int // index in want of the first record, -1 for none
	}{
		{"start", 0, nil, 0},
		{"middle", 4, nil, 4},
		{"FirstOffset", kafkago.FirstOffset, nil, 0},
		{"LastOffset", kafkago.LastOffset, nil, -1},
		{"end", 10, nil, -1},
		{"past end", 11, kafkago.OffsetOutOfRange, -1},
		{"far past end", 1 << 40, kafkago.OffsetOutOfRange, -1},
		{"negative", -5, kafkago.OffsetOutOfRange, -1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, err := cl.Fetch(lowCtx(t), &kafkago.FetchRequest{Topic: topic, Offset: c.offset,
				MinBytes: 1, MaxBytes: 1 << 20, MaxWait: 100 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			if !wantErr(resp.Error, c.wantErr) {
				t.Fatalf("error %v, want %v", resp.Error, c.wantErr)
			}
			if c.wantErr != nil {
				return
			}
			if resp.HighWatermark != 10 || resp.LogStartOffset != 0 || resp.LastStableOffset != 10 {
				t.Fatalf("high watermark %d, log start %d, last stable %d; want 10, 0, 10",
					resp.HighWatermark, resp.LogStartOffset, resp.LastStableOffset)
			}
			recs := readLowRecords(t, 0, resp.Records)
			if c.wantFirst < 0 {
				if len(recs) != 0 {
					t.Fatalf("got %d records at the end of the partition", len(recs))
				}
				return
			}
			var got []gotRecord
			for _, r := range recs {
				// The answer may start with the batch holding the offset.
				if r.Offset >= int64(c.wantFirst) {
					got = append(got, r)
				}
			}
			if len(got) == 0 || got[0].Offset != int64(c.wantFirst) {
				t.Fatalf("first record %+v, want offset %d", got, c.wantFirst)
			}
			checkRecords(t, want[c.wantFirst:], got, true)
		})
	}
}

// testLowListOffsets checks the first and last offsets and offsets by
// time, as Client.ListOffsets shows them. kafka-go sends one request per
// partition and timestamp (Kafka refuses a partition twice in one request)
// and files each answer under the timestamp it asked for, so the record
// timestamps Kafka answers with do not reach the program.
func testLowListOffsets(t *testing.T, cl *kafkago.Client) {
	topic := kafkaTopicName(t, "low-offsets")
	lowCreate(t, cl, topic, 1)
	want := wantRecords(100, 1, "offsets")
	lowProduce(t, cl, topic, want, 0)
	base, last := want[0].Timestamp, want[len(want)-1].Timestamp
	ms := time.Millisecond

	// A time finds the first record at or after it, and -1 when every
	// record is older (Kafka's UnifiedLog.fetchOffsetByTimestamp).
	cases := []struct {
		name   string
		req    kafkago.OffsetRequest
		first  int64 // want PartitionOffsets.FirstOffset
		last   int64 // and LastOffset: -1 unless asked
		offset int64 // and the one key of Offsets, if not -2
	}{
		{"first", kafkago.FirstOffsetOf(0), 0, -1, -2},
		{"last", kafkago.LastOffsetOf(0), -1, 100, -2},
		{"before first", kafkago.TimeOffsetOf(0, base.Add(-time.Hour)), -1, -1, 0},
		{"at first", kafkago.TimeOffsetOf(0, base), -1, -1, 0},
		{"middle", kafkago.TimeOffsetOf(0, base.Add(50*ms)), -1, -1, 50},
		{"at last", kafkago.TimeOffsetOf(0, last), -1, -1, 99},
		{"after last", kafkago.TimeOffsetOf(0, last.Add(ms)), -1, -1, -1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, err := cl.ListOffsets(lowCtx(t), &kafkago.ListOffsetsRequest{
				Topics: map[string][]kafkago.OffsetRequest{topic: {c.req}}})
			if err != nil {
				t.Fatal(err)
			}
			ps := resp.Topics[topic]
			if len(ps) != 1 || ps[0].Error != nil || ps[0].FirstOffset != c.first || ps[0].LastOffset != c.last {
				t.Fatalf("got %+v; want first %d, last %d", ps, c.first, c.last)
			}
			if _, ok := ps[0].Offsets[c.offset]; c.offset != -2 && (len(ps[0].Offsets) != 1 || !ok) {
				t.Fatalf("offsets by time %v, want offset %d", ps[0].Offsets, c.offset)
			}
		})
	}

	t.Run("all at once", func(t *testing.T) {
		resp, err := cl.ListOffsets(lowCtx(t), &kafkago.ListOffsetsRequest{Topics: map[string][]kafkago.OffsetRequest{
			topic: {kafkago.FirstOffsetOf(0), kafkago.LastOffsetOf(0), kafkago.TimeOffsetOf(0, want[50].Timestamp)}}})
		if err != nil {
			t.Fatal(err)
		}
		ps := resp.Topics[topic]
		if len(ps) != 1 || ps[0].Error != nil || ps[0].FirstOffset != 0 || ps[0].LastOffset != 100 ||
			len(ps[0].Offsets) != 1 || !ps[0].Offsets[50].Equal(want[50].Timestamp) {
			t.Fatalf("got %+v; want first 0, last 100, offsets {50: %v}", ps, want[50].Timestamp)
		}
	})

	t.Run("unknown partition", func(t *testing.T) {
		// kafka-go sends a partition its metadata lacks to any broker.
		resp, err := cl.ListOffsets(lowCtx(t), &kafkago.ListOffsetsRequest{Topics: map[string][]kafkago.OffsetRequest{
			topic: {kafkago.LastOffsetOf(5)}}})
		if err != nil {
			t.Fatal(err)
		}
		if ps := resp.Topics[topic]; len(ps) != 1 || ps[0].Partition != 5 ||
			!errors.Is(ps[0].Error, kafkago.UnknownTopicOrPartition) {
			t.Fatalf("got %+v, want %v", ps, kafkago.UnknownTopicOrPartition)
		}
	})
}

// testLowMetadata checks what Client.Metadata shows: one broker, which is
// the controller and leads every partition. kafka-go answers it from the
// Transport's cache, which CreateTopics refreshed.
func testLowMetadata(t *testing.T, cl *kafkago.Client, addr string) {
	topic := kafkaTopicName(t, "low-meta")
	lowCreate(t, cl, topic, 3)
	host, portStr, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(portStr)
	resp, err := cl.Metadata(lowCtx(t), &kafkago.MetadataRequest{Topics: []string{topic, "no-such-topic"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Brokers) != 1 || resp.Brokers[0].Host != host || resp.Brokers[0].Port != port {
		t.Fatalf("brokers %+v, want one at %s", resp.Brokers, addr)
	}
	broker := resp.Brokers[0]
	if resp.Controller != broker || resp.ClusterID == "" {
		t.Fatalf("controller %+v, cluster id %q; want %+v and an id", resp.Controller, resp.ClusterID, broker)
	}
	if len(resp.Topics) != 2 {
		t.Fatalf("topics %+v", resp.Topics)
	}
	got := resp.Topics[0]
	if got.Name != topic || got.Error != nil || got.Internal || len(got.Partitions) != 3 {
		t.Fatalf("topic %+v", got)
	}
	for i, p := range got.Partitions {
		if p.ID != i || p.Leader != broker || len(p.Replicas) != 1 || p.Replicas[0] != broker ||
			len(p.Isr) != 1 || p.Isr[0] != broker || p.Error != nil {
			t.Fatalf("partition %d: %+v", i, p)
		}
	}
	if miss := resp.Topics[1]; !errors.Is(miss.Error, kafkago.UnknownTopicOrPartition) || len(miss.Partitions) != 0 {
		t.Fatalf("unknown topic: %+v", miss)
	}

	all, err := cl.Metadata(lowCtx(t), &kafkago.MetadataRequest{})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, tp := range all.Topics {
		found = found || tp.Name == topic
	}
	if !found {
		t.Fatalf("all topics: %s missing from %+v", topic, all.Topics)
	}
}

// testLowCreateTopics checks CreateTopics' error codes, each as Kafka's
// controller gives it (ReplicationControlManager.createTopic and
// AdminUtils.validateTopicCreate).
func testLowCreateTopics(t *testing.T, cl *kafkago.Client) {
	existing := kafkaTopicName(t, "low-exists")
	lowCreate(t, cl, existing, 1)
	fresh := func(s string) string { return kafkaTopicName(t, "low-create-"+s) }
	cases := []struct {
		name    string
		topic   kafkago.TopicConfig
		wantErr error
	}{
		{"new", kafkago.TopicConfig{Topic: fresh("new"), NumPartitions: 3, ReplicationFactor: 1}, nil},
		// -1 asks for the broker's defaults (CreateTopics v4+, KIP-464).
		{"defaults", kafkago.TopicConfig{Topic: fresh("defaults"), NumPartitions: -1, ReplicationFactor: -1}, nil},
		{"exists", kafkago.TopicConfig{Topic: existing, NumPartitions: 1, ReplicationFactor: 1}, kafkago.TopicAlreadyExists},
		{"bad name", kafkago.TopicConfig{Topic: "bad/name", NumPartitions: 1, ReplicationFactor: 1}, kafkago.InvalidTopic},
		{"zero partitions", kafkago.TopicConfig{Topic: fresh("p0"), NumPartitions: 0, ReplicationFactor: 1},
			kafkago.InvalidPartitionNumber},
		{"zero replicas", kafkago.TopicConfig{Topic: fresh("r0"), NumPartitions: 1, ReplicationFactor: 0},
			kafkago.InvalidReplicationFactor},
		{"more replicas than brokers", kafkago.TopicConfig{Topic: fresh("r3"), NumPartitions: 1, ReplicationFactor: 3},
			kafkago.InvalidReplicationFactor},
		// Kafka refuses a name it does not know, so that a typo is not
		// taken silently: INVALID_CONFIG, "Unknown topic config name: ..."
		// (LogConfig.validateNames).
		{"unknown config", kafkago.TopicConfig{Topic: fresh("cfg"), NumPartitions: 1, ReplicationFactor: 1,
			ConfigEntries: []kafkago.ConfigEntry{{ConfigName: "no.such.config", ConfigValue: "1"}}},
			kafkago.InvalidConfiguration},
		// A name Kafka has, twinmq stores even if it does not act on it.
		{"Kafka config twinmq keeps", kafkago.TopicConfig{Topic: fresh("seg"), NumPartitions: 1, ReplicationFactor: 1,
			ConfigEntries: []kafkago.ConfigEntry{{ConfigName: "segment.bytes", ConfigValue: "1048576"}}}, nil},
		{"bad config value", kafkago.TopicConfig{Topic: fresh("val"), NumPartitions: 1, ReplicationFactor: 1,
			ConfigEntries: []kafkago.ConfigEntry{{ConfigName: "retention.ms", ConfigValue: "soon"}}},
			kafkago.InvalidConfiguration},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, err := cl.CreateTopics(lowCtx(t), &kafkago.CreateTopicsRequest{Topics: []kafkago.TopicConfig{c.topic}})
			if err != nil {
				t.Fatal(err)
			}
			if got := resp.Errors[c.topic.Topic]; !wantErr(got, c.wantErr) {
				t.Fatalf("create %s: %v, want %v", c.topic.Topic, got, c.wantErr)
			}
			if c.wantErr != nil {
				return
			}
			md, err := cl.Metadata(lowCtx(t), &kafkago.MetadataRequest{Topics: []string{c.topic.Topic}})
			if err != nil {
				t.Fatal(err)
			}
			n := len(md.Topics[0].Partitions)
			if md.Topics[0].Error != nil || (c.topic.NumPartitions > 0 && n != c.topic.NumPartitions) || n == 0 {
				t.Fatalf("created topic: %+v", md.Topics[0])
			}
		})
	}

	t.Run("validate only", func(t *testing.T) {
		// kafka-go then waits for the topic to show in its metadata, which
		// it never does, until the context ends: a short one.
		topic := fresh("validate")
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		resp, err := cl.CreateTopics(ctx, &kafkago.CreateTopicsRequest{ValidateOnly: true,
			Topics: []kafkago.TopicConfig{{Topic: topic, NumPartitions: 1, ReplicationFactor: 1}}})
		if err != nil || resp.Errors[topic] != nil {
			t.Fatalf("validate only: %v %v", err, resp)
		}
		// Not created: creating it now succeeds.
		lowCreate(t, cl, topic, 1)
	})
}

// testLowDeleteTopics deletes a topic with records: the broker then
// answers UNKNOWN_TOPIC_OR_PARTITION for it, and a topic created again
// under the name starts empty.
func testLowDeleteTopics(t *testing.T, cl *kafkago.Client) {
	topic := kafkaTopicName(t, "low-delete")
	lowCreate(t, cl, topic, 1)
	lowProduce(t, cl, topic, wantRecords(10, 1, "delete"), 0)
	resp, err := cl.DeleteTopics(lowCtx(t), &kafkago.DeleteTopicsRequest{Topics: []string{topic, "no-such-topic"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Errors[topic]; got != nil {
		t.Fatalf("delete %s: %v", topic, got)
	}
	if got := resp.Errors["no-such-topic"]; !errors.Is(got, kafkago.UnknownTopicOrPartition) {
		t.Fatalf("delete an unknown topic: %v, want %v", got, kafkago.UnknownTopicOrPartition)
	}
	// The Transport's cached metadata still routes the topic to the
	// broker. Kafka's brokers learn of a deletion after the controller
	// answers: poll, as a program would.
	groupWaitFor(t, "UNKNOWN_TOPIC_OR_PARTITION for a deleted topic", 10*time.Second, func() bool {
		lo, err := cl.ListOffsets(lowCtx(t), &kafkago.ListOffsetsRequest{Topics: map[string][]kafkago.OffsetRequest{
			topic: {kafkago.LastOffsetOf(0)}}})
		if err != nil {
			t.Fatal(err)
		}
		ps := lo.Topics[topic]
		if len(ps) == 1 && errors.Is(ps[0].Error, kafkago.UnknownTopicOrPartition) {
			return true
		}
		t.Logf("list offsets of the deleted topic: %+v", ps)
		return false
	})
	lowCreate(t, cl, topic, 1)
	resp2, err := cl.Fetch(lowCtx(t), &kafkago.FetchRequest{Topic: topic, Offset: 0, MinBytes: 1, MaxBytes: 1 << 20,
		MaxWait: 100 * time.Millisecond})
	if err != nil {
		t.Fatalf("fetch the topic created again: %v", err)
	}
	if resp2.Error != nil {
		t.Fatalf("fetch the topic created again: %v", resp2.Error)
	}
	if got := readLowRecords(t, 0, resp2.Records); len(got) != 0 || resp2.HighWatermark != 0 {
		t.Fatalf("topic created again: %d records, high watermark %d; want empty", len(got), resp2.HighWatermark)
	}
}

// testLowCreatePartitions grows a topic, and checks Kafka's refusal to
// shrink one and its answer for an unknown topic.
func testLowCreatePartitions(t *testing.T, cl *kafkago.Client, addr string) {
	topic := kafkaTopicName(t, "low-parts")
	lowCreate(t, cl, topic, 1)
	cases := []struct {
		name    string
		topic   string
		count   int32
		wantErr error
	}{
		{"grow", topic, 3, nil},
		{"shrink", topic, 2, kafkago.InvalidPartitionNumber},
		{"same", topic, 3, kafkago.InvalidPartitionNumber},
		{"unknown topic", "no-such-topic", 2, kafkago.UnknownTopicOrPartition},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, err := cl.CreatePartitions(lowCtx(t), &kafkago.CreatePartitionsRequest{
				Topics: []kafkago.TopicPartitionsConfig{{Name: c.topic, Count: c.count}}})
			if err != nil {
				t.Fatal(err)
			}
			if got := resp.Errors[c.topic]; !wantErr(got, c.wantErr) {
				t.Fatalf("%v, want %v", got, c.wantErr)
			}
		})
	}
	// A new Client: this one's cached metadata does not know the growth.
	md, err := lowClient(t, addr).Metadata(lowCtx(t), &kafkago.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(md.Topics[0].Partitions); n != 3 {
		t.Fatalf("after growing to 3: %d partitions", n)
	}
}

// testLowConfigs sets a topic config at creation, reads it back with
// DescribeConfigs, changes and resets it with IncrementalAlterConfigs.
func testLowConfigs(t *testing.T, cl *kafkago.Client) {
	topic := kafkaTopicName(t, "low-configs")
	lowCreate(t, cl, topic, 1, kafkago.ConfigEntry{ConfigName: "retention.ms", ConfigValue: "3600000"})
	describe := func(name string) (kafkago.DescribeConfigResponseConfigEntry, error) {
		t.Helper()
		resp, err := cl.DescribeConfigs(lowCtx(t), &kafkago.DescribeConfigsRequest{Resources: []kafkago.DescribeConfigRequestResource{{
			ResourceType: kafkago.ResourceTypeTopic, ResourceName: name, ConfigNames: []string{"retention.ms", "cleanup.policy"}}}})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Resources) != 1 {
			t.Fatalf("resources %+v", resp.Resources)
		}
		r := resp.Resources[0]
		for _, e := range r.ConfigEntries {
			if e.ConfigName == "retention.ms" {
				return e, r.Error
			}
		}
		return kafkago.DescribeConfigResponseConfigEntry{}, r.Error
	}
	// ConfigSource 1 is DYNAMIC_TOPIC_CONFIG, 5 DEFAULT_CONFIG
	// (DescribeConfigs v1+, KIP-226; kafka-go negotiates v3, where
	// IsDefault is gone and stays false).
	if e, err := describe(topic); err != nil || e.ConfigValue != "3600000" || e.ConfigSource != 1 {
		t.Fatalf("retention.ms set at creation: %+v %v", e, err)
	}
	alter := func(op kafkago.ConfigOperation, value string) {
		t.Helper()
		resp, err := cl.IncrementalAlterConfigs(lowCtx(t), &kafkago.IncrementalAlterConfigsRequest{
			Resources: []kafkago.IncrementalAlterConfigsRequestResource{{ResourceType: kafkago.ResourceTypeTopic,
				ResourceName: topic, Configs: []kafkago.IncrementalAlterConfigsRequestConfig{{
					Name: "retention.ms", Value: value, ConfigOperation: op}}}}})
		if err != nil || len(resp.Resources) != 1 || resp.Resources[0].Error != nil {
			t.Fatalf("alter: %v %+v", err, resp)
		}
	}
	alter(kafkago.ConfigOperationSet, "7200000")
	if e, err := describe(topic); err != nil || e.ConfigValue != "7200000" || e.ConfigSource != 1 {
		t.Fatalf("retention.ms after SET: %+v %v", e, err)
	}
	alter(kafkago.ConfigOperationDelete, "")
	if e, err := describe(topic); err != nil || e.ConfigSource != 5 || e.ConfigValue == "7200000" {
		t.Fatalf("retention.ms after DELETE: %+v %v", e, err)
	}
	// As at creation, Kafka refuses a config name it does not know
	// (INVALID_CONFIG, "Unknown topic config name"; LogConfig.validateNames).
	bad, err := cl.IncrementalAlterConfigs(lowCtx(t), &kafkago.IncrementalAlterConfigsRequest{
		Resources: []kafkago.IncrementalAlterConfigsRequestResource{{ResourceType: kafkago.ResourceTypeTopic,
			ResourceName: topic, Configs: []kafkago.IncrementalAlterConfigsRequestConfig{{
				Name: "retention.msec", Value: "1000", ConfigOperation: kafkago.ConfigOperationSet}}}}})
	if err != nil || len(bad.Resources) != 1 || !errors.Is(bad.Resources[0].Error, kafkago.InvalidConfiguration) {
		t.Errorf("alter an unknown config name: %v %+v, want %v", err, bad, kafkago.InvalidConfiguration)
	}
	if _, err := describe("no-such-topic"); !errors.Is(err, kafkago.UnknownTopicOrPartition) {
		t.Fatalf("describe an unknown topic: %v, want %v", err, kafkago.UnknownTopicOrPartition)
	}
}

// TestKafkaSegmentioLowLevelGroups commits and fetches offsets with
// kafka.Client, first as a standalone consumer (no membership, generation
// -1) and then as the one member of a group it joins and syncs by hand, as
// a program with its own assignment does.
func TestKafkaSegmentioLowLevelGroups(t *testing.T) {
	b := startGroupBroker(t, t.TempDir(), nil)
	cl := lowClient(t, b.addr)
	topic := kafkaTopicName(t, "low-group")
	lowCreate(t, cl, topic, 3)
	t.Run("FindCoordinator", func(t *testing.T) {
		resp, err := cl.FindCoordinator(lowCtx(t), &kafkago.FindCoordinatorRequest{Key: "any-group",
			KeyType: kafkago.CoordinatorKeyTypeConsumer})
		if err != nil || resp.Error != nil || resp.Coordinator == nil {
			t.Fatalf("find coordinator: %v %+v", err, resp)
		}
		if got := net.JoinHostPort(resp.Coordinator.Host, strconv.Itoa(resp.Coordinator.Port)); got != b.addr {
			t.Fatalf("coordinator at %s, want %s", got, b.addr)
		}
	})
	t.Run("standalone", func(t *testing.T) { testLowStandalone(t, cl, topic) })
	t.Run("member", func(t *testing.T) { testLowMember(t, cl, topic) })
}

// lowCommit commits offsets {partition: offset} and returns the error of
// each partition, nil for none.
func lowCommit(t *testing.T, cl *kafkago.Client, req kafkago.OffsetCommitRequest, topic string, offs map[int]int64) error {
	t.Helper()
	req.Topics = map[string][]kafkago.OffsetCommit{}
	for p, o := range offs {
		req.Topics[topic] = append(req.Topics[topic], kafkago.OffsetCommit{Partition: p, Offset: o, Metadata: "m" + strconv.Itoa(p)})
	}
	resp, err := cl.OffsetCommit(lowCtx(t), &req)
	if err != nil {
		t.Fatal(err)
	}
	ps := resp.Topics[topic]
	if len(ps) != len(offs) {
		t.Fatalf("commit: %d partitions answered, want %d", len(ps), len(offs))
	}
	for _, p := range ps {
		if p.Error != nil {
			return p.Error
		}
	}
	return nil
}

// lowCommitted returns the committed offsets of partitions 0-2 ("" for
// none), each as "offset/metadata".
func lowCommitted(t *testing.T, cl *kafkago.Client, group, topic string) map[int]string {
	t.Helper()
	resp, err := cl.OffsetFetch(lowCtx(t), &kafkago.OffsetFetchRequest{GroupID: group,
		Topics: map[string][]int{topic: {0, 1, 2}}})
	if err != nil {
		t.Fatalf("offset fetch: %v", err)
	}
	if resp.Error != nil {
		t.Fatalf("offset fetch: %v", resp.Error)
	}
	got := map[int]string{}
	for _, p := range resp.Topics[topic] {
		if p.Error != nil {
			t.Fatalf("offset fetch of partition %d: %v", p.Partition, p.Error)
		}
		if p.CommittedOffset >= 0 {
			got[p.Partition] = strconv.FormatInt(p.CommittedOffset, 10) + "/" + p.Metadata
		} else if p.CommittedOffset != -1 || p.Metadata != "" {
			t.Fatalf("partition %d without a commit: %d/%q, want -1 and no metadata", p.Partition, p.CommittedOffset, p.Metadata)
		}
	}
	return got
}

func lowGroupState(t *testing.T, cl *kafkago.Client, group string) kafkago.DescribeGroupsResponseGroup {
	t.Helper()
	resp, err := cl.DescribeGroups(lowCtx(t), &kafkago.DescribeGroupsRequest{GroupIDs: []string{group}})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Groups) != 1 || resp.Groups[0].Error != nil {
		t.Fatalf("describe %s: %+v", group, resp.Groups)
	}
	return resp.Groups[0]
}

// lowListed returns the protocol type ListGroups shows for group, and
// whether it lists it.
func lowListed(t *testing.T, cl *kafkago.Client, group string) (string, bool) {
	t.Helper()
	resp, err := cl.ListGroups(lowCtx(t), &kafkago.ListGroupsRequest{})
	if err != nil {
		t.Fatalf("list groups: %v", err)
	}
	if resp.Error != nil {
		t.Fatalf("list groups: %v", resp.Error)
	}
	for _, g := range resp.Groups {
		if g.GroupID == group {
			return g.ProtocolType, true
		}
	}
	return "", false
}

// lowDeleteOffsets deletes the group's offset of one partition and returns
// the group's error or else the partition's.
func lowDeleteOffsets(t *testing.T, cl *kafkago.Client, group, topic string, partition int) error {
	t.Helper()
	resp, err := cl.OffsetDelete(lowCtx(t), &kafkago.OffsetDeleteRequest{GroupID: group,
		Topics: map[string][]int{topic: {partition}}})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Error != nil {
		return resp.Error
	}
	if ps := resp.Topics[topic]; len(ps) != 1 || ps[0].Partition != partition {
		t.Fatalf("offset delete: %+v", resp.Topics)
	}
	return resp.Topics[topic][0].Error
}

func lowDeleteGroup(t *testing.T, cl *kafkago.Client, group string) error {
	t.Helper()
	resp, err := cl.DeleteGroups(lowCtx(t), &kafkago.DeleteGroupsRequest{GroupIDs: []string{group}})
	if err != nil {
		t.Fatal(err)
	}
	return resp.Errors[group]
}

// testLowStandalone commits with generation -1 and no member, which Kafka
// takes from a consumer that assigns itself partitions: the group exists
// only for its offsets, Empty and of no protocol type.
func testLowStandalone(t *testing.T, cl *kafkago.Client, topic string) {
	group := kafkaTopicName(t, "standalone")
	// kafka-go's OffsetCommitRequest defaults to generation 0, which a
	// group that does not exist refuses: only generation -1 creates one,
	// and OffsetCommit before v9 (kafka-go sends v7) answers
	// ILLEGAL_GENERATION (Kafka's OffsetMetadataManager.validateOffsetCommit).
	if err := lowCommit(t, cl, kafkago.OffsetCommitRequest{GroupID: group}, topic, map[int]int64{0: 1}); !errors.Is(err, kafkago.IllegalGeneration) {
		t.Fatalf("commit with generation 0 to a new group: %v, want %v", err, kafkago.IllegalGeneration)
	}
	if got := lowCommitted(t, cl, group, topic); len(got) != 0 {
		t.Fatalf("refused commit stored: %v", got)
	}
	req := kafkago.OffsetCommitRequest{GroupID: group, GenerationID: -1}
	if err := lowCommit(t, cl, req, topic, map[int]int64{0: 10, 1: 20}); err != nil {
		t.Fatal(err)
	}
	if got, want := lowCommitted(t, cl, group, topic), map[int]string{0: "10/m0", 1: "20/m1"}; !maps.Equal(got, want) {
		t.Fatalf("committed %v, want %v", got, want)
	}
	// A later commit replaces the earlier one, partition by partition.
	if err := lowCommit(t, cl, req, topic, map[int]int64{1: 25}); err != nil {
		t.Fatal(err)
	}
	if got, want := lowCommitted(t, cl, group, topic), map[int]string{0: "10/m0", 1: "25/m1"}; !maps.Equal(got, want) {
		t.Fatalf("committed %v, want %v", got, want)
	}

	// All the group's topics at once: a nil topic list (OffsetFetch v2+)
	// answers the partitions with commits.
	all, err := cl.OffsetFetch(lowCtx(t), &kafkago.OffsetFetchRequest{GroupID: group})
	if err != nil {
		t.Fatalf("offset fetch of all topics: %v", err)
	}
	if all.Error != nil {
		t.Fatalf("offset fetch of all topics: %v", all.Error)
	}
	if ps := all.Topics[topic]; len(all.Topics) != 1 || len(ps) != 2 {
		t.Fatalf("offset fetch of all topics: %+v", all.Topics)
	}
	// OffsetDelete (KIP-496) drops one partition's offset of a group
	// without members.
	if err := lowDeleteOffsets(t, cl, group, topic, 1); err != nil {
		t.Fatalf("offset delete: %v", err)
	}
	if got, want := lowCommitted(t, cl, group, topic), map[int]string{0: "10/m0"}; !maps.Equal(got, want) {
		t.Fatalf("committed after deleting partition 1's offset %v, want %v", got, want)
	}

	if typ, ok := lowListed(t, cl, group); !ok || typ != "" {
		t.Fatalf("list groups: listed %v with protocol type %q, want listed with none", ok, typ)
	}
	if g := lowGroupState(t, cl, group); g.GroupState != "Empty" || len(g.Members) != 0 {
		t.Fatalf("describe: %+v, want Empty without members", g)
	}
	if err := lowDeleteGroup(t, cl, group); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if got := lowCommitted(t, cl, group, topic); len(got) != 0 {
		t.Fatalf("deleted group's offsets: %v", got)
	}
	if err := lowDeleteGroup(t, cl, group); !errors.Is(err, kafkago.GroupIdNotFound) {
		t.Fatalf("delete again: %v, want %v", err, kafkago.GroupIdNotFound)
	}
}

// heartbeatErr is the error of a Heartbeat answer. kafka-go v0.4.51 reads
// Heartbeat v1+ answers with ErrorCode before ThrottleTimeMs, the reverse
// of Kafka's order (segmentio/kafka-go#1371, open), so Error is always nil
// and, with no throttling, the code lands in the low bytes of Throttle.
func heartbeatErr(resp *kafkago.HeartbeatResponse) error {
	if resp.Error != nil {
		return resp.Error
	}
	if code := resp.Throttle / time.Millisecond; code != 0 {
		return kafkago.Error(code)
	}
	return nil
}

// testLowMember joins, syncs, heartbeats, commits, leaves and deletes,
// checking each of Kafka's refusals a member meets on the way.
func testLowMember(t *testing.T, cl *kafkago.Client, topic string) {
	group := kafkaTopicName(t, "member")
	join := func(member string) *kafkago.JoinGroupResponse {
		t.Helper()
		resp, err := cl.JoinGroup(lowCtx(t), &kafkago.JoinGroupRequest{GroupID: group, MemberID: member,
			SessionTimeout: 10 * time.Second, RebalanceTimeout: 10 * time.Second, ProtocolType: "consumer",
			Protocols: []kafkago.GroupProtocol{{Name: "range", Metadata: kafkago.GroupProtocolSubscription{Topics: []string{topic}}}}})
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	// JoinGroup v4+ (KIP-394): a new member first gets its id with
	// MEMBER_ID_REQUIRED and joins again with it.
	first := join("")
	if !errors.Is(first.Error, kafkago.MemberIDRequired) || first.MemberID == "" {
		t.Fatalf("first join: %v, member %q; want %v and an id", first.Error, first.MemberID, kafkago.MemberIDRequired)
	}
	member := first.MemberID
	j := join(member)
	if j.Error != nil || j.MemberID != member || j.LeaderID != member || j.GenerationID < 1 || j.ProtocolName != "range" ||
		len(j.Members) != 1 || j.Members[0].ID != member || !slices.Equal(j.Members[0].Metadata.Topics, []string{topic}) {
		t.Fatalf("join: %+v", j)
	}
	gen := j.GenerationID

	assigned := map[string][]int{topic: {0, 1, 2}}
	s, err := cl.SyncGroup(lowCtx(t), &kafkago.SyncGroupRequest{GroupID: group, GenerationID: gen, MemberID: member,
		ProtocolType: "consumer", ProtocolName: "range",
		Assignments: []kafkago.SyncGroupRequestAssignment{{MemberID: member,
			Assignment: kafkago.GroupProtocolAssignment{AssignedPartitions: assigned}}}})
	if err != nil || s.Error != nil || !maps.EqualFunc(s.Assignment.AssignedPartitions, assigned, slices.Equal) {
		t.Fatalf("sync: %v %+v", err, s)
	}

	// Heartbeats and commits from the member, from its previous
	// generation and from a member the group does not know.
	identities := []struct {
		name    string
		gen     int
		member  string
		wantErr error
	}{
		{"current", gen, member, nil},
		{"old generation", gen - 1, member, kafkago.IllegalGeneration},
		{"unknown member", gen, "no-such-member", kafkago.UnknownMemberId},
	}
	for _, h := range identities {
		resp, err := cl.Heartbeat(lowCtx(t), &kafkago.HeartbeatRequest{GroupID: group, GenerationID: int32(h.gen), MemberID: h.member})
		if err != nil {
			t.Fatal(err)
		}
		if got := heartbeatErr(resp); !wantErr(got, h.wantErr) {
			t.Fatalf("heartbeat (%s): %v, want %v", h.name, got, h.wantErr)
		}
	}

	for _, c := range identities {
		err := lowCommit(t, cl, kafkago.OffsetCommitRequest{GroupID: group, GenerationID: c.gen, MemberID: c.member},
			topic, map[int]int64{0: 5, 1: 6, 2: 7})
		if !wantErr(err, c.wantErr) {
			t.Fatalf("commit (%s): %v, want %v", c.name, err, c.wantErr)
		}
	}
	want := map[int]string{0: "5/m0", 1: "6/m1", 2: "7/m2"}
	if got := lowCommitted(t, cl, group, topic); !maps.Equal(got, want) {
		t.Fatalf("committed %v, want %v", got, want)
	}

	g := lowGroupState(t, cl, group)
	if g.GroupState != "Stable" || len(g.Members) != 1 || g.Members[0].MemberID != member ||
		!slices.Equal(g.Members[0].MemberMetadata.Topics, []string{topic}) ||
		len(g.Members[0].MemberAssignments.Topics) != 1 ||
		!slices.Equal(g.Members[0].MemberAssignments.Topics[0].Partitions, []int{0, 1, 2}) {
		t.Fatalf("describe: %+v", g)
	}
	if typ, ok := lowListed(t, cl, group); !ok || typ != "consumer" {
		t.Fatalf("list groups: listed %v with protocol type %q, want consumer", ok, typ)
	}
	if err := lowDeleteGroup(t, cl, group); !errors.Is(err, kafkago.NonEmptyGroup) {
		t.Fatalf("delete a group with a member: %v, want %v", err, kafkago.NonEmptyGroup)
	}
	// A member subscribes to the topic: its offsets stay (KIP-496).
	if err := lowDeleteOffsets(t, cl, group, topic, 0); !errors.Is(err, kafkago.GroupSubscribedToTopic) {
		t.Fatalf("offset delete of a subscribed topic: %v, want %v", err, kafkago.GroupSubscribedToTopic)
	}

	l, err := cl.LeaveGroup(lowCtx(t), &kafkago.LeaveGroupRequest{GroupID: group,
		Members: []kafkago.LeaveGroupRequestMember{{ID: member}}})
	if err != nil || l.Error != nil || len(l.Members) != 1 || l.Members[0].Error != nil {
		t.Fatalf("leave: %v %+v", err, l)
	}
	if g := lowGroupState(t, cl, group); g.GroupState != "Empty" || len(g.Members) != 0 {
		t.Fatalf("describe after leaving: %+v", g)
	}
	if got := lowCommitted(t, cl, group, topic); !maps.Equal(got, want) {
		t.Fatalf("committed after leaving %v, want %v", got, want)
	}
	if err := lowDeleteGroup(t, cl, group); err != nil {
		t.Fatalf("delete the empty group: %v", err)
	}
}

// lowDial opens a kafka.Conn to addr, bound to topic/partition when topic
// is not empty (DialLeader), with a deadline so that a missing answer
// fails the test instead of hanging it.
func lowDial(t *testing.T, addr, topic string, partition int) *kafkago.Conn {
	t.Helper()
	var conn *kafkago.Conn
	var err error
	if topic == "" {
		conn, err = kafkago.DialContext(lowCtx(t), "tcp", addr)
	} else {
		conn, err = kafkago.DialLeader(lowCtx(t), "tcp", addr, topic, partition)
	}
	if err != nil {
		t.Fatalf("dial %s %s/%d: %v", addr, topic, partition, err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := conn.SetDeadline(time.Now().Add(20 * time.Second)); err != nil {
		t.Fatal(err)
	}
	return conn
}

// lowConnRead reads n messages from conn's current offset with ReadBatch.
func lowConnRead(t *testing.T, conn *kafkago.Conn, n int) []gotRecord {
	t.Helper()
	var got []gotRecord
	for len(got) < n {
		batch := conn.ReadBatchWith(kafkago.ReadBatchConfig{MinBytes: 1, MaxBytes: 1 << 20, MaxWait: 100 * time.Millisecond})
		for {
			m, err := batch.ReadMessage()
			if err != nil {
				break
			}
			g := gotRecord{Partition: int32(m.Partition), Offset: m.Offset, Key: string(m.Key), Value: string(m.Value), Timestamp: m.Time}
			for _, h := range m.Headers {
				if h.Key == "i" {
					g.Header = string(h.Value)
				}
			}
			got = append(got, g)
		}
		if err := batch.Close(); err != nil {
			t.Fatalf("read batch after %d of %d messages: %v", len(got), n, err)
		}
	}
	return got
}

// TestKafkaSegmentioLowLevelConn drives kafka.Conn: cluster and topic
// admin on a connection from Dial, writes, offsets, seeks and reads on
// one from DialLeader.
func TestKafkaSegmentioLowLevelConn(t *testing.T) {
	b := startKafka(t, t.TempDir(), "127.0.0.1:0")
	host, portStr, _ := net.SplitHostPort(b.addr)
	port, _ := strconv.Atoi(portStr)
	admin := lowDial(t, b.addr, "", 0)

	t.Run("Brokers", func(t *testing.T) {
		brokers, err := admin.Brokers()
		if err != nil {
			t.Fatal(err)
		}
		if len(brokers) != 1 || brokers[0].Host != host || brokers[0].Port != port {
			t.Fatalf("brokers %+v, want one at %s", brokers, b.addr)
		}
		ctrl, err := admin.Controller()
		if err != nil || ctrl != brokers[0] {
			t.Fatalf("controller %+v %v, want %+v", ctrl, err, brokers[0])
		}
		if got := admin.Broker(); got.Host != host || got.Port != port {
			t.Fatalf("connection's broker %+v, want %s", got, b.addr)
		}
	})

	topic := kafkaTopicName(t, "low-conn")
	t.Run("CreateTopics", func(t *testing.T) {
		cfgs := []kafkago.TopicConfig{{Topic: topic, NumPartitions: 2, ReplicationFactor: 1},
			{Topic: topic + "-x", NumPartitions: 3, ReplicationFactor: 1}}
		if err := admin.CreateTopics(cfgs...); err != nil {
			t.Fatal(err)
		}
		// kafka-go's Conn.CreateTopics is idempotent: it drops
		// TOPIC_ALREADY_EXISTS (the Client test checks the code).
		if err := admin.CreateTopics(cfgs...); err != nil {
			t.Fatalf("create again: %v", err)
		}
		parts, err := admin.ReadPartitions(topic, topic+"-x")
		if err != nil {
			t.Fatal(err)
		}
		count := map[string]int{}
		for _, p := range parts {
			count[p.Topic]++
			if p.Leader.Host != host || p.Leader.Port != port || len(p.Replicas) != 1 || len(p.Isr) != 1 {
				t.Fatalf("partition %+v", p)
			}
		}
		if count[topic] != 2 || count[topic+"-x"] != 3 || len(count) != 2 {
			t.Fatalf("partitions per topic %v", count)
		}
	})

	codecs := []struct {
		name  string
		codec kafkago.CompressionCodec
	}{{"none", nil}, {"gzip", kafkago.Gzip.Codec()}, {"snappy", kafkago.Snappy.Codec()},
		{"lz4", kafkago.Lz4.Codec()}, {"zstd", kafkago.Zstd.Codec()}}
	for _, c := range codecs {
		t.Run("WriteRead/"+c.name, func(t *testing.T) {
			topic := kafkaTopicName(t, "low-conn-"+c.name)
			if err := admin.CreateTopics(kafkago.TopicConfig{Topic: topic, NumPartitions: 2, ReplicationFactor: 1}); err != nil {
				t.Fatal(err)
			}
			// Partition 1, so that a write or read that ignored the
			// partition would show.
			testLowConnWriteRead(t, lowDial(t, b.addr, topic, 1), c.codec)
		})
	}

	t.Run("DeleteTopics", func(t *testing.T) {
		if err := admin.DeleteTopics(topic); err != nil {
			t.Fatal(err)
		}
		// kafka-go returns the first error of the answer.
		if err := admin.DeleteTopics("no-such-topic"); !errors.Is(err, kafkago.UnknownTopicOrPartition) {
			t.Fatalf("delete an unknown topic: %v, want %v", err, kafkago.UnknownTopicOrPartition)
		}
		// All topics (a nil list, which never auto-creates): gone.
		parts, err := admin.ReadPartitions()
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range parts {
			if p.Topic == topic {
				t.Fatalf("deleted topic still listed: %+v", p)
			}
		}
	})
}

// testLowConnWriteRead writes 40 messages in two calls, then checks
// ReadOffsets, ReadOffset by time, each Seek whence and ReadBatch.
func testLowConnWriteRead(t *testing.T, conn *kafkago.Conn, codec kafkago.CompressionCodec) {
	want := wantRecords(40, 1, "conn")
	msgs := make([]kafkago.Message, len(want))
	for i := range want {
		want[i].Partition = 1
		msgs[i] = kafkago.Message{Key: []byte(want[i].Key), Value: []byte(want[i].Value), Time: want[i].Timestamp,
			Headers: []kafkago.Header{{Key: "i", Value: []byte(want[i].Header)}}}
	}
	for _, half := range []int{0, 20} {
		_, part, off, _, err := conn.WriteCompressedMessagesAt(codec, msgs[half:half+20]...)
		if err != nil || part != 1 || off != int64(half) {
			t.Fatalf("write: partition %d, offset %d, %v; want 1, %d", part, off, err, half)
		}
	}
	if first, last, err := conn.ReadOffsets(); err != nil || first != 0 || last != 40 {
		t.Fatalf("offsets %d-%d %v, want 0-40", first, last, err)
	}
	// ReadOffset finds the first message at or after a time; -1 when all
	// are older (Kafka's answer, which kafka-go passes on).
	for _, c := range []struct {
		at   time.Time
		want int64
	}{{want[0].Timestamp.Add(-time.Hour), 0}, {want[25].Timestamp, 25}, {want[39].Timestamp.Add(time.Millisecond), -1}} {
		if got, err := conn.ReadOffset(c.at); err != nil || got != c.want {
			t.Fatalf("offset at %v: %d %v, want %d", c.at, got, err, c.want)
		}
	}

	seeks := []struct {
		name    string
		offset  int64
		whence  int
		want    int64
		wantErr error
	}{
		{"start", 0, kafkago.SeekStart, 0, nil},
		{"absolute", 25, kafkago.SeekAbsolute, 25, nil},
		{"from the end", 5, kafkago.SeekEnd, 35, nil},
		{"from the current", -5, kafkago.SeekCurrent, 30, nil},
		{"the end", 40, kafkago.SeekAbsolute, 40, nil},
		{"past the end", 41, kafkago.SeekAbsolute, 0, kafkago.OffsetOutOfRange},
	}
	for _, s := range seeks {
		got, err := conn.Seek(s.offset, s.whence)
		if !wantErr(err, s.wantErr) || got != s.want {
			t.Fatalf("seek %s: %d %v, want %d %v", s.name, got, err, s.want, s.wantErr)
		}
	}

	if _, err := conn.Seek(0, kafkago.SeekStart); err != nil {
		t.Fatal(err)
	}
	checkRecords(t, want, lowConnRead(t, conn, len(want)), true)
	if _, err := conn.Seek(25, kafkago.SeekAbsolute); err != nil {
		t.Fatal(err)
	}
	got := lowConnRead(t, conn, 15)
	if got[0].Offset != 25 {
		t.Fatalf("after seeking to 25: first offset %d", got[0].Offset)
	}
	checkRecords(t, want[25:], got, true)

	// Past the end without kafka-go's own bound check: the broker's
	// answer, OFFSET_OUT_OF_RANGE, comes back from the batch.
	if _, err := conn.Seek(41, kafkago.SeekAbsolute|kafkago.SeekDontCheck); err != nil {
		t.Fatal(err)
	}
	batch := conn.ReadBatchWith(kafkago.ReadBatchConfig{MinBytes: 1, MaxBytes: 1 << 20, MaxWait: 100 * time.Millisecond})
	if err := batch.Close(); !errors.Is(err, kafkago.OffsetOutOfRange) {
		t.Fatalf("read past the end: %v, want %v", err, kafkago.OffsetOutOfRange)
	}
}

// TestKafkaSegmentioLowLevelAutoCreate is the sequence kafka-go's own Conn
// tests rely on (conn_test.go, testDeleteTopics and
// testDeleteTopicsInvalidTopic): delete topics, then ask for their
// partitions with auto-creation on (ReadPartitions sends Metadata v6 with
// AllowAutoTopicCreation). Kafka's first answer for a topic it auto-creates
// is LEADER_NOT_AVAILABLE with no partitions, the topic being created in
// the background (DefaultAutoTopicCreationManager.createTopicsInZk: "the
// topic metadata was created successfully, so we return
// LEADER_NOT_AVAILABLE"; kafka-go's CI runs Kafka 3.7 with ZooKeeper). A
// KRaft broker's first answer is UNKNOWN_TOPIC_OR_PARTITION (sendCreateTopicRequest);
// either way there are no partitions in it. A later Metadata shows the topic.
func TestKafkaSegmentioLowLevelAutoCreate(t *testing.T) {
	b := startKafka(t, t.TempDir(), "127.0.0.1:0")
	admin := lowDial(t, b.addr, "", 0)
	newTopic := func(suffix string) string {
		topic := kafkaTopicName(t, suffix)
		if err := admin.CreateTopics(kafkago.TopicConfig{Topic: topic, NumPartitions: 1, ReplicationFactor: 1}); err != nil {
			t.Fatal(err)
		}
		return topic
	}
	// A connection bound to another topic (as kafka-go's tests use)
	// drops the errors of the topics it asks about: they show as no
	// partitions.
	bound := lowDial(t, b.addr, newTopic("low-auto-own"), 0)

	t.Run("testDeleteTopics", func(t *testing.T) {
		t1, t2 := newTopic("low-auto-1"), newTopic("low-auto-2")
		if err := bound.DeleteTopics(t1, t2); err != nil {
			t.Fatal(err)
		}
		parts, err := bound.ReadPartitions(t1, t2)
		if err != nil || len(parts) != 0 {
			t.Fatalf("first Metadata after deleting: %d partitions %v; want none (Kafka answers LEADER_NOT_AVAILABLE "+
				"with no partitions for a topic it auto-creates)", len(parts), err)
		}
	})

	t.Run("testDeleteTopicsInvalidTopic", func(t *testing.T) {
		topic := newTopic("low-auto-3")
		err := bound.DeleteTopics(kafkaTopicName(t, "low-auto-none"), topic)
		if !errors.Is(err, kafkago.UnknownTopicOrPartition) {
			t.Fatalf("delete an unknown and a known topic: %v, want %v", err, kafkago.UnknownTopicOrPartition)
		}
		parts, err := bound.ReadPartitions(topic)
		if err != nil || len(parts) != 0 {
			t.Fatalf("first Metadata after deleting: %d partitions %v; want none (Kafka answers LEADER_NOT_AVAILABLE "+
				"with no partitions for a topic it auto-creates)", len(parts), err)
		}
	})

	// The answers themselves, on a connection bound to no topic, which
	// returns the error of any topic.
	cases := []struct {
		name  string
		topic func() string
	}{
		{"deleted", func() string {
			topic := newTopic("low-auto-deleted")
			if err := admin.DeleteTopics(topic); err != nil {
				t.Fatal(err)
			}
			return topic
		}},
		{"never created", func() string { return kafkaTopicName(t, "low-auto-new") }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			topic := c.topic()
			parts, err := admin.ReadPartitions(topic)
			if !errors.Is(err, kafkago.LeaderNotAvailable) {
				t.Fatalf("first Metadata: %d partitions, %v; want %v (Kafka creates the topic in the background)",
					len(parts), err, kafkago.LeaderNotAvailable)
			}
			// Created without being asked again: poll all topics, which
			// never auto-creates.
			groupWaitFor(t, "the auto-created topic in the list of all topics", 10*time.Second, func() bool {
				all, err := admin.ReadPartitions()
				if err != nil {
					t.Fatal(err)
				}
				return slices.ContainsFunc(all, func(p kafkago.Partition) bool { return p.Topic == topic })
			})
			parts, err = admin.ReadPartitions(topic)
			if err != nil || len(parts) == 0 {
				t.Fatalf("later Metadata: %d partitions %v", len(parts), err)
			}
		})
	}
}
