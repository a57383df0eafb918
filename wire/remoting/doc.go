// Package remoting encodes and decodes Apache RocketMQ's remoting protocol
// (RemotingCommand frames with a JSON or ROCKETMQ header) and the message
// encodings carried inside it: the properties string, the batch body of
// SEND_BATCH_MESSAGE and the stored-message record that a pull response
// carries verbatim. It imports nothing of twinmq; the RocketMQ adapter, the
// name server and netio call it. The facts cite
// docs/rocketmq-protocol.md (the "spec") by section.
//
// Codecs append to a dst []byte and read from a []byte; decoders bound every
// length against the remaining bytes before allocating and never panic.
// Decoded byte slices (Command.Body, MessageExt.Body, ...) alias the input.
//
// # Remoting frame, layout version 1 (docs/rocketmq-protocol.md §1.1, §1.4)
//
// All integers are big-endian.
//
//	+----------------+---------------------------+--------------+------------+
//	| length int32   | serType u8 | hdrLen u24   | header bytes | body bytes |
//	+----------------+---------------------------+--------------+------------+
//	 length = 4 + hdrLen + bodyLen (the length word does not count itself)
//	 serType 0 = JSON, 1 = ROCKETMQ
//
// netio owns framing: [FrameLen] tells it when a whole frame is buffered and
// netio hands [Decode] the bytes after the 4-byte length word (the frame),
// stripping nothing else. [AppendCommand] and [AppendHeader] write the whole
// frame including the length word. A frame (length word included) may be at
// most [MaxFrameSize] bytes, as Netty's LengthFieldBasedFrameDecoder allows.
//
// JSON header (serType 0), as written here (compact, this key order; remark
// and language are omitted when empty; extFields values are always strings):
//
//	{"code":10,"language":"JAVA","version":479,"opaque":7,"flag":1,"remark":"..","extFields":{"k":"v",...}}
//
// On input the JSON header is decoded leniently: keys in any order, unknown
// keys ignored, code/version/opaque/flag as numbers or numeric strings,
// extFields values of any JSON type stringified as Java prints them (numbers
// as written, "-0" as "0", booleans as true/false, null drops the key, nested
// objects and arrays as their raw text).
//
// ROCKETMQ header (serType 1):
//
//	offset size
//	0      2    code int16
//	2      1    language code byte (JAVA 0 ... GO 9 ... NODE_JS 13)
//	3      2    version int16
//	5      4    opaque int32
//	9      4    flag int32
//	13     4    remarkLen int32 (0 = empty)
//	17     n    remark UTF-8
//	..     4    extLen int32 (bytes of the map)
//	..     ..   repeated: keyLen int16, key, valLen int32, value
//
// # Properties string (docs/rocketmq-protocol.md §3.1)
//
//	key 0x01 value 0x02 key 0x01 value 0x02 ...      at most 32767 bytes
//
// # Batch body of SEND_BATCH_MESSAGE (320), version 1 (docs/rocketmq-protocol.md §3.2)
//
//	repeated:
//	0  4  TOTALSIZE of this entry = 22 + BODYLEN + PROPERTIESLEN
//	4  4  MAGICCODE (0, not checked)
//	8  4  BODYCRC (0, not checked)
//	12 4  FLAG
//	16 4  BODYLEN
//	20 n  BODY
//	.. 2  PROPERTIESLEN int16
//	.. m  PROPERTIES
//
// # Stored message, version 1 (docs/rocketmq-protocol.md §3.3)
//
// The CommitLog payload of a RocketMQ message and the pull/query/view wire
// format. Offsets are fixed up to the born host; b4 = born host is IPv4
// (SYSFLAG bit 0x10 clear, 8 bytes), b6 = IPv6 (bit set, 20 bytes); the
// store host likewise by bit 0x20.
//
//	offset          size      field
//	0               4         TOTALSIZE (whole record)
//	4               4         MAGICCODE 0xDAA320A7 (V1, 1-byte topic length);
//	                          0xDAA320AB (V2, 2-byte) accepted on input
//	8               4         BODYCRC = crc32 IEEE(body) & 0x7fffffff
//	12              4         QUEUEID
//	16              4         FLAG
//	20              8         QUEUEOFFSET           (PatchStored)
//	28              8         PHYSICALOFFSET        (PatchStored)
//	36              4         SYSFLAG
//	40              8         BORNTIMESTAMP
//	48              8 | 20    BORNHOST ip(4|16) + port int32
//	56 b4 | 68 b6   8         STORETIMESTAMP        (PatchStored)
//	64 | 76         8 | 20    STOREHOST ip(4|16) + port int32
//	..              4         RECONSUMETIMES
//	..              8         PreparedTransactionOffset
//	..              4 + n     BODYLEN + BODY
//	..              1 + t     TOPICLEN (unsigned byte) + TOPIC   (V1)
//	..              2 + m     PROPERTIESLEN int16 + PROPERTIES
//
// With IPv4 hosts and V1 the fixed part is 91 bytes.
//
// # Message ids (docs/rocketmq-protocol.md §4)
//
//	offsetMsgId = HEX( storeIP(4|16) port int32 commitLogOffset int64 )   32 or 56 chars
//	UNIQ_KEY    = HEX( ip(4|16) pid int16 classLoaderHash int32 ) +
//	              HEX( msSinceMonthStart int32 counter int16 )            32 or 56 chars
package remoting
