package kafkaapi_test

import (
	"context"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/broker/kafkaapi"
)

// TestDoInProcess: Handler.Do serves an admin key as the network path
// does (a topic created, then refused as existing; a commit from outside
// a group read back by a Kafka client's OffsetFetch) and refuses the keys
// that belong to a connection.
func TestDoInProcess(t *testing.T) {
	b := startBrokerWith(t, brokerOpts{groups: true})
	ctx := context.Background()
	create := func() int16 {
		req := kmsg.NewPtrCreateTopicsRequest()
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = "made", 2, -1
		req.Topics = append(req.Topics, rt)
		resp, err := b.h.Do(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		return resp.(*kmsg.CreateTopicsResponse).Topics[0].ErrorCode
	}
	if code := create(); code != 0 {
		t.Fatalf("create: %v", kerr.ErrorForCode(code))
	}
	if c, ok := b.reg.Get("made"); !ok || c.Queues != 2 {
		t.Fatalf("registry: %+v %v", c, ok)
	}
	if code := create(); code != kerr.TopicAlreadyExists.Code {
		t.Fatalf("create again: %v", kerr.ErrorForCode(code))
	}

	commit := kmsg.NewPtrOffsetCommitRequest()
	commit.Group, commit.Generation = "g", -1
	ct := kmsg.NewOffsetCommitRequestTopic()
	ct.Topic = "made"
	cp := kmsg.NewOffsetCommitRequestTopicPartition()
	cp.Partition, cp.Offset, cp.LeaderEpoch = 1, 0, -1
	ct.Partitions = append(ct.Partitions, cp)
	commit.Topics = append(commit.Topics, ct)
	resp, err := b.h.Do(ctx, commit)
	if err != nil || resp.(*kmsg.OffsetCommitResponse).Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("commit: %+v %v", resp, err)
	}
	fetch := kmsg.NewPtrOffsetFetchRequest()
	fetch.Group = "g"
	fetch.Version = 7
	got := dial(t, b.addr).roundTrip(fetch).(*kmsg.OffsetFetchResponse)
	if len(got.Topics) != 1 || len(got.Topics[0].Partitions) != 1 || got.Topics[0].Partitions[0].Offset != 0 ||
		got.Topics[0].Partitions[0].Partition != 1 {
		t.Fatalf("OffsetFetch over the network after Do: %+v", got)
	}

	if _, err := b.h.Do(ctx, kmsg.NewPtrProduceRequest()); !errors.Is(err, kafkaapi.ErrNotInProcess) {
		t.Fatalf("Produce in process: %v, want ErrNotInProcess", err)
	}
}
