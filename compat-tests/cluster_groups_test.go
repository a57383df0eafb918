package compattests

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/nameserver"
	"github.com/twinmq/twinmq/wire/remoting"
)

// TestClusterKafkaAcrossGroups: two broker groups (b1, b2: one master
// each) as processes behind one name server. Kafka clients see one
// cluster: a topic created with 6 partitions through b1 gets 3 queues on
// each group, numbered 0-2 on b1 and 3-5 on b2; Metadata from either
// broker lists both masters, the same leaders, cluster id and topic id;
// a produce to the wrong broker gets NOT_LEADER_OR_FOLLOWER. franz-go
// produces keyed records and rocketmq-client-go sends messages (spread
// over both groups by its own queue selection); a franz-go consumer group
// reads every one of them once, in order per key, and commits; the
// commits of b2's partitions are kept by b2 (its RocketMQ offset table
// answers QUERY_CONSUMER_OFFSET with them), whichever broker coordinates.
// CreatePartitions sent to b1 then adds partitions 6 and 7 on b2, the last
// group, and partitions 0-5 keep their numbers and records.
func TestClusterKafkaAcrossGroups(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	g := startTwoGroups(t, "127.0.2.1", "127.0.2.21", "127.0.2.22")
	ns, hosts := g.ns, g.hosts
	b1, b2 := g.kafka["b1"], g.kafka["b2"]
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// Both masters in every broker's metadata (startTwoGroups waited).
	admin := func(seed string) *kadm.Client {
		c, err := kgo.NewClient(kgo.SeedBrokers(seed))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		return kadm.NewClient(c)
	}
	a1, a2 := admin(b1), admin(b2)

	const topic = "KafkaAcrossGroups"
	res, err := a1.CreateTopic(ctx, 6, -1, nil, topic)
	if err != nil || res.Err != nil {
		t.Fatalf("create topic: %v / %v", err, res.Err)
	}
	describe := func(a *kadm.Client) kadm.TopicDetail {
		t.Helper()
		td, err := a.ListTopics(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		return td[topic]
	}
	// The other group's brokers learn the topic within a refresh.
	waitFor(t, 10*time.Second, func() bool { return len(describe(a1).Partitions) == 6 && len(describe(a2).Partitions) == 6 })
	d1, d2 := describe(a1), describe(a2)
	if d1.Err != nil || len(d1.Partitions) != 6 {
		t.Fatalf("metadata from b1: %d partitions, err %v", len(d1.Partitions), d1.Err)
	}
	m1, _ := a1.BrokerMetadata(ctx)
	m2, _ := a2.BrokerMetadata(ctx)
	if m1.Cluster != m2.Cluster {
		t.Errorf("cluster ids differ: %q from b1, %q from b2", m1.Cluster, m2.Cluster)
	}
	if d1.ID != d2.ID {
		t.Errorf("topic ids differ: %v from b1, %v from b2", d1.ID, d2.ID)
	}
	node := map[string]int32{}
	for _, b := range m1.Brokers {
		node[fmt.Sprintf("%s:%d", b.Host, b.Port)] = b.NodeID
	}
	for p := int32(0); p < 6; p++ {
		want := node[b1]
		if p >= 3 {
			want = node[b2]
		}
		if l1, l2 := d1.Partitions[p].Leader, d2.Partitions[p].Leader; l1 != want || l2 != want {
			t.Errorf("partition %d: leader %d from b1, %d from b2, want %d", p, l1, l2, want)
		}
	}

	// A produce to the wrong broker.
	raw, err := kgo.NewClient(kgo.SeedBrokers(b1))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	wrong := kmsg.NewPtrProduceRequest()
	wrong.Acks, wrong.TimeoutMillis = -1, 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic, rt.TopicID = topic, d1.ID
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition = 4
	rp.Records = oneRecordBatch(t)
	rt.Partitions = append(rt.Partitions, rp)
	wrong.Topics = append(wrong.Topics, rt)
	resp, err := wrong.RequestWith(ctx, raw.Broker(int(node[b1])))
	if err != nil {
		t.Fatal(err)
	}
	if code := resp.Topics[0].Partitions[0].ErrorCode; code != kerr.NotLeaderForPartition.Code {
		t.Errorf("produce to partition 4 on b1: error %d, want NOT_LEADER_OR_FOLLOWER", code)
	}

	// franz-go keyed records, acks=all.
	prod, err := kgo.NewClient(kgo.SeedBrokers(b1), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	const nKafka, keys = 600, 12
	perPartition := map[int32]int{}
	for i := range nKafka {
		r := &kgo.Record{Key: fmt.Appendf(nil, "key-%d", i%keys), Value: fmt.Appendf(nil, "%d", i)}
		if err := prod.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("produce %d: %v", i, err)
		}
		perPartition[r.Partition]++
	}
	if len(perPartition) < 4 { // 12 keys hashed over 6 partitions
		t.Errorf("records per partition: %v", perPartition)
	}

	// rocketmq-client-go messages; its queue selection spreads them over
	// both groups' queues.
	rp2, err := rocketmq.NewProducer(producer.WithNsResolver(primitive.NewPassthroughResolver([]string{ns})),
		producer.WithInstanceName(instance(t)), producer.WithGroupName("pg_groups"))
	if err != nil {
		t.Fatal(err)
	}
	if err := rp2.Start(); err != nil {
		t.Fatal(err)
	}
	defer rp2.Shutdown()
	const nRMQ = 60
	brokers := map[string]int{}
	for i := range nRMQ {
		r, err := rp2.SendSync(ctx, newMsg(topic, "TagG", i))
		if err != nil || r.Status != primitive.SendOK {
			t.Fatalf("send %d: %v %v", i, r, err)
		}
		brokers[r.MessageQueue.BrokerName]++
	}
	if brokers["b1"] == 0 || brokers["b2"] == 0 {
		t.Errorf("RocketMQ sends by broker group: %v, want both", brokers)
	}

	// One Kafka consumer group reads everything once, in order per key.
	const group = "kafka-across-groups"
	cons, err := kgo.NewClient(kgo.SeedBrokers(b2), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	last := map[string]int{}
	got := 0
	for got < nKafka+nRMQ && ctx.Err() == nil {
		fs := cons.PollFetches(ctx)
		fs.EachError(func(tp string, p int32, err error) { t.Logf("fetch %s/%d: %v", tp, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			got++
			seen[string(r.Value)]++
			if strings.HasPrefix(string(r.Key), "key-") {
				n, _ := strconv.Atoi(string(r.Value))
				if prev, ok := last[string(r.Key)]; ok && n < prev {
					t.Errorf("key %s: %d after %d", r.Key, n, prev)
				}
				last[string(r.Key)] = n
			}
		})
	}
	for i := range nKafka {
		if c := seen[strconv.Itoa(i)]; c != 1 {
			t.Errorf("Kafka record %d read %d times", i, c)
		}
	}
	for i := range nRMQ {
		if c := seen[fmt.Sprint("body-", i)]; c != 1 {
			t.Errorf("RocketMQ message %d read %d times", i, c)
		}
	}
	if err := cons.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatalf("commit: %v", err)
	}
	committed := cons.CommittedOffsets()[topic]
	cons.Close()

	// Both brokers name the same coordinator; the offsets read back from
	// either equal what was committed.
	c1, c2 := a1.FindGroupCoordinators(ctx, group), a2.FindGroupCoordinators(ctx, group)
	if c1[group].Err != nil || c2[group].Err != nil || c1[group].NodeID != c2[group].NodeID {
		t.Errorf("coordinator: node %d (%v) from b1, %d (%v) from b2", c1[group].NodeID, c1[group].Err, c2[group].NodeID, c2[group].Err)
	}
	fetched, err := a1.FetchOffsets(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	for p := int32(0); p < 6; p++ {
		want := committed[p].Offset
		if o, ok := fetched.Lookup(topic, p); !ok || o.At != want {
			t.Errorf("partition %d: offset %d read back (found %v), committed %d", p, o.At, ok, want)
		}
	}
	// b2's partitions 3-5 are its queues 0-2: its RocketMQ offset table
	// has the group's commits.
	rc, err := nameserver.Dial(ctx, hosts["b2"]+":10911")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	for q := int32(0); q < 3; q++ {
		req := remoting.NewRequest(remoting.QueryConsumerOffset, 0)
		req.ExtFields["consumerGroup"], req.ExtFields["topic"], req.ExtFields["queueId"] = group, topic, strconv.Itoa(int(q))
		req.ExtFields["setZeroIfNotFound"] = "false"
		r, err := rc.Invoke(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if want := committed[3+q].Offset; r.Code != remoting.Success || r.ExtFields["offset"] != strconv.FormatInt(want, 10) {
			t.Errorf("b2 queue %d: QUERY_CONSUMER_OFFSET code %d offset %q, want the commit of partition %d: %d",
				q, r.Code, r.ExtFields["offset"], 3+q, want)
		}
	}

	// CreatePartitions through b1 grows the topic on b2, the last group:
	// partitions 6 and 7 are b2's new queues 3 and 4, and partitions 0-5
	// keep their numbers and their records.
	before, err := a1.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := a1.CreatePartitions(ctx, 2, topic); err != nil || r[topic].Err != nil {
		t.Fatalf("create partitions: %v / %v", err, r[topic].Err)
	}
	waitFor(t, 10*time.Second, func() bool { return len(describe(a1).Partitions) == 8 && len(describe(a2).Partitions) == 8 })
	after, err := a2.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	for p := int32(0); p < 8; p++ {
		b, _ := before.Lookup(topic, p)
		a, ok := after.Lookup(topic, p)
		if !ok || a.Err != nil || a.Offset != b.Offset {
			t.Errorf("partition %d after growing: end offset %d (%v), was %d", p, a.Offset, a.Err, b.Offset)
		}
	}
	if d := describe(a1); d.Partitions[7].Leader != node[b2] || d.Partitions[6].Leader != node[b2] {
		t.Errorf("new partitions 6, 7 led by %d, %d; want b2 (%d)", d.Partitions[6].Leader, d.Partitions[7].Leader, node[b2])
	}
	pc, err := kgo.NewClient(kgo.SeedBrokers(b1), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if err := pc.ProduceSync(ctx, &kgo.Record{Partition: 7, Value: []byte("on-7")}).FirstErr(); err != nil {
		t.Fatalf("produce to new partition 7: %v", err)
	}
	rd, err := kgo.NewClient(kgo.SeedBrokers(b1), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {7: kgo.NewOffset().AtStart()}}))
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	var on7 []string
	for ctx.Err() == nil && !slices.Contains(on7, "on-7") {
		rd.PollFetches(ctx).EachRecord(func(r *kgo.Record) { on7 = append(on7, string(r.Value)) })
	}
	if !slices.Contains(on7, "on-7") {
		t.Errorf("partition 7 holds %q", on7)
	}
}

// oneRecordBatch is a produce body of one uncompressed record.
func oneRecordBatch(t *testing.T) []byte {
	t.Helper()
	rec := kmsg.NewRecord()
	rec.Value = []byte("wrong-broker")
	b := kmsg.NewRecordBatch()
	b.Magic, b.ProducerID, b.ProducerEpoch, b.FirstSequence = 2, -1, -1, -1
	b.NumRecords = 1
	b.Records = rec.AppendTo(nil)
	b.Length = int32(len(b.AppendTo(nil)) - 12)
	raw := b.AppendTo(nil)
	binary.BigEndian.PutUint32(raw[17:21], crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli))) // attributes onward
	return raw
}
