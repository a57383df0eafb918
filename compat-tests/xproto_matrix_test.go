package compattests

import (
	"fmt"
	"testing"
)

// TestXProtoMatrix is issue 7's matrix: every producer (Kafka clients with
// four codecs, rocketmq-client-go single and batch sends) x every consumer
// (four Kafka clients in groups, RocketMQ push with a broker-side TagA
// filter, orderly and pull) on one topic per producer of one shared
// broker. Each consumer has its own group and must get every message once
// (TagA only for the filtered one) with key, header/property, tag and
// timestamp as docs/design.md section 4 says, Kafka offsets dense.
func TestXProtoMatrix(t *testing.T) {
	b := startXBroker(t)
	for _, p := range xProducers() {
		t.Run(p.name, func(t *testing.T) {
			topic := fmt.Sprintf("xp-%s-%s", p.name, kafkaTopicName(t, "m"))
			b.createXTopic(t, topic, 2)
			sent := p.send(t, b, topic)
			for _, c := range xConsumers() {
				t.Run(c.name, func(t *testing.T) {
					t.Parallel() // the consumers of one topic read at once
					want := len(sent)
					if c.onlyTagA {
						want = (len(sent) + 1) / 2
					}
					group := uniqueGroup(t, "xg_"+c.name)
					got := c.read(t, b, topic, group, want)
					checkXMessages(t, p.name, sent, got, c.onlyTagA, c.kafkaSide)
				})
			}
		})
	}
}
