package remotingapi

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/twinmq/twinmq/netio"
	"github.com/twinmq/twinmq/wire/remoting"
)

// INVOKE_BROKER_TO_RESET_OFFSET (222) is what `mqadmin resetOffsetByTime`
// and the console's "reset offset" send to every broker of a topic
// (ResetOffsetRequestHeader.java: topic, group, timestamp, isForce, and in
// 5.x queueId and offset). Java's broker has two ways: the classic one
// (Broker2Client.resetOffset) computes the offsets and only tells the
// group's live clients with RESET_CONSUMER_CLIENT_OFFSET (220), failing
// with CONSUMER_NOT_ONLINE when there are none (mqadmin then falls back to
// UPDATE_CONSUMER_OFFSET per queue); the server-side one
// (useServerSideResetOffset) commits them itself. twinmq does both: it
// commits the new offsets in the offset table both protocols share, then
// sends 220 to each live member on its own connection, so a running
// consumer drops what it holds and continues from there instead of
// writing its old offsets back.
//
// Offsets, per queue of the topic (or of queueId alone when >= 0):
//
//   - queueId >= 0 and offset given (not -1): that offset, which must lie in
//     [min, max] (SYSTEM_ERROR otherwise, as Java);
//   - timestamp < 0: the queue's max offset; else the first message stored
//     at or after timestamp (the max offset when none is);
//   - a twinmq extension, for `twinmq group seek --force`: a request body
//     in ResetOffsetBody's form (DecodeMQMap, "offsetTable") gives each
//     queue's offset outright, clamped to [min, max]; queues it does not
//     name keep theirs. Java's clients send no body with 222.
//
// As Broker2Client, without isForce an offset only moves back: a queue
// whose committed offset is below the computed one keeps it. The answer's
// body is ResetOffsetBody with the offsets set.

// InvokeBrokerToResetOffset is RequestCode.INVOKE_BROKER_TO_RESET_OFFSET.
const InvokeBrokerToResetOffset int32 = 222

// EncodeResetOffsetBody is ResetOffsetBody.java for table, in fastjson's
// form, queues sorted by topic and id.
func EncodeResetOffsetBody(table map[MessageQueue]int64) []byte {
	entries := make([]mqEntry, 0, len(table))
	for mq, off := range table {
		entries = append(entries, mqEntry{mq, strconv.AppendInt(nil, off, 10)})
	}
	slices.SortFunc(entries, func(a, b mqEntry) int {
		return cmp.Or(cmp.Compare(a.mq.Topic, b.mq.Topic), cmp.Compare(a.mq.BrokerName, b.mq.BrokerName), cmp.Compare(a.mq.QueueID, b.mq.QueueID))
	})
	body := append([]byte(`{"offsetTable":`), appendMQMap(nil, entries)...)
	return append(body, '}')
}

// resetPlan is one queue's new offset.
type resetPlan struct {
	queue  int32
	offset int64
}

// invokeBrokerToResetOffset serves 222.
func (b *Broker) invokeBrokerToResetOffset(ctx context.Context, _ *netio.Conn, req *remoting.Command) *remoting.Command {
	e := ext{m: req.ExtFields}
	e.require("topic", "group", "timestamp")
	ts := e.i64("timestamp", -1)
	qid := e.i32("queueId", -1)
	force := e.boolean("isForce")
	offset := e.i64("offset", -1)
	if e.err != nil {
		return errorResponse(req, e.err)
	}
	group := e.str("group")
	if b.topics.Following() || b.offsets.Following() {
		return remoting.NewResponse(req, remoting.SystemError, "Can not reset offset in slave broker")
	}
	t, refused := b.topicOf(req)
	if refused != nil {
		return refused
	}
	var explicit map[int32]int64
	if len(req.Body) > 0 {
		m, err := DecodeMQMap[int64](req.Body, "offsetTable")
		if err != nil {
			return errorResponse(req, fmt.Errorf("%w: %v", errInvalidParameter, err))
		}
		explicit = make(map[int32]int64, len(m))
		for mq, off := range m {
			if mq.Topic == t.Name {
				explicit[mq.QueueID] = off
			}
		}
	}
	var plan []resetPlan
	for q := range t.Queues {
		if qid >= 0 && q != qid {
			continue
		}
		lo, hi, err := b.queueRange(t.Name, q)
		if err != nil {
			return errorResponse(req, err)
		}
		var target int64
		switch {
		case explicit != nil:
			off, ok := explicit[q]
			if !ok {
				continue
			}
			target = min(max(off, lo), hi)
		case qid >= 0 && offset != -1:
			if offset < lo || offset > hi {
				return remoting.NewResponse(req, remoting.SystemError,
					fmt.Sprintf("Target offset %d not in consume queue range [%d-%d]", offset, lo, hi))
			}
			target = offset
		case ts < 0:
			target = hi
		default:
			if target, err = b.store.OffsetForTime(t.Name, q, ts); err != nil {
				target = hi // a queue never written
			}
		}
		if cur, ok := b.offsets.Fetch(group, t.Name, q); ok && !force && target >= cur {
			target = cur
		}
		plan = append(plan, resetPlan{q, target})
	}
	if len(plan) == 0 {
		return remoting.NewResponse(req, remoting.SystemError, "No queues to reset.")
	}
	for _, p := range plan {
		if err := b.offsets.Commit(ctx, group, t.Name, p.queue, p.offset); err != nil {
			return errorResponse(req, fmt.Errorf("reset offset of %s on %s/%d: %w", group, t.Name, p.queue, err))
		}
	}
	body := b.resetOffsetBody(t.Name, plan)
	n := b.notifyResetOffset(group, t.Name, ts, force, body)
	b.log.Info("reset offset", "group", group, "topic", t.Name, "queues", len(plan), "timestamp", ts,
		"force", force, "clientsNotified", n)
	return bodyResponse(req, body)
}

// resetOffsetBody is ResetOffsetBody.java for plan.
func (b *Broker) resetOffsetBody(topic string, plan []resetPlan) []byte {
	table := make(map[MessageQueue]int64, len(plan))
	for _, p := range plan {
		table[b.mq(topic, p.queue)] = p.offset
	}
	return EncodeResetOffsetBody(table)
}

// notifyResetOffset sends RESET_CONSUMER_CLIENT_OFFSET (220), one way, to
// every live member of group, as Broker2Client.resetOffset does, and
// returns to how many it went out.
func (b *Broker) notifyResetOffset(group, topic string, ts int64, force bool, body []byte) int {
	_, conns := b.clients.members(group)
	n := 0
	for _, c := range conns {
		r := remoting.NewRequest(resetConsumerClientOffset, b.opaque.Add(1))
		r.Flag |= remoting.FlagOneway
		r.ExtFields["topic"] = topic
		r.ExtFields["group"] = group
		r.ExtFields["queueId"] = "-1"
		r.ExtFields["timestamp"] = strconv.FormatInt(ts, 10)
		r.ExtFields["isForce"] = strconv.FormatBool(force)
		r.Body = body
		if err := c.Write(remoting.AppendCommand(nil, r)); err != nil {
			b.log.Warn("cannot tell a consumer to reset its offsets", "group", group, "topic", topic, "err", err)
			continue
		}
		n++
	}
	return n
}
