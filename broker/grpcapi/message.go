package grpcapi

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"hash/crc32"
	"io"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/twinmq/twinmq/wire/remoting"
	"github.com/twinmq/twinmq/wire/rmqpb"
)

// RocketMQ property names (MessageConst.java) the adapter reads or writes.
const (
	propKeys         = "KEYS"
	propTags         = "TAGS"
	propUniqKey      = "UNIQ_KEY"
	propShardingKey  = "__SHARDINGKEY" // the FIFO message group
	propTimerDeliver = "TIMER_DELIVER_MS"
	propDLQTopic     = "DLQ_ORIGIN_TOPIC"
	propDLQMsgID     = "DLQ_ORIGIN_MESSAGE_ID"
	propTraceContext = "TRACE_CONTEXT"
)

// systemProps are the property names a v5 client never sees among user
// properties and may not set as one (MessageConst.STRING_HASH_SET, the
// ones in use).
var systemProps = map[string]bool{
	"KEYS": true, "TAGS": true, "WAIT": true, "DELAY": true, "RETRY_TOPIC": true, "REAL_TOPIC": true,
	"REAL_QID": true, "TRAN_MSG": true, "PGROUP": true, "MIN_OFFSET": true, "MAX_OFFSET": true,
	"BUYER_ID": true, "ORIGIN_MESSAGE_ID": true, "TRANSFER_FLAG": true, "CORRECTION_FLAG": true,
	"MQ2_FLAG": true, "RECONSUME_TIME": true, "MSG_REGION": true, "TRACE_ON": true, "UNIQ_KEY": true,
	"MAX_RECONSUME_TIMES": true, "CONSUME_START_TIME": true, "POP_CK": true, "POP_CK_OFFSET": true,
	"1ST_POP_TIME": true, "TRAN_PREPARED_QUEUE_OFFSET": true, "DUP_INFO": true, "EXTEND_UNIQ_INFO": true,
	"INSTANCE_ID": true, "CORRELATION_ID": true, "REPLY_TO_CLIENT": true, "TTL": true, "ARRIVE_TIME": true,
	"PUSH_REPLY_TIME": true, "CLUSTER": true, "MSG_TYPE": true, "__SHARDINGKEY": true,
	"TIMER_DELAY_SEC": true, "TIMER_DELAY_MS": true, "TIMER_DELIVER_MS": true, "TIMER_ENQUEUE_MS": true,
	"TIMER_DEQUEUE_MS": true, "TIMER_ROLL_TIMES": true, "TIMER_OUT_MS": true, "TIMER_DEL_UNIQKEY": true,
	"BORN_HOST": true, "BORN_TIMESTAMP": true, "DLQ_ORIGIN_TOPIC": true, "DLQ_ORIGIN_MESSAGE_ID": true,
	"TRACE_CONTEXT": true, "CHECK_IMMUNITY_TIME_IN_SECONDS": true, "SCHEDULE_TOPIC_XXXX": true,
}

// clean reports whether s can be a property name or value: the
// properties encoding separates with 0x01 and 0x02.
func clean(s string) bool {
	return s != "" && !strings.ContainsAny(s, "\x01\x02")
}

// messageID is the id a v5 client sees: UNIQ_KEY, else the offset id.
func messageID(m *remoting.MessageExt) string {
	if u, ok := remoting.LookupProperty(m.Properties, propUniqKey); ok && u != "" {
		return u
	}
	return m.OffsetMsgID()
}

// plainBody returns m's body uncompressed (a remoting producer's
// zlib-compressed body), bounded by limit; other bodies as they are.
func plainBody(m *remoting.MessageExt, limit int) ([]byte, error) {
	if m.SysFlag&remoting.SysFlagCompressed == 0 || (m.SysFlag>>8)&0x7 != 0 && (m.SysFlag>>8)&0x7 != 3 {
		return m.Body, nil
	}
	r, err := zlib.NewReader(bytes.NewReader(m.Body))
	if err != nil {
		return nil, fmt.Errorf("grpcapi: compressed body: %w", err)
	}
	defer r.Close()
	b, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return nil, fmt.Errorf("grpcapi: compressed body: %w", err)
	}
	if len(b) > limit {
		return nil, fmt.Errorf("grpcapi: compressed body inflates past %d bytes", limit)
	}
	return b, nil
}

// toProto is the protobuf form of a stored message delivered under a
// lock: what a SimpleConsumer or PushConsumer receives, with its body
// digest as a client in lang checks it (bodyDigest).
func (s *Server) toProto(m *remoting.MessageExt, queue int32, offset int64, handle string, attempts int32, invisible time.Duration,
	lang rmqpb.Language) *rmqpb.Message {
	body, err := plainBody(m, s.cfg.MaxMessageSize)
	if err != nil {
		s.log.Warn("grpcapi: delivering a body that does not inflate as is", "topic", m.Topic, "offset", offset, "err", err)
		body = m.Body
	}
	sp := &rmqpb.SystemProperties{
		MessageId:         messageID(m),
		BodyDigest:        bodyDigest(lang, body),
		BodyEncoding:      rmqpb.Encoding_IDENTITY,
		MessageType:       rmqpb.MessageType_NORMAL,
		BornTimestamp:     timestamppb.New(time.UnixMilli(m.BornTimestamp)),
		BornHost:          m.BornHost.Addr().String(),
		StoreTimestamp:    timestamppb.New(time.UnixMilli(m.StoreTimestamp)),
		StoreHost:         m.StoreHost.String(),
		ReceiptHandle:     &handle,
		QueueId:           queue,
		QueueOffset:       &offset,
		InvisibleDuration: durationpb.New(invisible),
		DeliveryAttempt:   &attempts,
	}
	user := map[string]string{}
	for _, p := range remoting.ParsePropertyList(m.Properties) {
		switch p.Key {
		case propTags:
			sp.Tag = &p.Value
		case propKeys:
			sp.Keys = strings.Fields(p.Value)
		case propShardingKey:
			sp.MessageGroup, sp.MessageType = &p.Value, rmqpb.MessageType_FIFO
		case propTimerDeliver:
			if ms, err := strconv.ParseInt(p.Value, 10, 64); err == nil {
				sp.DeliveryTimestamp, sp.MessageType = timestamppb.New(time.UnixMilli(ms)), rmqpb.MessageType_DELAY
			}
		case propTraceContext:
			sp.TraceContext = &p.Value
		default:
			if !systemProps[p.Key] {
				user[p.Key] = p.Value
			}
		}
	}
	return &rmqpb.Message{Topic: &rmqpb.Resource{Name: m.Topic}, UserProperties: user, SystemProperties: sp, Body: body}
}

// bodyDigest is body's digest as a client in lang checks it. The v5
// clients disagree on how a CRC32 checksum is written (Java upper-case
// hex, Go lower-case hex, Node.js decimal), and a push consumer discards a
// message whose digest does not match as corrupted; a client of another
// language gets an unspecified digest, which every client accepts
// unchecked (the store verifies its own CRCs).
func bodyDigest(lang rmqpb.Language, body []byte) *rmqpb.Digest {
	crc := uint64(crc32.ChecksumIEEE(body))
	switch lang {
	case rmqpb.Language_JAVA, rmqpb.Language_KOTLIN:
		return &rmqpb.Digest{Type: rmqpb.DigestType_CRC32, Checksum: strings.ToUpper(strconv.FormatUint(crc, 16))}
	case rmqpb.Language_GOLANG:
		return &rmqpb.Digest{Type: rmqpb.DigestType_CRC32, Checksum: strconv.FormatUint(crc, 16)}
	case rmqpb.Language_NODE_JS:
		return &rmqpb.Digest{Type: rmqpb.DigestType_CRC32, Checksum: strconv.FormatUint(crc, 10)}
	}
	return &rmqpb.Digest{Type: rmqpb.DigestType_DIGEST_TYPE_UNSPECIFIED}
}
