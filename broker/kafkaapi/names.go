package kafkaapi

import (
	"fmt"
	"time"

	"github.com/twinmq/twinmq/broker/topics"
)

// defaultAdminTimeout bounds registry writes made on a request's behalf.
const defaultAdminTimeout = 30 * time.Second

// validKafkaName applies Kafka's topic name rule (Topic.validate):
// 1..249 of [a-zA-Z0-9._-], not "." or "..". Topics created from the
// RocketMQ side with other names still work here (docs/design.md section 4);
// only creation through Kafka is held to this rule. __consumer_offsets is
// reserved (internal_topic.go).
func validKafkaName(name string) error {
	if err := topics.ValidName(name); err != nil {
		return err
	}
	if name == consumerOffsetsTopic {
		return fmt.Errorf("kafkaapi: topic %q is reserved: %w", name, topics.ErrInvalidName)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
		if !ok {
			return fmt.Errorf("kafkaapi: topic %q: character %q: %w", name, c, topics.ErrInvalidName)
		}
	}
	return nil
}
