package remotingapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/twinmq/twinmq/broker/delay"
	"github.com/twinmq/twinmq/broker/log"
	"github.com/twinmq/twinmq/netio"
	"github.com/twinmq/twinmq/wire/remoting"
)

// ResendDLQ is twinmq's admin request that re-sends a group's dead
// letters to their original topics (`twinmq message resend-dlq`). It is
// not a RocketMQ code: RocketMQ's console re-sends a DLQ message through a
// live consumer (CONSUME_MESSAGE_DIRECTLY), which neither stores it nor
// works without one. Ext fields: group (required), max (optional bound on
// the messages re-sent by one request, default 10,000). The response body
// is ResendDLQResult as JSON.
const ResendDLQ int32 = 19601

// ResendDLQResult is the body of a ResendDLQ response.
type ResendDLQResult struct {
	// Resent messages were stored again in their original topic.
	Resent int `json:"resent"`
	// Skipped messages have no original topic (RETRY_TOPIC), or it no
	// longer exists, or they are not RocketMQ messages.
	Skipped int `json:"skipped"`
	// NextOffset is the DLQ offset the next request starts from.
	NextOffset int64 `json:"nextOffset"`
}

// resendBatch bounds the messages read and appended at once.
const resendBatch = 64

// resendDLQ re-sends %DLQ%<group> from the group's committed offset on it:
// each message goes to a random queue of its RETRY_TOPIC as a fresh
// message (reconsume times 0, no delay or retry properties), keeping its
// body, tags, keys, UNIQ_KEY and ORIGIN_MESSAGE_ID. The group's DLQ offset
// is committed after each batch, so a second request re-sends nothing
// twice.
func (b *Broker) resendDLQ(ctx context.Context, _ *netio.Conn, req *remoting.Command) *remoting.Command {
	e := ext{m: req.ExtFields}
	e.require("group")
	group, limit := e.str("group"), int(e.i32("max", 10_000))
	if e.err == nil && (group == "" || limit <= 0) {
		e.err = fmt.Errorf("%w: group %q max %d", errInvalidParameter, group, limit)
	}
	if e.err != nil {
		return errorResponse(req, e.err)
	}
	dlq := delay.DLQTopic(group)
	if _, ok := b.topics.Get(dlq); !ok {
		return errorResponse(req, fmt.Errorf("%w: %s", errTopicNotExist, dlq))
	}
	from, _ := b.offsets.Fetch(group, dlq, 0)
	res := ResendDLQResult{NextOffset: max(from, 0)}
	for res.Resent+res.Skipped < limit {
		n, err := b.resendSome(ctx, group, dlq, &res, min(resendBatch, limit-res.Resent-res.Skipped))
		if err != nil {
			return errorResponse(req, err)
		}
		if n == 0 {
			break
		}
	}
	resp := remoting.NewResponse(req, remoting.Success, "")
	resp.Body, _ = json.Marshal(res) // plain struct: cannot fail
	return resp
}

// resendSome re-sends up to n DLQ messages from res.NextOffset and
// commits the offset after them; it returns how many it read.
func (b *Broker) resendSome(ctx context.Context, group, dlq string, res *ResendDLQResult, n int) (int, error) {
	rr, err := b.logs.Read(dlq, 0, res.NextOffset, log.ReadOptions{MaxEntries: n})
	var oe *log.OffsetError
	if errors.As(err, &oe) && res.NextOffset < oe.Start {
		res.NextOffset = oe.Start // removed by retention
		return 1, nil
	}
	if errors.Is(err, log.ErrQueueNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("resend %s: %w", dlq, err)
	}
	var entries []log.Message
	read := len(rr.Entries)
	for _, re := range rr.Entries {
		entry, ok := b.resendEntry(re)
		if !ok {
			res.Skipped++
			continue
		}
		entries = append(entries, entry)
	}
	next := rr.Next
	rr.Release()
	if read == 0 {
		return 0, nil
	}
	if len(entries) > 0 {
		if _, err := b.logs.Append(ctx, entries); err != nil {
			return 0, fmt.Errorf("resend %s: store: %w", dlq, err)
		}
	}
	if err := b.offsets.Commit(ctx, group, dlq, 0, next); err != nil {
		return 0, fmt.Errorf("resend %s: commit offset: %w", dlq, err)
	}
	res.Resent += len(entries)
	res.NextOffset = next
	return read, nil
}

// resendEntry is the fresh message of one dead letter, or false to skip it.
func (b *Broker) resendEntry(re log.Entry) (log.Message, bool) {
	if re.Kind != log.KindRocketMQ {
		return log.Message{}, false
	}
	m, _, err := remoting.DecodeStoredMessage(append([]byte(nil), re.Payload...))
	if err != nil {
		b.log.Warn("remotingapi: skipping undecodable dead letter", "phys", re.Phys, "err", err)
		return log.Message{}, false
	}
	origin, ok := remoting.LookupProperty(m.Properties, delay.PropRetryTopic)
	t, exists := b.topics.Get(origin)
	if !ok || !exists || t.Queues <= 0 {
		return log.Message{}, false
	}
	edits := []delay.Edit{
		{Key: delay.PropRetryTopic, Delete: true}, {Key: delay.PropRealTopic, Delete: true},
		{Key: delay.PropRealQueueID, Delete: true}, {Key: delay.PropDelay, Delete: true},
		{Key: delay.PropTimerOutMs, Delete: true}, {Key: delay.PropTimerDeliverMs, Delete: true},
		{Key: delay.PropTimerDelaySec, Delete: true}, {Key: delay.PropTimerDelayMs, Delete: true},
	}
	m.Properties = remoting.AppendPropertyList(nil, applyEdits(remoting.ParsePropertyList(m.Properties), edits))
	m.Topic, m.QueueID, m.ReconsumeTimes, m.StoreHost = origin, rand.Int32N(t.Queues), 0, b.storeHost
	m.SysFlag = m.SysFlag&^remoting.SysFlagStoreHostV6 | remoting.HostSysFlags(m.BornHost, b.storeHost)&remoting.SysFlagStoreHostV6
	return b.entry(&m), true
}
