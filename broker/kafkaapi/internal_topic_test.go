package kafkaapi_test

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// metadataTopics asks for all topics (names nil) or the named ones.
func metadataTopics(rc *rawConn, names ...string) map[string]kmsg.MetadataResponseTopic {
	req := kmsg.NewPtrMetadataRequest()
	req.Version = 12
	for _, n := range names {
		t := kmsg.NewMetadataRequestTopic()
		t.Topic = kmsg.StringPtr(n)
		req.Topics = append(req.Topics, t)
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

// TestConsumerOffsetsIsReadable: a consumer that a KIP-848 group assigned
// __consumer_offsets reads it as an empty partition, by name (Fetch v12)
// and by topic id (Fetch v13+), and ListOffsets answers 0; without groups
// it stays unknown.
func TestConsumerOffsetsIsReadable(t *testing.T) {
	const name = "__consumer_offsets"
	b := startBrokerWith(t, brokerOpts{groups: true})
	rc := dial(t, b.addr)
	id := metadataTopics(rc, name)[name].TopicID
	fetch := func(rc *rawConn, version int16) kmsg.FetchResponseTopicPartition {
		req := kmsg.NewPtrFetchRequest()
		req.Version, req.MaxWaitMillis, req.MaxBytes, req.ReplicaID = version, 0, 1<<20, -1
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic, rt.TopicID = name, id
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.PartitionMaxBytes = 1 << 20
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		return rc.roundTrip(req).(*kmsg.FetchResponse).Topics[0].Partitions[0]
	}
	for _, v := range []int16{4, 12, 13, 16} {
		p := fetch(rc, v)
		if p.ErrorCode != 0 || p.HighWatermark != 0 || len(p.RecordBatches) != 0 {
			t.Fatalf("fetch v%d: error %d, high watermark %d, %d bytes", v, p.ErrorCode, p.HighWatermark, len(p.RecordBatches))
		}
	}
	req := kmsg.NewPtrListOffsetsRequest()
	req.Version, req.ReplicaID = 7, -1
	lt := kmsg.NewListOffsetsRequestTopic()
	lt.Topic = name
	lp := kmsg.NewListOffsetsRequestTopicPartition()
	lp.Timestamp = -1
	lt.Partitions = append(lt.Partitions, lp)
	req.Topics = append(req.Topics, lt)
	if p := rc.roundTrip(req).(*kmsg.ListOffsetsResponse).Topics[0].Partitions[0]; p.ErrorCode != 0 || p.Offset != 0 {
		t.Fatalf("list offsets: error %d, offset %d", p.ErrorCode, p.Offset)
	}

	plain := startBroker(t)
	if p := fetch(dial(t, plain.addr), 12); p.ErrorCode != 3 {
		t.Fatalf("fetch without groups: error %d, want 3 UNKNOWN_TOPIC_OR_PARTITION", p.ErrorCode)
	}
}

// TestCreateTopicsReplicationFactor: every partition is copied to every
// member of the broker group, so CreateTopics takes a replication factor
// of -1 or up to the group's size, and reports the group's size.
func TestCreateTopicsReplicationFactor(t *testing.T) {
	b := startBrokerWith(t, brokerOpts{groupSize: 2})
	rc := dial(t, b.addr)
	for _, tc := range []struct {
		name string
		rf   int16
		code int16
	}{{"rf-default", -1, 0}, {"rf-one", 1, 0}, {"rf-group", 2, 0}, {"rf-three", 3, 38}, {"rf-zero", 0, 38}} {
		req := kmsg.NewPtrCreateTopicsRequest()
		req.Version = 7 // the response carries the factor from v5
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = tc.name, 1, tc.rf
		req.Topics = append(req.Topics, rt)
		got := rc.roundTrip(req).(*kmsg.CreateTopicsResponse).Topics[0]
		if got.ErrorCode != tc.code || (tc.code == 0 && got.ReplicationFactor != 2) {
			t.Errorf("replication factor %d: error %d, factor %d; want error %d, factor 2", tc.rf, got.ErrorCode, got.ReplicationFactor, tc.code)
		}
	}
}
