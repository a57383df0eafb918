package kafkaapi

import (
	"fmt"

	"github.com/twinmq/twinmq/broker/delay"
	"github.com/twinmq/twinmq/broker/topics"
	"github.com/twinmq/twinmq/storage"
	"github.com/twinmq/twinmq/wire/kafka"
)

// The delivery side of delayed Kafka records (00_produce_delay.go stores
// them): the delay scheduler and the timer service read a due entry from
// SCHEDULE_TOPIC_XXXX or the timer topic and append what DelayBuild makes
// of it to the store themselves, in one write with their progress record
// (package broker/delay), hence the store's types here.

// DelayBuild re-stores a due Kafka record (a KindKafka entry of
// SCHEDULE_TOPIC_XXXX or the timer topic) to its REAL_TOPIC / REAL_QID
// partition as a new batch, with the headers a delivered message has
// (delay.DeliveryEdits).
func (h *Handler) DelayBuild(e storage.ReadEntry) ([]storage.Entry, error) {
	if e.Kind != storage.KindKafka {
		return nil, fmt.Errorf("kafkaapi: scheduled entry of kind %d is not a Kafka batch", e.Kind)
	}
	route := delay.RouteLevel
	if e.Header != nil && e.Header.Topic == delay.TimerTopic {
		route = delay.RouteTimer
	}
	var recs []kafka.Record
	hdr, err := (&kafka.BatchReader{}).ForEach(e.Payload, func(r kafka.Record) error {
		recs = append(recs, copyRecord(r))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("kafkaapi: scheduled batch: %w", err)
	}
	topic, part, err := delay.Target(headerLookup(recs[0].Headers))
	if err != nil {
		return nil, err
	}
	cfg, ok := h.reg.Get(topic)
	if !ok || part >= cfg.Queues {
		return nil, fmt.Errorf("kafkaapi: delayed record for %s/%d: %w", topic, part, topics.ErrTopicNotFound)
	}
	for i := range recs {
		recs[i].Headers = applyHeaderEdits(recs[i].Headers, delay.DeliveryEdits(route))
	}
	out, err := h.recordsEntry(topic, part, &hdr, recs, cfg.TimestampType == "LogAppendTime")
	if err != nil {
		return nil, err
	}
	return []storage.Entry{out.StoreEntry()}, nil
}
