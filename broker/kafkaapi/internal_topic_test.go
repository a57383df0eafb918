package kafkaapi_test

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// metadataTopics asks for all topics (names nil) or the named ones.
func metadataTopics(rc *rawConn, names ...string) map[string]kmsg.MetadataResponseTopic {
	req := kmsg.NewPtrMetadataRequest()
	req.Version = 12
	if names != nil {
		for _, n := range names {
			t := kmsg.NewMetadataRequestTopic()
			t.Topic = kmsg.StringPtr(n)
			req.Topics = append(req.Topics, t)
		}
	}
	out := map[string]kmsg.MetadataResponseTopic{}
	for _, t := range rc.roundTrip(req).(*kmsg.MetadataResponse).Topics {
		out[*t.Topic] = t
	}
	return out
}

func createTopicCode(rc *rawConn, name string) int16 {
	req := kmsg.NewPtrCreateTopicsRequest()
	t := kmsg.NewCreateTopicsRequestTopic()
	t.Topic, t.NumPartitions, t.ReplicationFactor = name, 1, 1
	req.Topics = append(req.Topics, t)
	return rc.roundTrip(req).(*kmsg.CreateTopicsResponse).Topics[0].ErrorCode
}

// TestConsumerOffsetsIsInternal: with groups served, Metadata lists
// __consumer_offsets as Kafka does, flagged internal; it cannot be
// created or produced to. Without groups it is neither listed nor
// creatable.
func TestConsumerOffsetsIsInternal(t *testing.T) {
	const name = "__consumer_offsets"
	b := startBrokerWith(t, brokerOpts{groups: true})
	b.createTopic(t, "plain", 1)
	rc := dial(t, b.addr)
	for _, names := range [][]string{nil, {name}} {
		got := metadataTopics(rc, names...)
		mt, ok := got[name]
		if !ok || mt.ErrorCode != 0 || !mt.IsInternal || len(mt.Partitions) != 1 || mt.TopicID == [16]byte{} {
			t.Fatalf("metadata %v: %s = %+v (listed %v)", names, name, mt, ok)
		}
		if names == nil && got["plain"].IsInternal {
			t.Fatal("a user topic is flagged internal")
		}
	}
	if code := createTopicCode(rc, name); code != 36 {
		t.Errorf("CreateTopics %s: error %d, want 36 TOPIC_ALREADY_EXISTS", name, code)
	}
	req := kmsg.NewPtrProduceRequest()
	req.Version, req.Acks, req.TimeoutMillis = 9, -1, 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = name
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = testBatch(t, "x", 1)
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := rc.roundTrip(req).(*kmsg.ProduceResponse)
	if code := resp.Topics[0].Partitions[0].ErrorCode; code != 17 {
		t.Errorf("produce to %s: error %d, want 17 INVALID_TOPIC_EXCEPTION", name, code)
	}

	plain := startBroker(t)
	rc = dial(t, plain.addr)
	if _, ok := metadataTopics(rc)[name]; ok {
		t.Errorf("%s listed without groups", name)
	}
	if code := createTopicCode(rc, name); code != 17 {
		t.Errorf("CreateTopics %s without groups: error %d, want 17 INVALID_TOPIC_EXCEPTION", name, code)
	}
}
