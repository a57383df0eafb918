package compattests

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	rmq5 "github.com/apache/rocketmq-clients/golang/v5"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// setShareConfigs sets a share group's GROUP configs (IncrementalAlterConfigs).
func setShareConfigs(t *testing.T, cl *kgo.Client, group string, kvs ...string) {
	t.Helper()
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	res := kmsg.NewIncrementalAlterConfigsRequestResource()
	res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeGroupConfig, group
	for i := 0; i+1 < len(kvs); i += 2 {
		c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		c.Name, c.Value = kvs[i], kmsg.StringPtr(kvs[i+1])
		res.Configs = append(res.Configs, c)
	}
	req.Resources = append(req.Resources, res)
	resp, err := req.RequestWith(context.Background(), cl)
	if err == nil {
		err = kerr.ErrorForCode(resp.Resources[0].ErrorCode)
	}
	if err != nil {
		t.Fatalf("group configs of %s: %v", group, err)
	}
}

// shareStartOffset is the group's share-partition start offset.
func shareStartOffset(t *testing.T, cl *kgo.Client, group, topic string, part int32) int64 {
	t.Helper()
	req := kmsg.NewPtrDescribeShareGroupOffsetsRequest()
	req.Groups = []kmsg.DescribeShareGroupOffsetsRequestGroup{{GroupID: group,
		Topics: []kmsg.DescribeShareGroupOffsetsRequestGroupTopic{{Topic: topic, Partitions: []int32{part}}}}}
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	return resp.Groups[0].Topics[0].Partitions[0].StartOffset
}

func produceValues(t *testing.T, cl *kgo.Client, topic string, n int) {
	t.Helper()
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: topic, Value: []byte(strconv.Itoa(i))}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// shareMemberDies joins group as a raw member, acquires records of
// partition 0 with one ShareFetch and goes away without acknowledging
// them; it returns the offsets it held.
func shareMemberDies(t *testing.T, addr, group string, topicID [16]byte, topic string, max int32) []int64 {
	t.Helper()
	cl := kgoClient(t, addr)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	hb := kmsg.NewPtrShareGroupHeartbeatRequest()
	hb.GroupID, hb.MemberID, hb.SubscribedTopicNames = group, "dies-"+group, []string{topic}
	if r, err := hb.RequestWith(ctx, cl); err != nil || r.ErrorCode != 0 {
		t.Fatalf("join: %v %+v", err, r)
	}
	f := kmsg.NewPtrShareFetchRequest()
	f.GroupID, f.MemberID, f.MaxRecords, f.BatchSize, f.MaxWaitMillis, f.MaxBytes = &group, &hb.MemberID, max, max, 1000, 1<<20
	f.ShareAcquireMode = 1 // exactly max records, not whole batches
	ft := kmsg.NewShareFetchRequestTopic()
	ft.TopicID = topicID
	fp := kmsg.NewShareFetchRequestTopicPartition()
	fp.PartitionMaxBytes = 1 << 20
	ft.Partitions = append(ft.Partitions, fp)
	f.Topics = append(f.Topics, ft)
	var held []int64
	for len(held) == 0 && ctx.Err() == nil {
		r, err := f.RequestWith(ctx, cl)
		if err != nil || r.ErrorCode != 0 {
			t.Fatalf("share fetch: %v %+v", err, r)
		}
		f.ShareSessionEpoch++
		for _, tp := range r.Topics {
			for _, p := range tp.Partitions {
				for _, ar := range p.AcquiredRecords {
					for o := ar.FirstOffset; o <= ar.LastOffset; o++ {
						held = append(held, o)
					}
				}
			}
		}
	}
	return held // cl.Close: no acknowledgement, no leave
}

func shareTopicID(t *testing.T, cl *kgo.Client, topic string) [16]byte {
	t.Helper()
	req := kmsg.NewPtrMetadataRequest()
	req.Topics = []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr(topic)}}
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil || len(resp.Topics) != 1 {
		t.Fatalf("metadata: %v", err)
	}
	return resp.Topics[0].TopicID
}

type shareSeen struct {
	mu       sync.Mutex
	accepted map[string]int // value -> acceptances
	dc       map[string]int32
	ackErrs  []error
}

// runShareConsumer polls a franz-go share consumer of group until stop,
// accepting every record.
func runShareConsumer(t *testing.T, addr, group, topic string, seen *shareSeen, stop <-chan struct{}) *kgo.Client {
	cl := kgoClient(t, addr, kgo.ShareGroup(group), kgo.ConsumeTopics(topic), kgo.FetchMaxWait(500*time.Millisecond),
		kgo.ShareMaxRecords(50),
		kgo.ShareAckCallback(func(_ *kgo.Client, rs kgo.ShareAckResults) {
			for _, r := range rs {
				if r.Err != nil {
					seen.mu.Lock()
					seen.ackErrs = append(seen.ackErrs, r.Err)
					seen.mu.Unlock()
				}
			}
		}))
	go func() {
		for {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			fs := cl.PollFetches(ctx)
			cancel()
			select {
			case <-stop:
				return
			default:
			}
			for _, r := range fs.Records() {
				r.Ack(kgo.AckAccept)
				seen.mu.Lock()
				seen.accepted[string(r.Value)]++
				seen.dc[string(r.Value)] = max(seen.dc[string(r.Value)], r.DeliveryCount())
				seen.mu.Unlock()
			}
		}
	}()
	return cl
}

// TestKafkaShareGroupConsumers: three franz-go share consumers on one
// partition, after a member that died holding records: every record is
// delivered and accepted, each once except those the dead member held,
// which come back once its locks expire with a delivery count of 2, and
// the share-partition start offset ends at the log end.
func TestKafkaShareGroupConsumers(t *testing.T) {
	c := startGRPCCluster(t, 0)
	const n, topic, group = 600, "share-1p", "share-g"
	c.createTopic(t, topic, 1)
	admin := kgoClient(t, c.kafkaAddr)
	produceValues(t, admin, topic, n)
	// The dying member's records are locked for 1 s; the live members'
	// for 30 s, so none of theirs expires before they accept it.
	setShareConfigs(t, admin, group, "share.auto.offset.reset", "earliest", "share.record.lock.duration.ms", "1000")
	held := shareMemberDies(t, c.kafkaAddr, group, shareTopicID(t, admin, topic), topic, 40)
	if len(held) != 40 {
		t.Fatalf("the dying member got %d records, want 40", len(held))
	}
	setShareConfigs(t, admin, group, "share.record.lock.duration.ms", "30000")

	seen := &shareSeen{accepted: map[string]int{}, dc: map[string]int32{}}
	stop := make(chan struct{})
	var cls []*kgo.Client
	for range 3 {
		cls = append(cls, runShareConsumer(t, c.kafkaAddr, group, topic, seen, stop))
	}
	// kadm sees the group: the three live members (and the dead one until
	// its session times out), each assigned the partition.
	adm := kadm.NewClient(admin)
	var last kadm.DescribedShareGroup
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for live := 0; live != 3; {
		if ctx.Err() != nil {
			t.Fatalf("DescribeShareGroups: %+v", last)
		}
		ds, err := adm.DescribeShareGroups(ctx, group)
		if err != nil {
			continue
		}
		last, live = ds[group], 0
		for _, m := range last.Members {
			if _, ok := m.Assignment[topic][0]; ok && last.GroupState == "Stable" && !strings.HasPrefix(m.MemberID, "dies-") {
				live++
			}
		}
		if live != 3 {
			time.Sleep(100 * time.Millisecond)
		}
	}
	listed, err := adm.ListGroupsByType(context.Background(), []string{"share"})
	if err != nil || listed[group].State != "Stable" || listed[group].ProtocolType != "share" {
		t.Fatalf("ListGroups type share: %v %+v", err, listed)
	}
	waitFor(t, 60*time.Second, func() bool { return shareStartOffset(t, admin, group, topic, 0) == n })
	close(stop)
	for _, cl := range cls {
		cl.Close() // flushes the last acknowledgements
	}
	seen.mu.Lock()
	defer seen.mu.Unlock()
	if len(seen.ackErrs) > 0 {
		t.Fatalf("acknowledgements refused: %v", seen.ackErrs)
	}
	wasHeld := map[string]bool{}
	for _, o := range held {
		wasHeld[strconv.FormatInt(o, 10)] = true // values are the offsets
	}
	for i := range n {
		v := strconv.Itoa(i)
		if seen.accepted[v] != 1 {
			t.Fatalf("record %s accepted %d times", v, seen.accepted[v])
		}
		if want := int32(1); wasHeld[v] {
			if seen.dc[v] != 2 {
				t.Fatalf("record %s held by the dead member came with delivery count %d, want 2", v, seen.dc[v])
			}
		} else if seen.dc[v] != want {
			t.Fatalf("record %s came with delivery count %d", v, seen.dc[v])
		}
	}
}

// TestKafkaShareDeliveryLimit: a consumer that releases every record
// gets each share.delivery.count.limit times; then it is archived (the
// start offset passes it) and never delivered again, and nothing goes to
// a dead-letter topic.
func TestKafkaShareDeliveryLimit(t *testing.T) {
	c := startGRPCCluster(t, 0)
	const n, topic, group = 50, "share-limit", "share-limit-g"
	c.createTopic(t, topic, 1)
	admin := kgoClient(t, c.kafkaAddr)
	produceValues(t, admin, topic, n)
	setShareConfigs(t, admin, group, "share.auto.offset.reset", "earliest", "share.delivery.count.limit", "3")
	cl := kgoClient(t, c.kafkaAddr, kgo.ShareGroup(group), kgo.ConsumeTopics(topic), kgo.FetchMaxWait(200*time.Millisecond))
	deliveries := map[string][]int32{}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for shareStartOffset(t, admin, group, topic, 0) < n && ctx.Err() == nil {
		pctx, pcancel := context.WithTimeout(ctx, time.Second)
		fs := cl.PollFetches(pctx)
		pcancel()
		for _, r := range fs.Records() {
			deliveries[string(r.Value)] = append(deliveries[string(r.Value)], r.DeliveryCount())
			r.Ack(kgo.AckRelease)
		}
		if err := cl.FlushAcks(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := ctx.Err(); err != nil {
		t.Fatalf("start offset never reached %d: %v", n, err)
	}
	for i := range n {
		v := strconv.Itoa(i)
		if fmt.Sprint(deliveries[v]) != "[1 2 3]" {
			t.Fatalf("record %s delivered with counts %v, want [1 2 3]", v, deliveries[v])
		}
	}
	if _, ok := c.current().reg.Get("%DLQ%" + group); ok {
		t.Fatal("a share group's archived records went to a dead-letter topic")
	}
}

// TestKafkaShareCrossProtocol: a Kafka share group and a RocketMQ 5
// SimpleConsumer group of the same name on one topic share one POP state:
// every record goes to exactly one of them, and a record the Kafka member
// released comes to the SimpleConsumer as its second delivery attempt.
func TestKafkaShareCrossProtocol(t *testing.T) {
	c := startGRPCCluster(t, 0)
	const n, topic, group = 400, "share-x", "share-x-g"
	c.createTopic(t, topic, 2)
	admin := kgoClient(t, c.kafkaAddr)
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: topic, Partition: int32(i % 2), Value: []byte(strconv.Itoa(i))}
	}
	pcl := kgoClient(t, c.kafkaAddr, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := pcl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	setShareConfigs(t, admin, group, "share.auto.offset.reset", "earliest")

	// A Kafka member takes the first records of partition 0 and releases them.
	kcl := kgoClient(t, c.kafkaAddr)
	id := shareTopicID(t, admin, topic)
	hb := kmsg.NewPtrShareGroupHeartbeatRequest()
	hb.GroupID, hb.MemberID, hb.SubscribedTopicNames = group, "releaser", []string{topic}
	if r, err := hb.RequestWith(context.Background(), kcl); err != nil || r.ErrorCode != 0 {
		t.Fatalf("join: %v", err)
	}
	f := kmsg.NewPtrShareFetchRequest()
	f.GroupID, f.MemberID, f.MaxRecords, f.BatchSize, f.MaxWaitMillis, f.MaxBytes = kmsg.StringPtr(group), &hb.MemberID, 5, 5, 1000, 1<<20
	f.Topics = []kmsg.ShareFetchRequestTopic{{TopicID: id, Partitions: []kmsg.ShareFetchRequestTopicPartition{{Partition: 0, PartitionMaxBytes: 1 << 20}}}}
	fr, err := f.RequestWith(context.Background(), kcl)
	if err != nil || fr.ErrorCode != 0 || len(fr.Topics) != 1 || len(fr.Topics[0].Partitions[0].AcquiredRecords) == 0 {
		t.Fatalf("share fetch: %v %+v", err, fr)
	}
	ar := fr.Topics[0].Partitions[0].AcquiredRecords[0]
	ack := kmsg.NewPtrShareAcknowledgeRequest()
	ack.GroupID, ack.MemberID, ack.ShareSessionEpoch = f.GroupID, f.MemberID, 1
	ack.Topics = []kmsg.ShareAcknowledgeRequestTopic{{TopicID: id, Partitions: []kmsg.ShareAcknowledgeRequestTopicPartition{{Partition: 0,
		AcknowledgementBatches: []kmsg.ShareAcknowledgeRequestTopicPartitionAcknowledgementBatch{{FirstOffset: ar.FirstOffset, LastOffset: ar.LastOffset, AcknowledgeTypes: []int8{2}}}}}}}
	if r, err := ack.RequestWith(context.Background(), kcl); err != nil || r.ErrorCode != 0 || r.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("release: %v %+v", err, r)
	}
	released := map[string]bool{}
	for o := ar.FirstOffset; o <= ar.LastOffset; o++ {
		released[strconv.FormatInt(o*2, 10)] = true // partition 0 holds the even values
	}

	var mu sync.Mutex
	got := map[string]string{} // value -> who
	add := func(v, who string) {
		mu.Lock()
		defer mu.Unlock()
		if prev, dup := got[v]; dup {
			t.Errorf("record %s delivered to %s and to %s", v, prev, who)
		}
		got[v] = who
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(got) }
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // Kafka share consumer
		defer wg.Done()
		cl := kgoClient(t, c.kafkaAddr, kgo.ShareGroup(group), kgo.ConsumeTopics(topic), kgo.FetchMaxWait(300*time.Millisecond), kgo.ShareMaxRecords(20))
		defer cl.Close()
		for {
			select {
			case <-stop:
				return
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			fs := cl.PollFetches(ctx)
			cancel()
			for _, r := range fs.Records() {
				r.Ack(kgo.AckAccept)
				add(string(r.Value), "kafka")
			}
		}
	}()
	sc := c.simpleConsumer(t, group, topic, "*", time.Second)
	var attempts sync.Map
	go func() { // RocketMQ 5 SimpleConsumer
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			mvs, err := sc.Receive(context.Background(), 16, 30*time.Second)
			var st *rmq5.ErrRpcStatus
			if errors.As(err, &st) && st.GetCode() == 40401 || err != nil {
				continue
			}
			for _, mv := range mvs {
				if err := sc.Ack(context.Background(), mv); err != nil {
					t.Errorf("ack: %v", err)
				}
				attempts.Store(string(mv.GetBody()), mv.GetDeliveryAttempt())
				add(string(mv.GetBody()), "rocketmq")
			}
		}
	}()
	waitFor(t, 60*time.Second, func() bool { return count() == n })
	close(stop)
	wg.Wait()
	perSide := map[string]int{}
	for _, who := range got {
		perSide[who]++
	}
	t.Logf("delivered: %v", perSide)
	for v := range released {
		if a, ok := attempts.Load(v); ok && a.(int32) != 2 {
			t.Errorf("released record %s reached the SimpleConsumer at attempt %d, want 2", v, a)
		}
	}
	for _, p := range []int32{0, 1} {
		if so := shareStartOffset(t, admin, group, topic, p); so != n/2 {
			t.Errorf("partition %d: start offset %d, want %d", p, so, n/2)
		}
	}
}

// TestKafkaShareRestart: the share state and the group configs survive a
// broker restart: records accepted before it are never delivered again,
// records held by a member when it stopped come back once their locks
// (kept in the store) expire, with delivery count 2.
func TestKafkaShareRestart(t *testing.T) {
	c := startGRPCCluster(t, 0)
	const n, topic, group = 20, "share-restart", "share-restart-g"
	c.createTopic(t, topic, 1)
	admin := kgoClient(t, c.kafkaAddr)
	produceValues(t, admin, topic, n)
	setShareConfigs(t, admin, group, "share.auto.offset.reset", "earliest")
	id := shareTopicID(t, admin, topic)

	member := func(name string) (*kgo.Client, *kmsg.ShareFetchRequest) {
		cl := kgoClient(t, c.kafkaAddr)
		hb := kmsg.NewPtrShareGroupHeartbeatRequest()
		hb.GroupID, hb.MemberID, hb.SubscribedTopicNames = group, name, []string{topic}
		if r, err := hb.RequestWith(context.Background(), cl); err != nil || r.ErrorCode != 0 {
			t.Fatalf("join %s: %v %+v", name, err, r)
		}
		f := kmsg.NewPtrShareFetchRequest()
		f.GroupID, f.MemberID, f.MaxRecords, f.BatchSize, f.MaxWaitMillis, f.MaxBytes = kmsg.StringPtr(group), kmsg.StringPtr(name), 100, 100, 500, 1<<20
		f.Topics = []kmsg.ShareFetchRequestTopic{{TopicID: id, Partitions: []kmsg.ShareFetchRequestTopicPartition{{Partition: 0, PartitionMaxBytes: 1 << 20}}}}
		return cl, f
	}
	fetch := func(cl *kgo.Client, f *kmsg.ShareFetchRequest) []kmsg.ShareFetchResponseTopicPartitionAcquiredRecord {
		r, err := f.RequestWith(context.Background(), cl)
		if err != nil || r.ErrorCode != 0 {
			t.Fatalf("share fetch: %v %+v", err, r)
		}
		f.ShareSessionEpoch++
		f.Topics[0].Partitions[0].AcknowledgementBatches = nil
		if len(r.Topics) == 0 {
			return nil
		}
		return r.Topics[0].Partitions[0].AcquiredRecords
	}
	// 0..9 under the default 30 s lock (record-limit mode: exactly 10),
	// accepted; then 10..19 under a 2 s lock, held over the restart.
	cl, f := member("before")
	f.MaxRecords, f.ShareAcquireMode = 10, 1
	got := fetch(cl, f)
	if len(got) != 1 || got[0].FirstOffset != 0 || got[0].LastOffset != 9 {
		t.Fatalf("first fetch: %+v", got)
	}
	setShareConfigs(t, admin, group, "share.record.lock.duration.ms", "2000")
	f.Topics[0].Partitions[0].AcknowledgementBatches = []kmsg.ShareFetchRequestTopicPartitionAcknowledgementBatch{{FirstOffset: 0, LastOffset: 9, AcknowledgeTypes: []int8{1}}}
	r, err := f.RequestWith(context.Background(), cl)
	if err != nil || r.ErrorCode != 0 || r.Topics[0].Partitions[0].AcknowledgeErrorCode != 0 {
		t.Fatalf("accept 0..9: %v %+v", err, r)
	}
	if ar := r.Topics[0].Partitions[0].AcquiredRecords; len(ar) != 1 || ar[0].FirstOffset != 10 || ar[0].LastOffset != n-1 {
		t.Fatalf("second fetch: %+v", ar)
	}
	cl.Close()

	c.restart()
	admin = kgoClient(t, c.kafkaAddr)
	if so := shareStartOffset(t, admin, group, topic, 0); so != 10 {
		t.Fatalf("start offset after the restart: %d, want 10", so)
	}
	dc := kmsg.NewPtrDescribeConfigsRequest()
	dc.Resources = []kmsg.DescribeConfigsRequestResource{{ResourceType: kmsg.ConfigResourceTypeGroupConfig, ResourceName: group,
		ConfigNames: []string{"share.record.lock.duration.ms"}}}
	dr, err := dc.RequestWith(context.Background(), admin)
	if err != nil || len(dr.Resources) != 1 || len(dr.Resources[0].Configs) != 1 || *dr.Resources[0].Configs[0].Value != "2000" {
		t.Fatalf("group config after the restart: %v %+v", err, dr)
	}
	cl2, f2 := member("after")
	var again []kmsg.ShareFetchResponseTopicPartitionAcquiredRecord
	waitFor(t, 20*time.Second, func() bool { again = append(again, fetch(cl2, f2)...); return len(again) > 0 })
	if len(again) != 1 || again[0].FirstOffset != 10 || again[0].LastOffset != n-1 || again[0].DeliveryCount != 2 {
		t.Fatalf("after the restart: %+v, want 10..%d at delivery 2", again, n-1)
	}
}
