package kafkaapi

import (
	"strings"

	"github.com/twinmq/twinmq/wire/kafka"
)

// xprotoIndexKeys appends the IndexFile keys a RocketMQ QUERY_MESSAGE
// finds a Kafka record by, besides its record key (docs/design.md section 4):
// the space-separated keys of a KEYS header (which RocketMQ consumers see
// as the message's keys) and a UNIQ_KEY header a producer set. A record
// without UNIQ_KEY gets one made from its batch's CommitLog offset
// (xproto.UniqKey), which the query path resolves without the index.
func xprotoIndexKeys(keys []string, rec kafka.Record) []string {
	for _, h := range rec.Headers {
		if len(h.Value) == 0 || len(h.Value) > maxIndexedKey {
			continue
		}
		switch h.Key {
		case "KEYS":
			for k := range strings.FieldsSeq(string(h.Value)) {
				keys = append(keys, k)
			}
		case "UNIQ_KEY":
			keys = append(keys, string(h.Value))
		}
	}
	return keys
}
