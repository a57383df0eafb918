package kafkaapi_test

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestFetchSessionPairs: every (SessionID, SessionEpoch) pair gets
// Kafka's answer (FetchManager.newContext). Epoch 0 (open a session) and
// -1 (no session) are full fetches, answered with the partition's records
// and SessionID 0 whatever the id; any other epoch is incremental and
// names a session twinmq never opened: FETCH_SESSION_ID_NOT_FOUND (70),
// no topics, SessionID 0. kafka-go's Client.Fetch sends -1/-1.
func TestFetchSessionPairs(t *testing.T) {
	b := startBroker(t)
	id := b.createTopic(t, "sess", 1).ID
	rc := dial(t, b.addr)
	produceRounds(t, rc, "sess", 1, 3)

	cases := []struct {
		id, epoch int32
		full      bool
	}{
		{0, 0, true},
		{0, -1, true},
		{-1, -1, true}, // kafka-go's kafka.Client
		{-1, 0, true},
		{7, -1, true}, // closes session 7 (none) and fetches in full
		{7, 0, true},  // closes session 7 and asks for a new one
		{0, 1, false}, // incremental without a session
		{7, 1, false},
		{7, 5, false},
		{-1, 1, false},
		{0, -2, false}, // no such epoch; not full, so a session lookup
		{7, -2, false},
		{0, 2147483647, false},
	}
	for _, version := range []int16{7, 11, 12, 13, 16} {
		for _, c := range cases {
			t.Run(fmt.Sprintf("v%d/id%d/epoch%d", version, c.id, c.epoch), func(t *testing.T) {
				req := kmsg.NewPtrFetchRequest()
				req.Version, req.MaxWaitMillis, req.MaxBytes = version, 0, 1<<20
				req.SessionID, req.SessionEpoch = c.id, c.epoch
				rt := kmsg.NewFetchRequestTopic()
				rt.Topic, rt.TopicID = "sess", id
				rp := kmsg.NewFetchRequestTopicPartition()
				rp.PartitionMaxBytes = 1 << 20
				rt.Partitions = append(rt.Partitions, rp)
				req.Topics = append(req.Topics, rt)
				resp := rc.roundTrip(req).(*kmsg.FetchResponse)
				if resp.SessionID != 0 {
					t.Fatalf("SessionID %d, want 0 (no session kept)", resp.SessionID)
				}
				if !c.full {
					if resp.ErrorCode != 70 || len(resp.Topics) != 0 {
						t.Fatalf("error %d with %d topics, want FETCH_SESSION_ID_NOT_FOUND (70) and none",
							resp.ErrorCode, len(resp.Topics))
					}
					return
				}
				if resp.ErrorCode != 0 || len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
					t.Fatalf("error %d with %d topics, want a full answer", resp.ErrorCode, len(resp.Topics))
				}
				p := resp.Topics[0].Partitions[0]
				if p.ErrorCode != 0 || p.HighWatermark != 3 {
					t.Fatalf("partition error %d, high watermark %d, want 0 and 3", p.ErrorCode, p.HighWatermark)
				}
				if next, _ := checkBatches(t, p.RecordBatches, 0); next != 3 {
					t.Fatalf("records up to offset %d, want 3", next)
				}
			})
		}
	}
	// Before version 7 there are no session fields: always full.
	for _, version := range []int16{4, 6} {
		req := kmsg.NewPtrFetchRequest()
		req.Version, req.MaxBytes = version, 1<<20
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic = "sess"
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.PartitionMaxBytes = 1 << 20
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp := rc.roundTrip(req).(*kmsg.FetchResponse)
		if len(resp.Topics) != 1 || resp.Topics[0].Partitions[0].HighWatermark != 3 {
			t.Fatalf("v%d: %d topics, want the partition at high watermark 3", version, len(resp.Topics))
		}
	}
}
