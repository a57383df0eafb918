package compattests

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/wire/remoting"
)

// TestXProtoOffsetsByTime: seeks by time work whichever protocol wrote
// the partition. One queue holds a run of rocketmq-client-go messages, a
// run of franz-go records, and another RocketMQ run. Kafka ListOffsets by
// timestamp answers the first record whose timestamp (a RocketMQ
// message's born timestamp, the CreateTime a Kafka consumer reads) is at
// least the target, for targets before the first entry, on and between
// every entry, and after the last (offset -1); kadm's "after milli" seek
// (kafka-consumer-groups --reset-offsets --to-datetime) lands there too.
// RocketMQ's SEARCH_OFFSET_BY_TIMESTAMP answers the first message whose
// store timestamp is at least the target, Kafka records included. Kafka
// used to index only its own batches: on RocketMQ-written data every seek
// jumped to the end.
func TestXProtoOffsetsByTime(t *testing.T) {
	b := startXBroker(t)
	const topic = "xp-by-time"
	b.createXTopic(t, topic, 1)
	p := b.rmq.producer(t)
	sendRMQ := func(from, n int) {
		for i := from; i < from+n; i++ {
			m := primitive.NewMessage(topic, []byte(fmt.Sprint("v", i)))
			m.WithTag("T")
			if r, err := p.SendSync(context.Background(), m); err != nil || r.Status != primitive.SendOK {
				t.Fatalf("send %d: %v %v", i, r, err)
			}
			time.Sleep(3 * time.Millisecond) // distinct born and store timestamps
		}
	}
	cl := kgoClient(t, b.kafkaAddr, kgo.DefaultProduceTopic(topic))
	sendKafka := func(from, n int) {
		for i := from; i < from+n; i++ {
			r := &kgo.Record{Value: []byte(fmt.Sprint("v", i)), Timestamp: time.Now()}
			if err := cl.ProduceSync(context.Background(), r).FirstErr(); err != nil {
				t.Fatalf("produce %d: %v", i, err)
			}
			time.Sleep(3 * time.Millisecond)
		}
	}
	sendRMQ(0, 5)
	sendKafka(5, 3)
	sendRMQ(8, 5)
	const n = 13

	// What each side reads: the Kafka timestamps and the RocketMQ store
	// timestamps, by offset.
	recs := consumeKgo(t, b.kafkaAddr, topic, map[int32]kgo.Offset{0: kgo.NewOffset().AtStart()}, n)
	kts := make([]int64, n)
	for i, r := range recs {
		if r.Offset != int64(i) || string(r.Value) != fmt.Sprint("v", i) {
			t.Fatalf("record %d: offset %d value %q", i, r.Offset, r.Value)
		}
		kts[i] = r.Timestamp.UnixMilli()
	}
	pull := brokerCall(t, b.rmq, remoting.PullMessage, map[string]string{"consumerGroup": "by_time", "topic": topic,
		"queueId": "0", "queueOffset": "0", "maxMsgNums": "32", "sysFlag": "0", "commitOffset": "0",
		"suspendTimeoutMillis": "0", "subscription": "*", "subVersion": "0"}, nil)
	msgs := primitive.DecodeMessage(pull.Body)
	if pull.Code != remoting.Success || len(msgs) != n {
		t.Fatalf("pull: code %d, %d messages", pull.Code, len(msgs))
	}
	sts := make([]int64, n)
	for i, m := range msgs {
		sts[i] = m.StoreTimestamp
	}

	// firstAtOrAfter is the answer of both protocols over their own
	// timestamps: the first offset whose timestamp is >= target.
	firstAtOrAfter := func(ts []int64, target int64) int64 {
		for i, v := range ts {
			if v >= target {
				return int64(i)
			}
		}
		return -1
	}
	var targets []int64
	for _, ts := range [][]int64{kts, sts} {
		targets = append(targets, ts[0]-3600_000, ts[n-1]+1, ts[n-1]+3600_000)
		for _, v := range ts {
			targets = append(targets, v-1, v, v+1)
		}
	}

	adm := kadm.NewClient(cl)
	for _, target := range targets {
		// Kafka, as kcat -o s@<ms> and every "seek to time" sends it.
		req := kmsg.NewPtrListOffsetsRequest()
		req.ReplicaID = -1
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Timestamp = target
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(context.Background(), cl)
		if err != nil {
			t.Fatal(err)
		}
		got := resp.Topics[0].Partitions[0]
		want := firstAtOrAfter(kts, target)
		wantTs := int64(-1)
		if want >= 0 {
			wantTs = kts[want]
		}
		if got.ErrorCode != 0 || got.Offset != want || got.Timestamp != wantTs {
			t.Errorf("Kafka ListOffsets at %d: error %d, offset %d at %d; want offset %d at %d (timestamps %v)",
				target, got.ErrorCode, got.Offset, got.Timestamp, want, wantTs, kts)
		}
		// kadm, as kafka-consumer-groups --to-datetime: past the last
		// record it is the end offset.
		lo, err := adm.ListOffsetsAfterMilli(context.Background(), target, topic)
		if err != nil {
			t.Fatal(err)
		}
		o, _ := lo.Lookup(topic, 0)
		if wantEnd := map[bool]int64{true: want, false: n}[want >= 0]; o.Err != nil || o.Offset != wantEnd {
			t.Errorf("kadm ListOffsetsAfterMilli(%d): %d %v, want %d", target, o.Offset, o.Err, wantEnd)
		}

		// RocketMQ, over store timestamps: past the last message it is
		// the max offset (Java's getOffsetInQueueByTime).
		r := brokerCall(t, b.rmq, remoting.SearchOffsetByTimestamp, map[string]string{"topic": topic, "queueId": "0",
			"timestamp": strconv.FormatInt(target, 10)}, nil)
		wantR := firstAtOrAfter(sts, target)
		if wantR < 0 {
			wantR = n
		}
		if r.Code != remoting.Success || r.ExtFields["offset"] != strconv.FormatInt(wantR, 10) {
			t.Errorf("RocketMQ search at %d: code %d offset %s, want %d (store timestamps %v)", target, r.Code, r.ExtFields["offset"], wantR, sts)
		}
	}
}
