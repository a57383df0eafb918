package kafkaapi_test

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestMetadataAutoCreateAnswers: the Metadata that auto-creates a topic
// is answered as Kafka answers it, LEADER_NOT_AVAILABLE (5) with no
// partitions; the topic exists by then and the next Metadata shows its
// partitions. Without auto-creation an unknown topic stays
// UNKNOWN_TOPIC_OR_PARTITION (3) and is not created.
func TestMetadataAutoCreateAnswers(t *testing.T) {
	b := startBroker(t)
	rc := dial(t, b.addr)
	ask := func(version int16, topic string, allow bool) kmsg.MetadataResponseTopic {
		t.Helper()
		req := kmsg.NewPtrMetadataRequest()
		req.Version, req.AllowAutoTopicCreation = version, allow
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = &topic
		req.Topics = append(req.Topics, rt)
		resp := rc.roundTrip(req).(*kmsg.MetadataResponse)
		if len(resp.Topics) != 1 {
			t.Fatalf("%d topics", len(resp.Topics))
		}
		return resp.Topics[0]
	}
	for _, version := range []int16{0, 4, 9, 12} {
		topic := fmt.Sprintf("auto-v%d", version)
		if version >= 4 {
			if mt := ask(version, topic, false); mt.ErrorCode != 3 || len(mt.Partitions) != 0 {
				t.Fatalf("v%d without auto-creation: error %d, %d partitions", version, mt.ErrorCode, len(mt.Partitions))
			}
			if _, ok := b.reg.Get(topic); ok {
				t.Fatalf("v%d without auto-creation created %s", version, topic)
			}
		}
		if mt := ask(version, topic, true); mt.ErrorCode != 5 || len(mt.Partitions) != 0 {
			t.Fatalf("v%d first answer: error %d, %d partitions; want LEADER_NOT_AVAILABLE and none", version, mt.ErrorCode, len(mt.Partitions))
		}
		mt := ask(version, topic, true)
		if mt.ErrorCode != 0 || len(mt.Partitions) != 1 || mt.Partitions[0].Leader != 1 {
			t.Fatalf("v%d second answer: error %d, %d partitions", version, mt.ErrorCode, len(mt.Partitions))
		}
		if c, ok := b.reg.Get(topic); !ok || (version >= 10 && mt.TopicID != c.ID) {
			t.Fatalf("v%d: topic %v, id %x", version, ok, mt.TopicID)
		}
	}
	if mt := ask(12, "bad/name", true); mt.ErrorCode != 17 {
		t.Fatalf("invalid name: error %d, want INVALID_TOPIC_EXCEPTION (17)", mt.ErrorCode)
	}
}
