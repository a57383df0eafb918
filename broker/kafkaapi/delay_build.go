package kafkaapi

import (
	"fmt"

	"github.com/twinmq/twinmq/broker/delay"
	"github.com/twinmq/twinmq/broker/topics"
	"github.com/twinmq/twinmq/storage"
	"github.com/twinmq/twinmq/wire/kafka"
)

// DelayBuild re-stores a due Kafka record (a KindKafka entry of
// SCHEDULE_TOPIC_XXXX or the timer topic, which 00_produce_delay.go
// stored) to its REAL_TOPIC / REAL_QID partition as a new batch, with the
// headers a delivered message has (delay.DeliveryEdits). The delay and
// timer services append what it returns to the store themselves, with
// their progress record in the same write; hence the store's types.
// delay.Builds hands it the KindKafka entries only.
func (h *Handler) DelayBuild(e storage.ReadEntry) ([]storage.Entry, error) {
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
