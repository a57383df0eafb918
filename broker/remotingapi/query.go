package remotingapi

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/twinmq/twinmq/netio"
	"github.com/twinmq/twinmq/storage"
	"github.com/twinmq/twinmq/wire/remoting"
)

const maxQueryMessages = 64 // defaultQueryMaxNum is 32; Java caps near here

// queryMessage (12) finds messages of a topic by key or, with
// _UNIQUE_KEY_QUERY=true, by UNIQ_KEY, stored within [beginTimestamp,
// endTimestamp]; the body is their stored records (docs/rocketmq-protocol.md §2.11).
func (b *Broker) queryMessage(_ context.Context, _ *netio.Conn, req *remoting.Command) *remoting.Command {
	e := ext{m: req.ExtFields}
	e.require("topic", "key")
	maxNum := int(e.i32("maxNum", 32))
	begin, end := e.i64("beginTimestamp", 0), e.i64("endTimestamp", math.MaxInt64)
	if e.err != nil {
		return errorResponse(req, e.err)
	}
	if e.str("_UNIQUE_KEY_QUERY") == "true" {
		maxNum = 32
	}
	maxNum = min(max(maxNum, 1), maxQueryMessages)
	res, err := b.store.QueryByKey(e.str("topic"), e.str("key"), maxNum, begin, end)
	if err != nil {
		return errorResponse(req, err)
	}
	defer res.Release()
	body := b.queryBody(res, e.str("topic"), e.str("key")) // Kafka records too, xproto_query.go
	if len(body) == 0 {
		return errorResponse(req, fmt.Errorf("%w: can not find message, maybe time range not correct", errQueryNotFound))
	}
	resp := remoting.NewResponse(req, remoting.Success, "")
	resp.ExtFields["indexLastUpdateTimestamp"] = strconv.FormatInt(b.cfg.Now().UnixMilli(), 10)
	resp.ExtFields["indexLastUpdatePhyoffset"] = "0"
	resp.Body = body
	return resp
}

// viewMessageByID (33) returns the record at a CommitLog offset: the
// offset inside an offsetMsgId.
func (b *Broker) viewMessageByID(_ context.Context, _ *netio.Conn, req *remoting.Command) *remoting.Command {
	e := ext{m: req.ExtFields}
	e.require("offset")
	off := e.i64("offset", 0)
	if e.err != nil {
		return errorResponse(req, e.err)
	}
	res, err := b.store.ReadAt(off)
	if err != nil {
		return remoting.NewResponse(req, remoting.SystemError, "can not find message by the offset, "+strconv.FormatInt(off, 10))
	}
	defer res.Release()
	body := b.kafkaAwarePayloads(res, nil) // a Kafka batch's records, converted
	if len(body) == 0 {
		return remoting.NewResponse(req, remoting.SystemError, "the entry at offset "+strconv.FormatInt(off, 10)+" is not a RocketMQ message")
	}
	resp := remoting.NewResponse(req, remoting.Success, "")
	resp.Body = body
	return resp
}

// rocketMQPayloads copies the RocketMQ entries' payloads out of res.
func rocketMQPayloads(res *storage.ReadResult) []byte {
	var body []byte
	for _, e := range res.Entries {
		if e.Kind == storage.KindRocketMQ {
			body = append(body, e.Payload...)
		}
	}
	return body
}

// errLookMessage is SYSTEM_ERROR, as Java answers.
var errLookMessage = errors.New("remotingapi: look message by offset failed")

// lookMessage decodes the RocketMQ message at a CommitLog offset, copied
// out of the segment.
func (b *Broker) lookMessage(offset int64) (remoting.MessageExt, error) {
	if offset < 0 {
		return remoting.MessageExt{}, fmt.Errorf("%w: offset %d", errLookMessage, offset)
	}
	res, err := b.store.ReadAt(offset)
	if err != nil {
		return remoting.MessageExt{}, fmt.Errorf("%w: %w", errLookMessage, err)
	}
	defer res.Release()
	if len(res.Entries) != 1 || res.Entries[0].Kind != storage.KindRocketMQ {
		return remoting.MessageExt{}, fmt.Errorf("%w: no RocketMQ message at %d", errLookMessage, offset)
	}
	m, _, err := remoting.DecodeStoredMessage(append([]byte(nil), res.Entries[0].Payload...))
	if err != nil {
		return remoting.MessageExt{}, fmt.Errorf("%w: %w", errLookMessage, err)
	}
	return m, nil
}
