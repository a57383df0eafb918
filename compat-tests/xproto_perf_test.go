package compattests

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestXProtoReadRatio is issue 7's performance figure, measured in
// one run on one broker: N records of 1 KiB (random bytes) produced by franz-go (snappy
// batches, its default) and N produced by rocketmq-client-go (batch
// sends) are each read from start to end by a franz-go consumer and by a
// rocketmq-client-go pull consumer. It reports each read's MB/s and the
// cross-protocol ratios:
//
//	kafka-data-ratio: RocketMQ consumer / Kafka consumer on Kafka data
//	rmq-data-ratio:   Kafka consumer / RocketMQ consumer on RocketMQ data
//	rocketmq-reader:  rocketmq pull on Kafka data / on RocketMQ data
//	kafka-reader:     franz-go on RocketMQ data / franz-go on Kafka data
//
// The last two compare one client with itself, so they measure what
// reading the other protocol's entries costs; the first two compare two
// clients (franz-go reads any data 3-5x faster than rocketmq-client-go).
// N is 200,000 (TWINMQ_XPROTO_PERF_N changes it); with 50,000 a read of
// the Kafka data took 20-90 ms and its rate varied 3x between rounds.
//
// Each round produces the RocketMQ data afresh (twice), so that the
// first franz-go read of it converts every batch (the broker's cache of
// converted batches is cold) and so that a fan-out of four franz-go
// consumers reading at once (four groups) starts from a cold cache too;
// the fan-out is compared with four franz-go consumers of the Kafka data.
//
// It is a measurement, not a check (timings are never asserted), and
// takes a few seconds of both cores, so it runs only when asked:
//
//	TWINMQ_XPROTO_PERF=1 go test ./compat-tests -run XProtoReadRatio -v
func TestXProtoReadRatio(t *testing.T) {
	if os.Getenv("TWINMQ_XPROTO_PERF") == "" {
		t.Skip("a throughput measurement; set TWINMQ_XPROTO_PERF=1 to run it")
	}
	const size, groups = 1 << 10, 4
	n := 200_000
	if v, err := strconv.Atoi(os.Getenv("TWINMQ_XPROTO_PERF_N")); err == nil && v > 0 {
		n = v
	}
	xb := startXBroker(t)
	kTopic := kafkaTopicName(t, "perf-kafka")
	xb.createXTopic(t, kTopic, 2)
	val := make([]byte, size) // incompressible: no codec makes a read cheap
	_, _ = rand.Read(val)
	produceKgoN(t, xb, kTopic, n, val)
	for round := range 3 { // the first round warms caches and clients
		rTopic, fTopic := kafkaTopicName(t, fmt.Sprint("perf-rmq-", round)), kafkaTopicName(t, fmt.Sprint("perf-fan-", round))
		xb.createXTopic(t, rTopic, 2)
		xb.createXTopic(t, fTopic, 2)
		produceRmqN(t, xb, rTopic, n, val)
		produceRmqN(t, xb, fTopic, n, val)
		kk := rate(n*size, func() { readKgoN(t, xb, kTopic, n) })
		kr := rate(n*size, func() { readPullN(t, xb, kTopic, n) })
		rr := rate(n*size, func() { readPullN(t, xb, rTopic, n) })
		rk := rate(n*size, func() { readKgoN(t, xb, rTopic, n) })     // cold cache
		rkWarm := rate(n*size, func() { readKgoN(t, xb, rTopic, n) }) // a second group
		kf := rate(groups*n*size, func() { readKgoFanout(t, xb, kTopic, n, groups) })
		rf := rate(groups*n*size, func() { readKgoFanout(t, xb, fTopic, n, groups) })
		st := xb.kafka.XProtoCacheStats()
		cached, hits, misses := st.Bytes, st.Hits, st.Misses
		t.Logf("round %d, %d x %d B: Kafka data: franz-go %.0f MB/s, rocketmq pull %.0f MB/s, ratio %.2f; "+
			"RocketMQ data: rocketmq pull %.0f MB/s, franz-go %.0f MB/s, ratio %.2f; "+
			"rocketmq pull on Kafka / RocketMQ data %.2f; "+
			"franz-go on RocketMQ / Kafka data: once %.2f (cold cache), again %.2f, %d groups at once %.0f / %.0f MB/s = %.2f; "+
			"cache %.1f MiB, hits %d, misses %d",
			round, n, size, kk, kr, kr/kk, rr, rk, rk/rr, kr/rr, rk/kk, rkWarm/kk, groups, rf, kf, rf/kf,
			float64(cached)/(1<<20), hits, misses)
	}
}

// readKgoFanout runs groups franz-go readers of topic at once (readKgoN).
func readKgoFanout(t *testing.T, xb *xBroker, topic string, n, groups int) {
	var wg sync.WaitGroup
	for range groups {
		wg.Go(func() { readKgoN(t, xb, topic, n) })
	}
	wg.Wait()
}

func rate(bytes int, fn func()) float64 {
	start := time.Now()
	fn()
	return float64(bytes) / 1e6 / time.Since(start).Seconds()
}

func produceKgoN(t *testing.T, xb *xBroker, topic string, n int, val []byte) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(xb.kafkaAddr), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: topic, Partition: int32(i % 2), Value: val, Key: []byte(xKey(i))}
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func produceRmqN(t *testing.T, xb *xBroker, topic string, n int, val []byte) {
	p := xb.rmq.producer(t)
	for i := 0; i < n; i += 32 {
		var msgs []*primitive.Message
		for j := i; j < min(i+32, n); j++ {
			msgs = append(msgs, primitive.NewMessage(topic, val).WithKeys([]string{xKey(j)}))
		}
		if r, err := p.SendSync(context.Background(), msgs...); err != nil || r.Status != primitive.SendOK {
			t.Fatalf("send: %v %v", r, err)
		}
	}
}

// readKgoN reads both partitions from offset 0 until n records arrived.
// It may run on goroutines of its own, so it reports with t.Error.
func readKgoN(t *testing.T, xb *xBroker, topic string, n int) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(xb.kafkaAddr), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
		topic: {0: kgo.NewOffset().At(0), 1: kgo.NewOffset().At(0)}}))
	if err != nil {
		t.Error(err)
		return
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for got := 0; got < n; {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Errorf("franz-go read %d of %d", got, n)
			return
		}
		got += fs.NumRecords()
	}
}

// readPullN pulls both queues from offset 0 until n messages arrived.
func readPullN(t *testing.T, xb *xBroker, topic string, n int) {
	pc, err := rocketmq.NewPullConsumer(consumer.WithNsResolver(xb.rmq.resolver()), consumer.WithGroupName("xperf"),
		consumer.WithInstance(instance(t)))
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.Subscribe(topic, consumer.MessageSelector{}); err != nil {
		t.Fatal(err)
	}
	if err := pc.Start(); err != nil {
		t.Fatal(err)
	}
	defer pc.Shutdown()
	route, _ := xb.rmq.ns.Table().Route(topic)
	next := [2]int64{}
	for got := 0; got < n; {
		for q := range 2 {
			mq := &primitive.MessageQueue{Topic: topic, BrokerName: route.BrokerDatas[0].BrokerName, QueueId: q}
			if end, _ := xb.store.MaxOffset(topic, int32(q)); end <= next[q] {
				continue
			}
			res, err := pc.PullFrom(context.Background(), mq, next[q], 32)
			if err != nil {
				t.Fatal(err)
			}
			got += len(res.GetMessageExts())
			next[q] = res.NextBeginOffset
		}
	}
}
