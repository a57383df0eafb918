package remotingapi

import (
	"github.com/twinmq/twinmq/storage"
	"github.com/twinmq/twinmq/wire/xproto"
)

// queryBody is the body of a QUERY_MESSAGE answer: the RocketMQ entries
// found as stored, and the records of Kafka batches whose KEYS or UNIQ_KEY
// is key, converted. A UNIQ_KEY that twinmq made up for a Kafka record
// (xproto.UniqKey) is not in the IndexFile: it names the batch and the
// record, which are read directly.
func (b *Broker) queryBody(res *storage.ReadResult, topic, key string) []byte {
	body := b.kafkaAwarePayloads(res, xproto.HasKey(key))
	if len(body) > 0 {
		return body
	}
	phys, _, ok := xproto.ParseUniqKey(key)
	if !ok {
		return nil
	}
	at, err := b.store.ReadAt(phys)
	if err != nil {
		return nil
	}
	defer at.Release()
	if len(at.Entries) != 1 || at.Entries[0].Header.Topic != topic {
		return nil
	}
	return b.kafkaAwarePayloads(at, xproto.HasKey(key))
}

// kafkaAwarePayloads copies the RocketMQ entries' payloads out of res and
// appends the records of Kafka entries that keep accepts, converted
// (VIEW_MESSAGE_BY_ID on a Kafka batch's offset message id answers all its
// records; clients read the first).
func (b *Broker) kafkaAwarePayloads(res *storage.ReadResult, keep xproto.Keep) []byte {
	var body []byte
	for _, e := range res.Entries {
		switch e.Kind {
		case storage.KindRocketMQ:
			body = append(body, e.Payload...)
		case storage.KindKafka:
			ke := xproto.KafkaEntry{Topic: e.Header.Topic, QueueID: e.Header.QueueID, Phys: e.Phys,
				StoreTime: e.StoreTime, StoreHost: b.storeHost}
			var err error
			if body, _, err = xproto.ToRocketMQ(body, e.Payload, ke, 0, keep); err != nil {
				b.log.Warn("remotingapi: cannot convert a Kafka batch", "topic", ke.Topic, "phys", e.Phys, "err", err)
			}
		}
	}
	return body
}
