package kafkaapi_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// shareSeeds are share-group requests for the frame fuzzer.
func shareSeeds() []kmsg.Request {
	hb := kmsg.NewPtrShareGroupHeartbeatRequest()
	hb.Version, hb.GroupID, hb.MemberID, hb.SubscribedTopicNames = 1, "sg", "m1", []string{"fuzz"}
	sf := kmsg.NewPtrShareFetchRequest()
	sf.Version, sf.GroupID, sf.MemberID, sf.MaxRecords = 2, kmsg.StringPtr("sg"), kmsg.StringPtr("m1"), 10
	st := kmsg.NewShareFetchRequestTopic()
	sp := kmsg.NewShareFetchRequestTopicPartition()
	sp.AcknowledgementBatches = []kmsg.ShareFetchRequestTopicPartitionAcknowledgementBatch{{FirstOffset: 0, LastOffset: 2, AcknowledgeTypes: []int8{1}}}
	st.Partitions = append(st.Partitions, sp)
	sf.Topics = append(sf.Topics, st)
	sa := kmsg.NewPtrShareAcknowledgeRequest()
	sa.Version, sa.GroupID, sa.MemberID, sa.ShareSessionEpoch = 2, kmsg.StringPtr("sg"), kmsg.StringPtr("m1"), 1
	at := kmsg.NewShareAcknowledgeRequestTopic()
	ap := kmsg.NewShareAcknowledgeRequestTopicPartition()
	ap.AcknowledgementBatches = []kmsg.ShareAcknowledgeRequestTopicPartitionAcknowledgementBatch{{FirstOffset: 0, LastOffset: 1, AcknowledgeTypes: []int8{1, 3}}}
	at.Partitions = append(at.Partitions, ap)
	sa.Topics = append(sa.Topics, at)
	sd := kmsg.NewPtrShareGroupDescribeRequest()
	sd.GroupIDs = []string{"sg"}
	do := kmsg.NewPtrDescribeShareGroupOffsetsRequest()
	do.Groups = []kmsg.DescribeShareGroupOffsetsRequestGroup{{GroupID: "sg"}}
	ao := kmsg.NewPtrAlterShareGroupOffsetsRequest()
	ao.GroupID = "sg"
	ao.Topics = []kmsg.AlterShareGroupOffsetsRequestTopic{{Topic: "fuzz", Partitions: []kmsg.AlterShareGroupOffsetsRequestTopicPartition{{Partition: 0, StartOffset: 1}}}}
	de := kmsg.NewPtrDeleteShareGroupOffsetsRequest()
	de.GroupID = "sg"
	de.Topics = []kmsg.DeleteShareGroupOffsetsRequestTopic{{Topic: "fuzz"}}
	return []kmsg.Request{hb, sf, sa, sd, do, ao, de}
}

// shareClient is one member's raw share requests on its own connection.
type shareClient struct {
	t      *testing.T
	rc     *rawConn
	group  string
	member string
	epoch  int32
	id     [16]byte
}

func (c *shareClient) fetch(acks ...kmsg.ShareFetchRequestTopicPartitionAcknowledgementBatch) *kmsg.ShareFetchResponse {
	c.t.Helper()
	req := kmsg.NewPtrShareFetchRequest()
	req.Version, req.GroupID, req.MemberID, req.ShareSessionEpoch = 2, &c.group, &c.member, c.epoch
	req.MaxRecords, req.BatchSize, req.MaxBytes, req.MaxWaitMillis = 100, 100, 1<<20, 500
	t := kmsg.NewShareFetchRequestTopic()
	t.TopicID = c.id
	p := kmsg.NewShareFetchRequestTopicPartition()
	p.PartitionMaxBytes, p.AcknowledgementBatches = 1<<20, acks
	t.Partitions = append(t.Partitions, p)
	req.Topics = append(req.Topics, t)
	resp := c.rc.roundTrip(req).(*kmsg.ShareFetchResponse)
	if resp.ErrorCode == 0 {
		c.epoch++
	}
	return resp
}

func (c *shareClient) ack(epoch int32, first, last int64, typ int8) *kmsg.ShareAcknowledgeResponse {
	c.t.Helper()
	req := kmsg.NewPtrShareAcknowledgeRequest()
	req.Version, req.GroupID, req.MemberID, req.ShareSessionEpoch = 2, &c.group, &c.member, epoch
	t := kmsg.NewShareAcknowledgeRequestTopic()
	t.TopicID = c.id
	p := kmsg.NewShareAcknowledgeRequestTopicPartition()
	p.AcknowledgementBatches = []kmsg.ShareAcknowledgeRequestTopicPartitionAcknowledgementBatch{{FirstOffset: first, LastOffset: last, AcknowledgeTypes: []int8{typ}}}
	t.Partitions = append(t.Partitions, p)
	req.Topics = append(req.Topics, t)
	resp := c.rc.roundTrip(req).(*kmsg.ShareAcknowledgeResponse)
	if resp.ErrorCode == 0 {
		c.epoch++
	}
	return resp
}

func ackCode(r *kmsg.ShareAcknowledgeResponse) int16 {
	if r.ErrorCode != 0 || len(r.Topics) == 0 || len(r.Topics[0].Partitions) == 0 {
		return r.ErrorCode
	}
	return r.Topics[0].Partitions[0].ErrorCode
}

func acquired(r *kmsg.ShareFetchResponse) []kmsg.ShareFetchResponseTopicPartitionAcquiredRecord {
	var out []kmsg.ShareFetchResponseTopicPartitionAcquiredRecord
	for _, t := range r.Topics {
		for _, p := range t.Partitions {
			out = append(out, p.AcquiredRecords...)
		}
	}
	return out
}

// startOffset is the group's share-partition start offset of partition 0.
func startOffset(t *testing.T, rc *rawConn, group, topic string) int64 {
	t.Helper()
	req := kmsg.NewPtrDescribeShareGroupOffsetsRequest()
	req.Version = 1
	req.Groups = []kmsg.DescribeShareGroupOffsetsRequestGroup{{GroupID: group,
		Topics: []kmsg.DescribeShareGroupOffsetsRequestGroupTopic{{Topic: topic, Partitions: []int32{0}}}}}
	resp := rc.roundTrip(req).(*kmsg.DescribeShareGroupOffsetsResponse)
	return resp.Groups[0].Topics[0].Partitions[0].StartOffset
}

// TestShareBadInput: share session epochs that are not the session's,
// acknowledgements of offsets not held, held by another member, or whose
// lock expired get KIP-932's codes, and nothing is acknowledged that was
// not delivered to the member acknowledging it.
func TestShareBadInput(t *testing.T) {
	b := startBrokerWith(t, brokerOpts{groups: true})
	cfg := b.createTopic(t, "share-bad", 1)
	rc := dial(t, b.addr)
	if code := produceOne(rc, "share-bad", 0, testBatch(t, "v", 10)); code != 0 {
		t.Fatalf("produce: %d", code)
	}
	setConfigs := func(kvs ...[2]string) {
		t.Helper()
		alter := kmsg.NewPtrIncrementalAlterConfigsRequest()
		res := kmsg.NewIncrementalAlterConfigsRequestResource()
		res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeGroupConfig, "sg"
		for _, kv := range kvs {
			res.Configs = append(res.Configs, kmsg.IncrementalAlterConfigsRequestResourceConfig{Name: kv[0], Value: kmsg.StringPtr(kv[1])})
		}
		alter.Resources = append(alter.Resources, res)
		if r := rc.roundTrip(alter).(*kmsg.IncrementalAlterConfigsResponse); r.Resources[0].ErrorCode != 0 {
			t.Fatalf("alter group configs: %d", r.Resources[0].ErrorCode)
		}
	}
	// Earliest start; the default 30 s lock: nothing below depends on
	// timing until the lock is shortened on purpose.
	setConfigs([2]string{"share.auto.offset.reset", "earliest"})
	bad := kmsg.NewPtrIncrementalAlterConfigsRequest()
	bres := kmsg.NewIncrementalAlterConfigsRequestResource()
	bres.ResourceType, bres.ResourceName = kmsg.ConfigResourceTypeGroupConfig, "sg"
	bres.Configs = []kmsg.IncrementalAlterConfigsRequestResourceConfig{{Name: "share.delivery.count.limit", Value: kmsg.StringPtr("99")}}
	bad.Resources = append(bad.Resources, bres)
	if r := rc.roundTrip(bad).(*kmsg.IncrementalAlterConfigsResponse); r.Resources[0].ErrorCode != 40 {
		t.Fatalf("out-of-range group config: code %d, want INVALID_CONFIG", r.Resources[0].ErrorCode)
	}

	a := &shareClient{t: t, rc: rc, group: "sg", member: "a", id: cfg.ID}
	bc := &shareClient{t: t, rc: dial(t, b.addr), group: "sg", member: "b", id: cfg.ID}

	// A later epoch with no session; acknowledgements opening one.
	a.epoch = 3
	if r := a.fetch(); r.ErrorCode != 122 {
		t.Fatalf("epoch 3 without a session: %d, want SHARE_SESSION_NOT_FOUND", r.ErrorCode)
	}
	a.epoch = 0
	if r := a.fetch(kmsg.ShareFetchRequestTopicPartitionAcknowledgementBatch{FirstOffset: 0, LastOffset: 0, AcknowledgeTypes: []int8{1}}); r.ErrorCode != 42 {
		t.Fatalf("acks opening a session: %d, want INVALID_REQUEST", r.ErrorCode)
	}
	if r := a.ack(0, 0, 0, 1); r.ErrorCode != 123 {
		t.Fatalf("ShareAcknowledge at epoch 0: %d, want INVALID_SHARE_SESSION_EPOCH", r.ErrorCode)
	}
	r := a.fetch()
	if got := acquired(r); r.ErrorCode != 0 || len(got) != 1 || got[0].FirstOffset != 0 || got[0].LastOffset != 9 || got[0].DeliveryCount != 1 {
		t.Fatalf("first fetch: code %d acquired %+v", r.ErrorCode, got)
	}
	if len(r.Topics[0].Partitions[0].Records) == 0 {
		t.Fatal("acquired records came without record batches")
	}
	if r := a.ack(a.epoch+5, 0, 0, 1); r.ErrorCode != 123 {
		t.Fatalf("wrong epoch: %d, want INVALID_SHARE_SESSION_EPOCH", r.ErrorCode)
	}
	// Offsets never delivered, an unknown type, and a range partly held:
	// nothing of it applies.
	if c := ackCode(a.ack(a.epoch, 10, 12, 1)); c != 121 {
		t.Fatalf("ack of offsets not delivered: %d, want INVALID_RECORD_STATE", c)
	}
	if c := ackCode(a.ack(a.epoch, 0, 0, 9)); c != 42 {
		t.Fatalf("ack type 9: %d, want INVALID_REQUEST", c)
	}
	if c := ackCode(a.ack(a.epoch, 8, 11, 1)); c != 121 {
		t.Fatalf("ack past what was delivered: %d, want INVALID_RECORD_STATE", c)
	}
	// Another member cannot settle a's records.
	bc.fetch() // opens b's session; a holds everything
	if c := ackCode(bc.ack(bc.epoch, 0, 4, 1)); c != 121 {
		t.Fatalf("ack by another member: %d, want INVALID_RECORD_STATE", c)
	}
	if so := startOffset(t, rc, "sg", "share-bad"); so != 0 {
		t.Fatalf("start offset %d after refused acks, want 0", so)
	}
	// a accepts 0..4 and releases 5..9, then takes them again under the
	// shortest lock Kafka allows; it expires and b gets them.
	if c := ackCode(a.ack(a.epoch, 0, 4, 1)); c != 0 {
		t.Fatalf("accept: %d", c)
	}
	if c := ackCode(a.ack(a.epoch, 0, 0, 1)); c != 121 {
		t.Fatalf("second accept: %d, want INVALID_RECORD_STATE", c)
	}
	if c := ackCode(a.ack(a.epoch, 5, 9, 2)); c != 0 {
		t.Fatalf("release: %d", c)
	}
	setConfigs([2]string{"share.record.lock.duration.ms", "1000"})
	if got := acquired(a.fetch()); len(got) != 1 || got[0].FirstOffset != 5 || got[0].LastOffset != 9 || got[0].DeliveryCount != 2 {
		t.Fatalf("after the release a got %+v, want 5..9 delivered twice", got)
	}
	var got []kmsg.ShareFetchResponseTopicPartitionAcquiredRecord
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for len(got) == 0 && ctx.Err() == nil {
		got = acquired(bc.fetch())
	}
	if len(got) != 1 || got[0].FirstOffset != 5 || got[0].LastOffset != 9 || got[0].DeliveryCount != 3 {
		t.Fatalf("after a's lock expired b got %+v, want 5..9 at their third delivery", got)
	}
	if c := ackCode(a.ack(a.epoch, 5, 9, 1)); c != 121 {
		t.Fatalf("ack with an expired lock: %d, want INVALID_RECORD_STATE", c)
	}
	if c := ackCode(bc.ack(bc.epoch, 5, 9, 3)); c != 0 {
		t.Fatalf("reject by the holder: %d", c)
	}
	if so := startOffset(t, rc, "sg", "share-bad"); so != 10 {
		t.Fatalf("start offset %d, want 10", so)
	}
	// Closing the session ends it: its epochs are gone.
	if r := a.ack(-1, 0, 0, 1); r.ErrorCode != 0 {
		t.Fatalf("close: %d", r.ErrorCode)
	}
	if r := a.ack(a.epoch, 0, 0, 1); r.ErrorCode != 122 {
		t.Fatalf("after close: %d, want SHARE_SESSION_NOT_FOUND", r.ErrorCode)
	}
}
