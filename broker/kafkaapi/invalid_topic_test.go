package kafkaapi_test

import (
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/broker/topics"
)

// TestInvalidTopicNames: a Produce or Metadata naming a topic that does
// not exist and that no Kafka client may use (Kafka's rule: 1..249 of
// [a-zA-Z0-9._-], not "." or "..") gets INVALID_TOPIC_EXCEPTION (17), not
// UNKNOWN_TOPIC_OR_PARTITION, and nothing is created; a valid unknown name
// still gets UNKNOWN_TOPIC_OR_PARTITION (3); a topic created from the
// RocketMQ side with a '%' in its name keeps working by name.
func TestInvalidTopicNames(t *testing.T) {
	b := startBroker(t)
	if _, err := b.reg.Create(t.Context(), topics.Config{Name: "%RETRY%g", Queues: 1}); err != nil {
		t.Fatal(err)
	}
	rc := dial(t, b.addr)
	metadata := func(name string) int16 {
		req := kmsg.NewPtrMetadataRequest()
		req.Version, req.AllowAutoTopicCreation = 12, true
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = &name
		req.Topics = append(req.Topics, rt)
		return rc.roundTrip(req).(*kmsg.MetadataResponse).Topics[0].ErrorCode
	}
	for _, name := range []string{"../../etc", "..", ".", "a b", "a%b", "a/b", "tópico", strings.Repeat("x", 250), ""} {
		if code := produceOne(rc, name, 0, testBatch(t, "x", 1)); code != 17 {
			t.Errorf("produce to %q: error %d, want INVALID_TOPIC_EXCEPTION (17)", name, code)
		}
		if code := metadata(name); code != 17 {
			t.Errorf("metadata of %q: error %d, want INVALID_TOPIC_EXCEPTION (17)", name, code)
		}
		if _, ok := b.reg.Get(name); ok {
			t.Errorf("%q was created", name)
		}
	}
	if code := produceOne(rc, "valid-but-unknown", 0, testBatch(t, "x", 1)); code != 3 {
		t.Errorf("produce to an unknown valid name: error %d, want 3", code)
	}
	if code := produceOne(rc, "%RETRY%g", 0, testBatch(t, "x", 1)); code != 0 {
		t.Errorf("produce to %%RETRY%%g: error %d", code)
	}
	if code := metadata("%RETRY%g"); code != 0 {
		t.Errorf("metadata of %%RETRY%%g: error %d", code)
	}
}
