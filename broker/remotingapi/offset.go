package remotingapi

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/twinmq/twinmq/broker/log"
	"github.com/twinmq/twinmq/netio"
	"github.com/twinmq/twinmq/wire/remoting"
)

// queueRequest reads the topic and queueId every offset request carries.
func queueRequest(m map[string]string) (*ext, string, int32) {
	e := &ext{m: m}
	e.require("topic", "queueId")
	q := e.i32("queueId", 0)
	if q < 0 && e.err == nil {
		e.err = fmt.Errorf("%w: queueId %d", errInvalidParameter, q)
	}
	return e, e.str("topic"), q
}

func offsetResponse(req *remoting.Command, key string, v int64) *remoting.Command {
	resp := remoting.NewResponse(req, remoting.Success, "")
	resp.ExtFields[key] = strconv.FormatInt(v, 10)
	return resp
}

// queueRange is a queue's [min, max) as the log service lets readers see
// it; a queue never written is [0, 0).
func (b *Broker) queueRange(topic string, q int32) (int64, int64, error) {
	lo, hi, err := b.logs.Range(topic, q)
	if errors.Is(err, log.ErrQueueNotFound) {
		return 0, 0, nil
	}
	return lo, hi, err
}

// queryConsumerOffset (14): the committed offset, else, as the Java broker
// does for a group with none, 0 while the queue still starts at 0 (spec
// §2.7: a new group on a young queue reads from the start even with
// CONSUME_FROM_LAST_OFFSET), else QUERY_NOT_FOUND (22).
func (b *Broker) queryConsumerOffset(_ context.Context, _ *netio.Conn, req *remoting.Command) *remoting.Command {
	e, topic, q := queueRequest(req.ExtFields)
	e.require("consumerGroup")
	if e.err != nil {
		return errorResponse(req, e.err)
	}
	if off, ok := b.offsets.Fetch(e.str("consumerGroup"), topic, q); ok {
		return offsetResponse(req, "offset", off)
	}
	lo, _, err := b.queueRange(topic, q)
	if err == nil && lo <= 0 && e.str("setZeroIfNotFound") != "false" {
		return offsetResponse(req, "offset", 0)
	}
	return remoting.NewResponse(req, remoting.QueryNotFound, "Not found, V3_0_6_SNAPSHOT maybe this group consumer boot first")
}

// updateConsumerOffset (15). The Go client sends it "oneway" with flag 0
// every 5 s; it gets a reply like any request.
func (b *Broker) updateConsumerOffset(ctx context.Context, _ *netio.Conn, req *remoting.Command) *remoting.Command {
	e, topic, q := queueRequest(req.ExtFields)
	e.require("consumerGroup", "commitOffset")
	off := e.i64("commitOffset", 0)
	if e.err == nil && off < 0 {
		e.err = fmt.Errorf("%w: commitOffset %d", errInvalidParameter, off)
	}
	if e.err != nil {
		return errorResponse(req, e.err)
	}
	if err := b.offsets.Commit(ctx, e.str("consumerGroup"), topic, q, off); err != nil {
		return errorResponse(req, err)
	}
	return remoting.NewResponse(req, remoting.Success, "")
}

// searchOffsetByTimestamp (29): the first offset stored at or after
// timestamp (boundary "lower"), the max offset when all are older.
func (b *Broker) searchOffsetByTimestamp(_ context.Context, _ *netio.Conn, req *remoting.Command) *remoting.Command {
	e, topic, q := queueRequest(req.ExtFields)
	ts := e.i64("timestamp", 0)
	if e.err != nil {
		return errorResponse(req, e.err)
	}
	off, err := b.logs.OffsetForTime(topic, q, ts)
	if errors.Is(err, log.ErrQueueNotFound) {
		return offsetResponse(req, "offset", 0)
	}
	if err != nil {
		return errorResponse(req, err)
	}
	return offsetResponse(req, "offset", off)
}

func (b *Broker) getMaxOffset(_ context.Context, _ *netio.Conn, req *remoting.Command) *remoting.Command {
	e, topic, q := queueRequest(req.ExtFields)
	if e.err != nil {
		return errorResponse(req, e.err)
	}
	_, hi, err := b.queueRange(topic, q)
	if err != nil {
		return errorResponse(req, err)
	}
	return offsetResponse(req, "offset", hi)
}

func (b *Broker) getMinOffset(_ context.Context, _ *netio.Conn, req *remoting.Command) *remoting.Command {
	e, topic, q := queueRequest(req.ExtFields)
	if e.err != nil {
		return errorResponse(req, e.err)
	}
	lo, _, err := b.queueRange(topic, q)
	if err != nil {
		return errorResponse(req, err)
	}
	return offsetResponse(req, "offset", lo)
}

// getEarliestMsgStoretime (32): the store time of the queue's first
// message; a queue with none is SYSTEM_ERROR, as Java answers.
func (b *Broker) getEarliestMsgStoretime(_ context.Context, _ *netio.Conn, req *remoting.Command) *remoting.Command {
	e, topic, q := queueRequest(req.ExtFields)
	if e.err != nil {
		return errorResponse(req, e.err)
	}
	lo, hi, err := b.queueRange(topic, q)
	if err == nil && lo >= hi {
		err = fmt.Errorf("queue %s/%d has no message", topic, q)
	}
	var ts int64
	if err == nil {
		ts, err = b.store.StoreTime(topic, q, lo)
	}
	if err != nil {
		return errorResponse(req, err)
	}
	return offsetResponse(req, "timestamp", ts)
}
