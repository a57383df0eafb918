// Package kafka is twinmq's Kafka wire codec: request framing and headers,
// response framing, magic v2 record batches, records and compression.
// Request and response bodies are kmsg's (github.com/twmb/franz-go/pkg/kmsg);
// this package adds only what kmsg leaves to a broker. It imports nothing of
// twinmq, does no I/O and keeps no global mutable state (sync.Pools of
// compression codecs aside).
//
// # Request frame (layout version 1, KIP-482 for header v2)
//
// netio strips the 4-byte big-endian size prefix; ParseRequest gets the rest:
//
//	+---------+------------+---------------+-----------------------+--------------+------+
//	| ApiKey  | ApiVersion | CorrelationID | ClientID              | TaggedFields | body |
//	| int16   | int16      | int32         | int16 len + bytes,    | uvarint n,   | kmsg |
//	|         |            |               | -1 = null (NOT compact| n x (tag,    |      |
//	|         |            |               | even in header v2)    | size, bytes) |      |
//	+---------+------------+---------------+-----------------------+--------------+------+
//	 header v1: no TaggedFields; header v2 (flexible versions): with TaggedFields.
//	 ControlledShutdown (key 7) v0 is header v0: no ClientID either.
//
// # Response frame
//
//	+-------------+---------------+--------------+------------------------+
//	| size int32  | CorrelationID | TaggedFields | body (resp.AppendTo)   |
//	| (excl. self)| int32         | 0x00, only   |                        |
//	|             |               | header v1    |                        |
//	+-------------+---------------+--------------+------------------------+
//	 ApiVersions responses always use header v0 (no tagged fields), so a
//	 client that sent a version we do not know can still read error 35.
//
// # Record batch (magic 2)
//
//	offset  size  field                 notes
//	     0     8  BaseOffset            set by the broker at append; not in CRC
//	     8     4  BatchLength           bytes after this field (total - 12)
//	    12     4  PartitionLeaderEpoch  set by the broker at append; not in CRC
//	    16     1  Magic                 2 (0 and 1 are legacy message sets)
//	    17     4  CRC                   CRC-32C (Castagnoli) of bytes 21..end
//	    21     2  Attributes            bits 0-2 codec (0 none, 1 gzip, 2 snappy,
//	                                    3 lz4, 4 zstd), 3 timestamp type
//	                                    (1 = LogAppendTime), 4 transactional,
//	                                    5 control, 6 delete horizon (KIP-534)
//	    23     4  LastOffsetDelta       NumRecords - 1
//	    27     8  FirstTimestamp        BaseTimestamp
//	    35     8  MaxTimestamp
//	    43     8  ProducerID            -1 when not idempotent
//	    51     2  ProducerEpoch
//	    53     4  BaseSequence
//	    57     4  NumRecords
//	    61     .  Records               compressed as one block when codec != 0
//
// Legacy message sets (magic 0 and 1) share the first 12 bytes (offset and
// size) and keep the magic byte at offset 16, which is how SplitBatches and
// ParseBatchHeader tell them apart.
//
// # Record (inside Records)
//
//	length          varint   bytes after this field
//	attributes      int8     unused, 0
//	timestampDelta  varlong  from FirstTimestamp
//	offsetDelta     varint   from BaseOffset; the record's index in the batch
//	keyLength       varint   -1 = null key
//	key             bytes
//	valueLength     varint   -1 = null value
//	value           bytes
//	headerCount     varint
//	headers         headerCount x (keyLength varint >= 0, key,
//	                               valueLength varint (-1 = null), value)
//
// Varints are zig-zag encoded (protobuf sint32/sint64).
package kafka
