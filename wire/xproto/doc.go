// Package xproto turns one protocol's stored entries into the other's wire
// form, for the reads that cross protocols (docs/design.md section 4). Reading
// your own protocol's entries never comes here: they are served verbatim.
//
// It is the wire layer's conversion between the two codecs (docs/design.md
// section 2: wire/xproto imports both wire packages and nothing else of
// twinmq), used by the adapters broker/kafkaapi and broker/remotingapi.
//
// The mapping, both ways:
//
//	Kafka record          RocketMQ message
//	-------------------   ------------------------------------------------
//	value                 body (RocketMQ body compression undone for Kafka)
//	key                   KEYS property
//	headers               user properties (TAGS, UNIQ_KEY... included)
//	header TAGS           TAGS property (and the ConsumeQueue tags code)
//	timestamp             born timestamp
//	batch store time      store timestamp
//	offset                queue offset (the same dense logical offset)
package xproto
