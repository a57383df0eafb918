package remotingapi

import (
	"github.com/twinmq/twinmq/broker/convert"
	"github.com/twinmq/twinmq/storage"
	"github.com/twinmq/twinmq/wire/remoting"
)

// pullKafka adds to out the records of a stored Kafka batch from offset
// on, converted into RocketMQ stored messages (DESIGN.md section 4: a
// Kafka-produced record reaches RocketMQ consumers, TAGS header as tag).
// The ConsumeQueue filter has already skipped the batch if none of its
// records' tags codes match; the records it holds are filtered here by
// the same codes. A batch that cannot be read is skipped, logged, so the
// queue never stops on it (nextBeginOffset moves past it).
func (b *Broker) pullKafka(out *pullResult, e storage.ReadEntry, offset int64, filter func(int64) bool) {
	var keep convert.Keep
	if filter != nil {
		keep = func(tags string, _ []byte) bool { return filter(remoting.TagsHashCode(tags)) }
	}
	ke := convert.KafkaEntry{Topic: e.Header.Topic, QueueID: e.Header.QueueID, Phys: e.Phys,
		StoreTime: e.StoreTime, StoreHost: b.storeHost}
	msgs, _, err := convert.ToRocketMQ(nil, e.Payload, ke, max(offset, e.QueueOffset), keep)
	if err != nil {
		b.log.Warn("remotingapi: cannot convert a Kafka batch; skipped", "topic", ke.Topic, "queue", ke.QueueID,
			"offset", e.QueueOffset, "err", err)
		return
	}
	if len(msgs) > 0 {
		out.parts = append(out.parts, msgs)
		out.n += len(msgs)
	}
}
