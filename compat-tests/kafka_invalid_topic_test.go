package compattests

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/twinmq/twinmq/wire/kafka"
)

// TestKafkaInvalidTopicName: franz-go producing to a topic name no Kafka
// client may use (../../etc) fails at once with INVALID_TOPIC_EXCEPTION,
// not after retrying UNKNOWN_TOPIC_OR_PARTITION until its timeout; a raw
// Produce and a raw Metadata through the same client answer 17 too; no
// such topic is created.
func TestKafkaInvalidTopicName(t *testing.T) {
	b := startKafka(t, t.TempDir(), "127.0.0.1:0")
	cl := kgoClient(t, b.addr, kgo.AllowAutoTopicCreation(), kgo.RecordDeliveryTimeout(time.Minute))
	// Raw requests at Kafka 3.9's versions: Produce v13 names topics by id only.
	raw := kgoClient(t, b.addr, kgo.MaxVersions(kversion.V3_9_0()))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, name := range []string{"../../etc", "..", "a%b"} {
		err := cl.ProduceSync(ctx, &kgo.Record{Topic: name, Value: []byte("x")}).FirstErr()
		if !errors.Is(err, kerr.InvalidTopicException) {
			t.Errorf("kgo produce to %q: %v, want INVALID_TOPIC_EXCEPTION", name, err)
		}

		preq := kmsg.NewPtrProduceRequest()
		preq.Acks, preq.TimeoutMillis = -1, 5000
		pt := kmsg.NewProduceRequestTopic()
		pt.Topic = name
		pp := kmsg.NewProduceRequestTopicPartition()
		pp.Records = kgoBatch(t)
		pt.Partitions = append(pt.Partitions, pp)
		preq.Topics = append(preq.Topics, pt)
		presp, err := preq.RequestWith(ctx, raw)
		if err != nil {
			t.Fatal(err)
		}
		if code := presp.Topics[0].Partitions[0].ErrorCode; code != kerr.InvalidTopicException.Code {
			t.Errorf("raw produce to %q: error %d, want 17", name, code)
		}

		mreq := kmsg.NewPtrMetadataRequest()
		mreq.AllowAutoTopicCreation = true
		mt := kmsg.NewMetadataRequestTopic()
		mt.Topic = kmsg.StringPtr(name)
		mreq.Topics = append(mreq.Topics, mt)
		mresp, err := mreq.RequestWith(ctx, raw)
		if err != nil {
			t.Fatal(err)
		}
		if code := mresp.Topics[0].ErrorCode; code != kerr.InvalidTopicException.Code {
			t.Errorf("raw metadata of %q: error %d, want 17", name, code)
		}
		if _, ok := b.reg.Get(name); ok {
			t.Errorf("%q was created", name)
		}
	}
}

// kgoBatch is a v2 record batch of one record.
func kgoBatch(t *testing.T) []byte {
	t.Helper()
	spec := kafka.BatchSpec{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}
	b, err := kafka.AppendBatch(nil, spec, []kafka.Record{{Value: []byte("x")}}, kafka.CodecNone)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
