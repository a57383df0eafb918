// Package convert turns one protocol's stored entries into the other's wire
// form, for the reads that cross protocols (DESIGN.md section 4). Reading
// your own protocol's entries never comes here: they are served verbatim.
//
// It is adapter code shared by broker/kafkaapi and broker/remotingapi, so it
// may import both wire packages (the one exception to "only the adapters
// import wire", recorded in docs/deviations.md).
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
package convert
