package compattests

import (
	"context"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"
)

// xProducer sends the matrix messages of one client to a topic of two
// partitions/queues and returns what it sent.
type xProducer struct {
	name string
	send func(t *testing.T, b *xBroker, topic string) []xsent
}

// xProducers are the producer rows of the matrix; the Kafka ones each use
// another codec, so every codec crosses to RocketMQ.
func xProducers() []xProducer {
	return []xProducer{
		{"franz-go", xSendKgo},
		{"sarama", xSendSarama},
		{"kafka-go", xSendSegmentio},
		{"confluent", xSendConfluent},
		{"rocketmq-sync", func(t *testing.T, b *xBroker, topic string) []xsent { return xSendRocketMQ(t, b, topic, false) }},
		{"rocketmq-batch", func(t *testing.T, b *xBroker, topic string) []xsent { return xSendRocketMQ(t, b, topic, true) }},
	}
}

// kafkaSent is the sent table of a Kafka producer that set each record's
// timestamp to base+i.
func kafkaSent(base int64) []xsent {
	out := make([]xsent, xMatrixN)
	for i := range out {
		out[i] = xsent{i: i, tsMin: base + int64(i), tsMax: base + int64(i), fromKafka: true}
	}
	return out
}

func xSendKgo(t *testing.T, b *xBroker, topic string) []xsent {
	cl := kgoClient(t, b.kafkaAddr, kgo.ProducerBatchCompression(kgo.SnappyCompression()))
	base := xBaseTS()
	var recs []*kgo.Record
	for i := range xMatrixN {
		recs = append(recs, &kgo.Record{Topic: topic, Partition: xPartition(i), Key: []byte(xKey(i)), Value: []byte(xValue("franz-go", i)),
			Timestamp: time.UnixMilli(base + int64(i)),
			Headers:   []kgo.RecordHeader{{Key: "h", Value: []byte(xHeader(i))}, {Key: "TAGS", Value: []byte(xTag(i))}}})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("franz-go produce: %v", err)
	}
	return kafkaSent(base)
}

func xSendSarama(t *testing.T, b *xBroker, topic string) []xsent {
	cfg := saramaConfig(sarama.V2_8_0_0, sarama.WaitForAll, sarama.CompressionLZ4)
	p := saramaProducer(t, b.kafkaAddr, topic, cfg) // leader connected first: no resend race
	defer p.Close()
	base := xBaseTS()
	for i := range xMatrixN {
		_, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: topic, Partition: xPartition(i), Key: sarama.StringEncoder(xKey(i)),
			Value: sarama.StringEncoder(xValue("sarama", i)), Timestamp: time.UnixMilli(base + int64(i)),
			Headers: []sarama.RecordHeader{{Key: []byte("h"), Value: []byte(xHeader(i))}, {Key: []byte("TAGS"), Value: []byte(xTag(i))}}})
		if err != nil {
			t.Fatalf("sarama send %d: %v", i, err)
		}
	}
	return kafkaSent(base)
}

func xSendSegmentio(t *testing.T, b *xBroker, topic string) []xsent {
	w := &kafkago.Writer{Addr: kafkago.TCP(b.kafkaAddr), Topic: topic, Compression: kafkago.Zstd, RequiredAcks: kafkago.RequireAll,
		BatchTimeout: 10 * time.Millisecond,
		Balancer: kafkago.BalancerFunc(func(m kafkago.Message, parts ...int) int {
			return parts[int(m.Key[len(m.Key)-1]-'0')%len(parts)] // key-<i>: partition i%2
		})}
	defer w.Close()
	base := xBaseTS()
	var msgs []kafkago.Message
	for i := range xMatrixN {
		msgs = append(msgs, kafkago.Message{Key: []byte(xKey(i)), Value: []byte(xValue("kafka-go", i)), Time: time.UnixMilli(base + int64(i)),
			Headers: []kafkago.Header{{Key: "h", Value: []byte(xHeader(i))}, {Key: "TAGS", Value: []byte(xTag(i))}}})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("kafka-go write: %v", err)
	}
	return kafkaSent(base)
}

func xSendConfluent(t *testing.T, b *xBroker, topic string) []xsent {
	p, err := ckafka.NewProducer(&ckafka.ConfigMap{"bootstrap.servers": b.kafkaAddr, "compression.codec": "gzip",
		"linger.ms": 5, "log_level": 3})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	base := xBaseTS()
	for i := range xMatrixN {
		err := p.Produce(&ckafka.Message{
			TopicPartition: ckafka.TopicPartition{Topic: &topic, Partition: xPartition(i)},
			Key:            []byte(xKey(i)), Value: []byte(xValue("confluent", i)), Timestamp: time.UnixMilli(base + int64(i)),
			Headers: []ckafka.Header{{Key: "h", Value: []byte(xHeader(i))}, {Key: "TAGS", Value: []byte(xTag(i))}},
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
	}
	for range xMatrixN {
		select {
		case e := <-p.Events():
			if m, ok := e.(*ckafka.Message); ok && m.TopicPartition.Error != nil {
				t.Fatalf("confluent delivery: %v", m.TopicPartition.Error)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("confluent: no delivery report")
		}
	}
	return kafkaSent(base)
}

// xSendRocketMQ sends with rocketmq-client-go, one SendSync per message or
// one batch SendSync; the client sets the born timestamps itself.
func xSendRocketMQ(t *testing.T, b *xBroker, topic string, batch bool) []xsent {
	name := "rocketmq-sync"
	if batch {
		name = "rocketmq-batch"
	}
	p := b.rmq.producer(t)
	var msgs []*primitive.Message
	for i := range xMatrixN {
		m := primitive.NewMessage(topic, []byte(xValue(name, i))).WithTag(xTag(i)).WithKeys([]string{xKey(i)})
		m.WithProperty("h", xHeader(i))
		msgs = append(msgs, m)
	}
	start := time.Now().UnixMilli()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if batch {
		if r, err := p.SendSync(ctx, msgs...); err != nil || r.Status != primitive.SendOK {
			t.Fatalf("rocketmq batch send: %v %v", r, err)
		}
	} else {
		for i, m := range msgs {
			if r, err := p.SendSync(ctx, m); err != nil || r.Status != primitive.SendOK {
				t.Fatalf("rocketmq send %d: %v %v", i, r, err)
			}
		}
	}
	end := time.Now().UnixMilli()
	out := make([]xsent, xMatrixN)
	for i := range out {
		out[i] = xsent{i: i, tsMin: start, tsMax: end}
	}
	return out
}
