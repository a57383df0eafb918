package remotingapi

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/twinmq/twinmq/broker/delay"
	"github.com/twinmq/twinmq/broker/log"
	"github.com/twinmq/twinmq/broker/topics"
	"github.com/twinmq/twinmq/netio"
	"github.com/twinmq/twinmq/wire/remoting"
)

// Property names (MessageConst.java, docs/rocketmq-protocol.md §3.1).
const (
	propTags    = "TAGS"
	propKeys    = "KEYS"
	propUniqKey = "UNIQ_KEY"
)

const (
	retryGroupPrefix = "%RETRY%"
	dlqGroupPrefix   = "%DLQ%"
	maxTopicLen      = 127
	maxRetryTopicLen = 255
)

// sendRequest is a decoded SEND_MESSAGE header (V1 names).
type sendRequest struct {
	topic, defaultTopic string
	defaultQueues       int32
	queueID             int32
	sysFlag, flag       int32
	bornTimestamp       int64
	properties          string
	reconsumeTimes      int32
	maxReconsumeTimes   int32
	batch               bool
}

func parseSendRequest(m map[string]string) (sendRequest, error) {
	e := sendHeader(m)
	e.require("topic")
	r := sendRequest{
		topic: e.str("topic"), defaultTopic: e.str("defaultTopic"),
		defaultQueues: e.i32("defaultTopicQueueNums", 0), queueID: e.i32("queueId", -1),
		sysFlag: e.i32("sysFlag", 0), flag: e.i32("flag", 0), bornTimestamp: e.i64("bornTimestamp", 0),
		properties: e.str("properties"), reconsumeTimes: e.i32("reconsumeTimes", 0),
		maxReconsumeTimes: e.i32("maxReconsumeTimes", delay.UseDefaultMaxReconsumeTimes), batch: e.boolean("batch"),
	}
	return r, e.err
}

// validTopic applies TopicValidator's rules (docs/rocketmq-protocol.md §2.4 step 1): the
// characters [%|a-zA-Z0-9_-], at most 127 bytes (255 for retry topics),
// and none of twinmq's internal names.
func validTopic(t string) error {
	limit := maxTopicLen
	if strings.HasPrefix(t, retryGroupPrefix) {
		limit = maxRetryTopicLen
	}
	if t == "" || len(t) > limit {
		return fmt.Errorf("%w: topic %q: length %d not in [1, %d]", errInvalidParameter, t, len(t), limit)
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '%' || c == '|' || c == '_' || c == '-') {
			return fmt.Errorf("%w: topic %q has character %q", errInvalidParameter, t, c)
		}
	}
	return topics.ValidName(t)
}

// topicForSend returns the topic, creating it when the broker auto-creates
// topics (docs/rocketmq-protocol.md §2.4 step 2): from TBW102 with min(defaultTopicQueueNums,
// 8) queues, and %RETRY%/%DLQ% topics with one queue.
func (b *Broker) topicForSend(ctx context.Context, r *sendRequest) (topics.Config, error) {
	if err := validTopic(r.topic); err != nil {
		return topics.Config{}, err
	}
	if isTransactionTopic(r.topic) { // end_transaction.go
		return topics.Config{}, fmt.Errorf("%w: sending to topic %s is forbidden", errNoPermission, r.topic)
	}
	if t, ok := b.topics.Get(r.topic); ok {
		return t, nil
	}
	queues := int32(0)
	switch {
	case strings.HasPrefix(r.topic, retryGroupPrefix) || strings.HasPrefix(r.topic, dlqGroupPrefix):
		queues = 1
	case !b.cfg.DisableAutoCreateTopic && r.defaultTopic == autoCreateTopicKey:
		queues = b.cfg.DefaultTopicQueues
		if r.defaultQueues > 0 {
			queues = min(r.defaultQueues, autoCreateTopicQueues)
		}
	default:
		//lint:ignore ST1005 the Java broker's remark, word for word
		return topics.Config{}, fmt.Errorf("%w: topic[%s] not exist, apply first please!", errTopicNotExist, r.topic)
	}
	return b.ensureTopic(ctx, r.topic, queues)
}

// ensureTopic returns topic, creating it with queues if it does not exist.
func (b *Broker) ensureTopic(ctx context.Context, topic string, queues int32) (topics.Config, error) {
	if t, ok := b.topics.Get(topic); ok {
		return t, nil
	}
	t, err := b.topics.Create(ctx, topics.Config{Name: topic, Queues: queues, Perm: topics.DefaultPerm})
	if errors.Is(err, topics.ErrTopicExists) {
		if t, ok := b.topics.Get(topic); ok {
			return t, nil
		}
	}
	if err == nil {
		// The route is on the name servers before the client hears of
		// the topic (a consumer started right after the first send finds
		// it); a name server that does not answer delays this send only.
		rctx, cancel := context.WithTimeout(ctx, registerTimeout)
		b.reg.registered(rctx)
		cancel()
	}
	return t, err
}

// checkSend applies the permission, queue and size checks (docs/rocketmq-protocol.md §2.4
// steps 1 and 3) and picks a queue when the client left it to the broker.
func (b *Broker) checkSend(t topics.Config, r *sendRequest, bodyLen int) error {
	if t.Perm&2 == 0 {
		return fmt.Errorf("%w: the topic[%s] sending is forbidden", errNoPermission, t.Name)
	}
	if r.queueID < 0 {
		r.queueID = rand.Int32N(t.Queues)
	}
	if r.queueID >= t.Queues {
		return fmt.Errorf("%w: queueId[%d] is illegal, topic %s has %d queues", errInvalidParameter, r.queueID, t.Name, t.Queues)
	}
	if bodyLen > b.cfg.MaxMessageSize {
		return fmt.Errorf("%w: the message body size %d over max %d", errMessageIllegal, bodyLen, b.cfg.MaxMessageSize)
	}
	if len(r.properties) > remoting.MaxPropertiesLen {
		return fmt.Errorf("%w: properties length %d over 32767", errMessageIllegal, len(r.properties))
	}
	return nil
}

func (b *Broker) sendMessage(ctx context.Context, c *netio.Conn, req *remoting.Command) *remoting.Command {
	r, err := parseSendRequest(req.ExtFields)
	if err != nil {
		return errorResponse(req, err)
	}
	if r.batch {
		// A batch sent as SEND_MESSAGE(_V2) with batch=true: Java's
		// SendMessageProcessor serves it as SEND_BATCH_MESSAGE. Stored as
		// one message, its body (a batch encoding) reached consumers as
		// if it were the payload.
		return b.sendBatchMessage(ctx, c, req)
	}
	return b.send(ctx, addrPort(c.RemoteAddr()), req, &r)
}

// checkBody refuses, with MESSAGE_ILLEGAL, a body flagged compressed
// (sysFlag bit 0) that does not start as its compression type (bits 8-10:
// 0 or 3 zlib, 1 lz4, 2 zstd) says: the Java broker stores it, and every
// consumer then fails to decompress it (rocketmq-client-go, and twinmq's
// conversion for Kafka consumers). Only the stream's header is checked, so
// a send costs no decompression; a body damaged past it is still stored.
func checkBody(sysFlag int32, body []byte) error {
	if sysFlag&remoting.SysFlagCompressed == 0 {
		return nil
	}
	ok := false
	switch typ := (sysFlag >> 8) & 0x7; typ {
	case 0, 3: // zlib (RFC 1950): deflate, 32 KiB window at most, header checksum
		ok = len(body) >= 2 && body[0]&0x0f == 8 && body[0]>>4 <= 7 && (uint16(body[0])<<8|uint16(body[1]))%31 == 0
	case 1: // lz4 frame
		ok = len(body) >= 4 && body[0] == 0x04 && body[1] == 0x22 && body[2] == 0x4d && body[3] == 0x18
	case 2: // zstd frame
		ok = len(body) >= 4 && body[0] == 0x28 && body[1] == 0xb5 && body[2] == 0x2f && body[3] == 0xfd
	}
	if !ok {
		return fmt.Errorf("%w: body flagged compressed (type %d) is not", errMessageIllegal, (sysFlag>>8)&0x7)
	}
	return nil
}

// send stores the message of a parsed SEND_MESSAGE and returns the reply.
// req.Body may alias the event loop's buffer (inline.go): it is copied
// into the stored payload and not kept.
func (b *Broker) send(ctx context.Context, born netip.AddrPort, req *remoting.Command, rp *sendRequest) *remoting.Command {
	r := *rp
	if err := checkBody(r.sysFlag, req.Body); err != nil {
		return errorResponse(req, err)
	}
	t, err := b.topicForSend(ctx, &r)
	if err == nil {
		err = b.checkSend(t, &r, len(req.Body))
	}
	if err != nil {
		return errorResponse(req, err)
	}
	props := []byte(r.properties)
	uniq, ok := remoting.LookupProperty(props, propUniqKey)
	if !ok { // the Java broker gives every single message an id (docs/rocketmq-protocol.md §2.4 step 5)
		uniq = b.uniq.Next()
		if len(props) > 0 && props[len(props)-1] != remoting.PropertySeparator {
			// End the client's last item (docs/rocketmq-protocol.md §3.1 allows a missing trailing
			// 0x02) so that it does not swallow the key appended next.
			props = append(props, remoting.PropertySeparator)
		}
		props = remoting.AppendProperty(props, propUniqKey, uniq)
		if len(props) > remoting.MaxPropertiesLen {
			return errorResponse(req, fmt.Errorf("%w: properties too long", errMessageIllegal))
		}
	}
	msg := b.message(born, &r, req.Body, props)
	if svc := b.txn.Load(); svc != nil {
		if tran, _ := remoting.LookupProperty(props, propTranMsg); tran == "true" {
			return b.sendHalf(ctx, svc, req, msg, uniq) // end_transaction.go
		}
	}
	group := retryGroup(r.topic)
	entry, err := b.delayEntry(ctx, msg, r.reconsumeTimes, b.maxReconsumeTimes(group, r.maxReconsumeTimes)) // sendback.go, subgroups.go
	if err != nil {
		return errorResponse(req, err)
	}
	pos, err := b.logs.Append(ctx, []log.Message{entry})
	code, err := sendStatus(pos, err)
	if err != nil {
		return errorResponse(req, fmt.Errorf("store: %w", err))
	}
	if group != "" {
		b.countRetrySend(group, msg)
	}
	resp := b.sendResponse(req, code, r.queueID, pos[0].QueueOffset, remoting.OffsetMsgID(b.storeHost, pos[0].Phys))
	resp.ExtFields["transactionId"] = uniq
	b.countIn(r.topic, 1, len(req.Body))
	return resp
}

func (b *Broker) sendBatchMessage(ctx context.Context, c *netio.Conn, req *remoting.Command) *remoting.Command {
	r, err := parseSendRequest(req.ExtFields)
	if err != nil {
		return errorResponse(req, err)
	}
	if strings.HasPrefix(r.topic, retryGroupPrefix) {
		return errorResponse(req, fmt.Errorf("%w: batch request does not support retry group %s", errMessageIllegal, r.topic))
	}
	if r.sysFlag&remoting.SysFlagTransactionMask != 0 { // CommitLog.asyncPutMessages
		return errorResponse(req, fmt.Errorf("%w: a batch cannot be transactional", errMessageIllegal))
	}
	msgs, err := remoting.DecodeBatch(req.Body)
	if err != nil {
		return errorResponse(req, err)
	}
	if len(msgs) == 0 {
		return errorResponse(req, fmt.Errorf("%w: empty batch", errMessageIllegal))
	}
	t, err := b.topicForSend(ctx, &r)
	if err == nil {
		err = b.checkSend(t, &r, len(req.Body))
	}
	if err != nil {
		return errorResponse(req, err)
	}
	entries := make([]log.Message, len(msgs))
	for i, m := range msgs {
		one := r
		one.flag = m.Flag
		if entries[i], err = b.delayEntry(ctx, b.message(addrPort(c.RemoteAddr()), &one, m.Body, m.RawProperties), 0, delay.UseDefaultMaxReconsumeTimes); err != nil { // sendback.go
			return errorResponse(req, err)
		}
	}
	pos, err := b.logs.Append(ctx, entries)
	code, err := sendStatus(pos, err)
	if err != nil {
		return errorResponse(req, fmt.Errorf("store: %w", err))
	}
	ids := make([]string, len(pos))
	for i, p := range pos {
		ids[i] = remoting.OffsetMsgID(b.storeHost, p.Phys)
	}
	b.countIn(r.topic, len(msgs), len(req.Body))
	return b.sendResponse(req, code, r.queueID, pos[0].QueueOffset, strings.Join(ids, ","))
}

// sendStatus is the response code of an append that returned pos and
// err: SUCCESS, or on a SYNC_MASTER whose slaves did not confirm written
// entries, FLUSH_SLAVE_TIMEOUT (12) or SLAVE_NOT_AVAILABLE (11) with the
// send's fields, as Java answers (the client reports SendFlushSlaveTimeout
// or SendSlaveNotAvailable, not an error). Any other error is returned.
func sendStatus(pos []log.Position, err error) (int32, error) {
	switch {
	case err == nil:
		return remoting.Success, nil
	case len(pos) > 0 && errors.Is(err, log.ErrReplicationTimeout):
		return remoting.FlushSlaveTimeout, nil
	case len(pos) > 0 && errors.Is(err, log.ErrNotEnoughReplicasAfterAppend):
		return remoting.SlaveNotAvailable, nil
	}
	return 0, err
}

// sendResponse carries what clients read from a send (docs/rocketmq-protocol.md §2.4).
func (b *Broker) sendResponse(req *remoting.Command, code int32, queueID int32, queueOffset int64, msgID string) *remoting.Command {
	resp := remoting.NewResponse(req, code, "")
	resp.ExtFields["msgId"] = msgID
	resp.ExtFields["queueId"] = strconv.Itoa(int(queueID))
	resp.ExtFields["queueOffset"] = strconv.FormatInt(queueOffset, 10)
	resp.ExtFields["MSG_REGION"] = "DefaultRegion"
	resp.ExtFields["TRACE_ON"] = "true"
	return resp
}

// message builds the stored form of one message; offsets and store time
// are written at append.
func (b *Broker) message(born netip.AddrPort, r *sendRequest, body, props []byte) *remoting.MessageExt {
	m := &remoting.MessageExt{
		QueueID: r.queueID, Flag: r.flag, BornTimestamp: r.bornTimestamp, BornHost: born,
		StoreHost: b.storeHost, ReconsumeTimes: r.reconsumeTimes, Body: body, Topic: r.topic, Properties: props,
	}
	m.SysFlag = r.sysFlag&^(remoting.SysFlagBornHostV6|remoting.SysFlagStoreHostV6) | remoting.HostSysFlags(born, b.storeHost)
	return m
}

// entry encodes m as a store entry whose Encode callback patches
// QUEUEOFFSET, PHYSICALOFFSET (the entry's CommitLog offset) and
// STORETIMESTAMP under the append lock.
func (b *Broker) entry(m *remoting.MessageExt) log.Message {
	payload, tags, keys := remoting.StoreParts(m)
	return log.Message{Kind: log.KindRocketMQ, Topic: m.Topic, QueueID: m.QueueID, Count: 1,
		TagsCodes: tags, Keys: keys, Payload: payload, Encode: patchStored}
}

func patchStored(p []byte, phys, queueOffset, storeTime int64) {
	_ = remoting.PatchStored(p, queueOffset, phys, storeTime) // p is the entry's own copy: long enough
}

// addrPort converts a connection address; anything else is the zero value.
func addrPort(a net.Addr) netip.AddrPort {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.AddrPort()
	}
	return netip.AddrPort{}
}
