package compattests

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"
)

// xConsumer reads a topic with its own group and returns what it got
// once want messages arrived. onlyTagA consumers subscribe to TagA and
// rely on the broker's tag filtering; kafkaSide ones are Kafka clients.
type xConsumer struct {
	name      string
	kafkaSide bool
	onlyTagA  bool
	read      func(t *testing.T, b *xBroker, topic, group string, want int) []xmsg
}

// xWait bounds a consumer's wait for its messages.
const xWait = 60 * time.Second

func xConsumers() []xConsumer {
	return []xConsumer{
		{"franz-go-group", true, false, xReadKgo},
		{"sarama-group", true, false, xReadSarama},
		{"kafka-go-reader", true, false, xReadSegmentio},
		{"confluent", true, false, xReadConfluent},
		{"rocketmq-push-TagA", false, true, xReadPush},
		{"rocketmq-orderly", false, false, xReadOrderly},
		{"rocketmq-pull", false, false, xReadPull},
	}
}

func headersMap(n int, kv func(i int) (string, []byte)) map[string]string {
	m := make(map[string]string, n)
	for i := range n {
		k, v := kv(i)
		m[k] = string(v)
	}
	return m
}

func fromKafka(value, key []byte, props map[string]string, ts time.Time, part int32, off int64) xmsg {
	return xmsg{value: string(value), key: string(key), tags: props["TAGS"], props: props, ts: ts.UnixMilli(), partition: part, offset: off}
}

func xReadKgo(t *testing.T, b *xBroker, topic, group string, want int) []xmsg {
	cl := kgoClient(t, b.kafkaAddr, kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var col xCollector
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		for ctx.Err() == nil {
			cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
				props := headersMap(len(r.Headers), func(i int) (string, []byte) { return r.Headers[i].Key, r.Headers[i].Value })
				col.add(fromKafka(r.Value, r.Key, props, r.Timestamp, r.Partition, r.Offset))
			})
		}
	})
	defer func() { cancel(); wg.Wait() }()
	return col.wait(t, want, xWait)
}

type xSaramaHandler struct{ col *xCollector }

func (xSaramaHandler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (xSaramaHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }
func (h xSaramaHandler) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for m := range c.Messages() {
		props := headersMap(len(m.Headers), func(i int) (string, []byte) { return string(m.Headers[i].Key), m.Headers[i].Value })
		h.col.add(fromKafka(m.Value, m.Key, props, m.Timestamp, m.Partition, m.Offset))
		s.MarkMessage(m, "")
	}
	return nil
}

func xReadSarama(t *testing.T, b *xBroker, topic, group string, want int) []xmsg {
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V2_8_0_0
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cg, err := sarama.NewConsumerGroup([]string{b.kafkaAddr}, group, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var col xCollector
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		for ctx.Err() == nil {
			if err := cg.Consume(ctx, []string{topic}, xSaramaHandler{&col}); err != nil && !errors.Is(err, sarama.ErrClosedConsumerGroup) {
				time.Sleep(100 * time.Millisecond)
			}
		}
	})
	defer func() { cancel(); wg.Wait(); cg.Close() }()
	return col.wait(t, want, xWait)
}

func xReadSegmentio(t *testing.T, b *xBroker, topic, group string, want int) []xmsg {
	r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: []string{b.kafkaAddr}, GroupID: group, Topic: topic,
		StartOffset: kafkago.FirstOffset, HeartbeatInterval: 500 * time.Millisecond, MaxWait: 200 * time.Millisecond,
		JoinGroupBackoff: 200 * time.Millisecond, ReadBackoffMax: 200 * time.Millisecond})
	var col xCollector
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			m, err := r.FetchMessage(ctx)
			if err != nil {
				return
			}
			props := headersMap(len(m.Headers), func(i int) (string, []byte) { return m.Headers[i].Key, m.Headers[i].Value })
			col.add(fromKafka(m.Value, m.Key, props, m.Time, int32(m.Partition), m.Offset))
			_ = r.CommitMessages(ctx, m)
		}
	})
	defer func() { cancel(); wg.Wait(); r.Close() }()
	return col.wait(t, want, xWait)
}

func xReadConfluent(t *testing.T, b *xBroker, topic, group string, want int) []xmsg {
	c, err := ckafka.NewConsumer(&ckafka.ConfigMap{"bootstrap.servers": b.kafkaAddr, "group.id": group,
		"auto.offset.reset": "earliest", "log_level": 3})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SubscribeTopics([]string{topic}, nil); err != nil {
		t.Fatal(err)
	}
	var col xCollector
	deadline := time.Now().Add(xWait)
	for col.count() < want && time.Now().Before(deadline) {
		m, err := c.ReadMessage(200 * time.Millisecond)
		if err != nil {
			continue // timeouts while the group forms
		}
		props := headersMap(len(m.Headers), func(i int) (string, []byte) { return m.Headers[i].Key, m.Headers[i].Value })
		col.add(fromKafka(m.Value, m.Key, props, m.Timestamp, m.TopicPartition.Partition, int64(m.TopicPartition.Offset)))
	}
	return col.wait(t, want, time.Millisecond)
}

// xPush consumes with a push consumer (clustering) until want arrived.
func xPush(t *testing.T, b *xBroker, topic, group, expr string, want int, opts ...consumer.Option) []xmsg {
	var col xCollector
	pc := b.rmq.pushConsumer(t, group, opts...)
	err := pc.Subscribe(topic, consumer.MessageSelector{Type: consumer.TAG, Expression: expr},
		func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
			for _, m := range msgs {
				col.add(fromRocketMQ(m))
			}
			return consumer.ConsumeSuccess, nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.Start(); err != nil {
		t.Fatal(err)
	}
	defer pc.Shutdown()
	return col.wait(t, want, xWait)
}

func xReadPush(t *testing.T, b *xBroker, topic, group string, want int) []xmsg {
	return xPush(t, b, topic, group, "TagA", want)
}

func xReadOrderly(t *testing.T, b *xBroker, topic, group string, want int) []xmsg {
	return xPush(t, b, topic, group, "*", want, consumer.WithConsumerOrder(true))
}

// xReadPull pulls every queue from offset 0 with the pull consumer.
func xReadPull(t *testing.T, b *xBroker, topic, group string, want int) []xmsg {
	pc, err := rocketmq.NewPullConsumer(consumer.WithNsResolver(b.rmq.resolver()), consumer.WithInstance(instance(t)),
		consumer.WithGroupName(group))
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
	route, ok := b.rmq.ns.Table().Route(topic)
	if !ok || len(route.BrokerDatas) == 0 {
		t.Fatalf("no route for %s", topic)
	}
	brokerName := route.BrokerDatas[0].BrokerName
	var col xCollector
	next := map[int]int64{}
	deadline := time.Now().Add(xWait)
	for col.count() < want && time.Now().Before(deadline) {
		before := col.count()
		for q := range 2 {
			if end, _ := b.store.MaxOffset(topic, int32(q)); end <= next[q] {
				continue // an empty queue would hold the pull for its whole suspend
			}
			mq := &primitive.MessageQueue{Topic: topic, BrokerName: brokerName, QueueId: q}
			res, err := pc.PullFrom(context.Background(), mq, next[q], 32)
			if err != nil {
				t.Fatalf("pull queue %d: %v", q, err)
			}
			for _, m := range res.GetMessageExts() {
				col.add(fromRocketMQ(m))
			}
			if res.NextBeginOffset > next[q] {
				next[q] = res.NextBeginOffset
			}
		}
		if col.count() == before {
			time.Sleep(20 * time.Millisecond) // nothing new: do not spin
		}
	}
	return col.wait(t, want, time.Millisecond)
}
