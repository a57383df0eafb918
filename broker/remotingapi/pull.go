package remotingapi

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	sqlfilter "github.com/twinmq/twinmq/broker/filter"
	"strconv"
	"strings"
	"time"

	"github.com/twinmq/twinmq/broker/log"
	"github.com/twinmq/twinmq/netio"
	"github.com/twinmq/twinmq/wire/remoting"
)

// PullSysFlag bits (PullSysFlag.java, docs/rocketmq-protocol.md §2.5).
const (
	pullCommitOffset = 0x1
	pullSuspend      = 0x2
	pullSubscription = 0x4
)

// pullRequest is a decoded PULL_MESSAGE header.
type pullRequest struct {
	group, topic string
	queueID      int32
	offset       int64
	maxMsgs      int32
	sysFlag      int32
	commitOffset int64
	suspend      time.Duration
	subscription string
	// expressionType is the subscription's: TAG ("" too) or SQL92.
	expressionType string
	// sql is the compiled SQL92 subscription (pull_sql.go), nil for TAG.
	sql   *sqlfilter.Expr
	start time.Time // the frame reached the broker (latency)
}

func parsePullRequest(m map[string]string) (pullRequest, error) {
	e := ext{m: m}
	e.require("consumerGroup", "topic", "queueId", "queueOffset")
	r := pullRequest{
		group: e.str("consumerGroup"), topic: e.str("topic"), queueID: e.i32("queueId", 0),
		offset: e.i64("queueOffset", 0), maxMsgs: e.i32("maxMsgNums", maxPullMessages),
		sysFlag: e.i32("sysFlag", 0), commitOffset: e.i64("commitOffset", -1),
		suspend: time.Duration(e.i64("suspendTimeoutMillis", 0)) * time.Millisecond, subscription: e.str("subscription"),
		expressionType: e.str("expressionType"),
	}
	if r.queueID < 0 || r.offset < 0 {
		return r, fmt.Errorf("%w: queueId %d, queueOffset %d", errInvalidParameter, r.queueID, r.offset)
	}
	if t := r.expressionType; t != "" && !strings.EqualFold(t, "TAG") && !strings.EqualFold(t, "SQL92") {
		return r, unsupportedFilter(t) // as a RocketMQ broker answers a filter type it lacks
	}
	return r, e.err
}

// unsupportedFilter refuses a pull by a subscription type not served, with
// RocketMQ's remark (a SYSTEM_ERROR, as codeFor answers it).
type unsupportedFilter string

func (t unsupportedFilter) Error() string {
	return "The broker does not support consumer to filter message by " + string(t)
}

// pullResult is one evaluation of a pull: the status table of docs/rocketmq-protocol.md §2.5.
// When messages were found, parts are their stored records, slices of the
// mapped CommitLog that res keeps alive until release.
type pullResult struct {
	code           int32
	status         string // GetMessageStatus name, the remark Java sends
	next, min, max int64
	suggest        int64 // suggestWhichBrokerId

	res   *log.ReadResult
	hold  *log.Hold // of a pull served from the pull cache
	parts [][]byte
	n     int // total bytes of parts
	// waitAt, when past the pull's offset, is where a long poll waits:
	// the queue's end, for a pull held at a Kafka transaction's last
	// stable offset (the marker that ends it grows the queue).
	waitAt int64
}

// release lets go of the mapped records (idempotent).
func (r *pullResult) release() {
	if r.res != nil {
		r.res.Release()
		r.res, r.parts = nil, nil
	}
	if r.hold != nil {
		r.hold.Release()
		r.hold, r.parts = nil, nil
	}
}

func (b *Broker) pullMessage(ctx context.Context, c *netio.Conn, req *remoting.Command) *remoting.Command {
	start := time.Now()
	r, err := parsePullRequest(req.ExtFields)
	if err != nil {
		return errorResponse(req, err)
	}
	r.start = start
	if resp := b.consumeForbidden(req, r.group); resp != nil { // subgroups.go
		return resp
	}
	if err := b.checkPull(&r); err != nil {
		return errorResponse(req, err)
	}
	b.commitPulled(&r)
	if err := b.compileSQL(&r); err != nil { // pull_sql.go
		return remoting.NewResponse(req, remoting.SubscriptionParseFailed, err.Error())
	}
	filter := b.pullFilter(&r, c)
	res, err := b.readPull(ctx, &r, filter)
	if err != nil {
		return errorResponse(req, err)
	}
	if res.code == remoting.PullNotFound && r.sysFlag&pullSuspend != 0 && r.suspend > 0 {
		b.park(c, req, &r, filter, max(r.offset, res.waitAt))
		return nil
	}
	b.observePull(&r, res.code)
	b.sendPull(c, req, res)
	return nil
}

// observePull reports the latency of a pull that is answered with code
// now: before the write, so that a client holding its answer finds it
// counted.
func (b *Broker) observePull(r *pullRequest, code int32) {
	b.observe(remoting.PullMessage, b.codes[remoting.PullMessage], code, r.start)
}

// checkPull applies the topic, permission and queue checks of a pull.
func (b *Broker) checkPull(r *pullRequest) error {
	t, ok := b.topics.Get(r.topic)
	if !ok {
		//lint:ignore ST1005 the Java broker's remark, word for word
		return fmt.Errorf("%w: topic[%s] not exist, apply first please!", errTopicNotExist, r.topic)
	}
	if t.Perm&4 == 0 {
		return fmt.Errorf("%w: the topic[%s] pulling is forbidden", errNoPermission, r.topic)
	}
	if r.queueID >= t.Queues {
		return fmt.Errorf("%w: queueId[%d] is illegal, topic %s has %d queues", errInvalidParameter, r.queueID, r.topic, t.Queues)
	}
	return nil
}

// commitPulled records the consumer offset a pull carries. Nobody waits
// for this commit: it is written with the next periodic flush (100 ms), as
// the Java broker persists offsets every 5 s, instead of an append per
// pull.
func (b *Broker) commitPulled(r *pullRequest) {
	if r.sysFlag&pullCommitOffset != 0 && r.commitOffset >= 0 {
		b.offsets.CommitAsync(r.group, r.topic, r.queueID, r.commitOffset)
	}
}

// parkInline parks, on the event loop, a long poll that would find
// nothing: its offset is the queue's end, so pullMessage would read no
// record and park it. Parking registers a timer and a wake-up and
// blocks on nothing. It reports false, having done nothing, for any other
// pull (one that reads records, or fails a check, is pullMessage's).
func (b *Broker) parkInline(c *netio.Conn, req *remoting.Command) bool {
	r, err := parsePullRequest(req.ExtFields)
	if err != nil || r.sysFlag&pullSuspend == 0 || r.suspend <= 0 || b.checkPull(&r) != nil {
		return false
	}
	r.start = time.Now()
	if end, err := b.logs.End(r.topic, r.queueID); err != nil || r.offset != end {
		return false
	}
	b.commitPulled(&r)
	req.Body = nil // it may alias the loop's buffer; a pull has none anyway
	b.park(c, req, &r, b.pullFilter(&r, c), r.offset)
	return true
}

// sendPull writes the response to a pull: the header, then the stored
// records straight from the mapped CommitLog (writev, no copy, docs/design.md
// section 3), released once netio is done with them.
func (b *Broker) sendPull(c *netio.Conn, req *remoting.Command, res pullResult) {
	resp := pullResponse(req, res)
	if req.IsOneway() || len(res.parts) == 0 {
		res.release()
		b.reply(c, req, resp)
		return
	}
	bufs := make([][]byte, 0, len(res.parts)+1)
	bufs = append(bufs, remoting.AppendHeader(nil, resp, res.n))
	bufs = append(bufs, res.parts...)
	_ = c.WriteThen(func(error) { res.release() }, bufs...) // done runs on every path
}

// pullFilter is the tag filter of the consumer's subscription: the one in
// the request when the SUBSCRIPTION flag is set, else the one its heartbeat
// registered (the Go client never sends it on pulls, docs/rocketmq-protocol.md §2.5). No
// subscription, or "*", takes everything.
func (b *Broker) pullFilter(r *pullRequest, c *netio.Conn) func(int64) bool {
	if r.sql != nil {
		return nil // SQL92: every message is read and matched (pull_sql.go)
	}
	expr := r.subscription
	if r.sysFlag&pullSubscription == 0 {
		expr = b.clients.subscription(r.group, r.topic)
	}
	codes := tagCodes(expr)
	if codes == nil {
		return nil
	}
	return func(code int64) bool { _, ok := codes[code]; return ok }
}

// tagCodes parses "TagA || TagB" into Java hash codes; nil means all.
func tagCodes(expr string) map[int64]struct{} {
	expr = strings.TrimSpace(expr)
	if expr == "" || expr == "*" {
		return nil
	}
	codes := make(map[int64]struct{})
	for _, tag := range strings.Split(expr, "||") {
		if tag = strings.TrimSpace(tag); tag != "" {
			codes[remoting.TagsHashCode(tag)] = struct{}{}
		}
	}
	if len(codes) == 0 {
		return nil
	}
	return codes
}

// readPull reads for r and classifies the outcome (docs/rocketmq-protocol.md §2.5 table),
// counting what a FOUND answer sends (SetTopicMeter): every FOUND result
// is sent. ctx bounds waiting for a conversion another pull is making.
func (b *Broker) readPull(ctx context.Context, r *pullRequest, filter func(int64) bool) (pullResult, error) {
	out, err := b.readPullUncounted(ctx, r, filter)
	if err == nil && r.sql != nil && out.code == remoting.Success {
		matchSQL(&out, r.sql) // pull_sql.go
	}
	if err == nil && out.code == remoting.Success {
		n := countMessages(out.parts)
		if m := b.meter.Load(); m != nil {
			(*m).Out(r.topic, n, out.n)
		}
		b.statsGot(r.group, r.topic, n, out.n) // admin_brokerstats.go
	}
	return out, err
}

// countMessages counts the stored-message encodings in parts, which a
// pull sends back to back: each starts with its TOTALSIZE (int32,
// itself included, docs/rocketmq-protocol.md), and a part holds whole
// messages or one message's head, body or tail, so a size never straddles
// two parts. It stops at a size it cannot read or that is below 4.
func countMessages(parts [][]byte) int {
	n, left := 0, 0 // left: bytes of the current message still to skip
	for _, part := range parts {
		for o := 0; o < len(part); {
			if left == 0 {
				if len(part)-o < 4 {
					return n
				}
				if left = int(int32(binary.BigEndian.Uint32(part[o:]))); left < 4 {
					return n
				}
				n++
			}
			step := min(left, len(part)-o)
			o += step
			left -= step
		}
	}
	return n
}

func (b *Broker) readPullUncounted(ctx context.Context, r *pullRequest, filter func(int64) bool) (pullResult, error) {
	maxMsgs := int(min(max(r.maxMsgs, 1), maxPullMessages))
	if out, ok := b.pullCached(ctx, r, maxMsgs, filter); ok { // xproto_pullcache.go
		return out, nil
	}
	opt := log.ReadOptions{MaxEntries: maxMsgs, MaxUnits: maxMsgs, MaxBytes: maxPullBytes, Filter: filter}
	tv, held := b.pullStable(r, &opt) // xproto_pull_txn.go
	if held != nil {
		return *held, nil
	}
	res, err := b.logs.Read(r.topic, r.queueID, r.offset, opt)
	var oe *log.OffsetError
	switch {
	case errors.Is(err, log.ErrQueueNotFound):
		if r.offset == 0 {
			return pullResult{code: remoting.PullNotFound, status: "NO_MATCHED_LOGIC_QUEUE"}, nil
		}
		return pullResult{code: remoting.PullOffsetMoved, status: "NO_MATCHED_LOGIC_QUEUE"}, nil
	case errors.As(err, &oe):
		if r.offset < oe.Start {
			return pullResult{code: remoting.PullOffsetMoved, status: "OFFSET_TOO_SMALL", next: oe.Start, min: oe.Start, max: oe.End}, nil
		}
		return pullResult{code: remoting.PullOffsetMoved, status: "OFFSET_OVERFLOW_BADLY", next: oe.End, min: oe.Start, max: oe.End}, nil
	case err != nil:
		return pullResult{}, fmt.Errorf("pull %s/%d@%d: %w", r.topic, r.queueID, r.offset, err)
	}
	out := pullResult{next: res.Next, min: res.Start, max: res.End}
	if hasKafka(res.Entries) {
		b.pullConverted(&out, res, r, maxMsgs, filter, tv) // xproto_pull.go
	} else {
		for _, e := range res.Entries {
			if e.Kind == log.KindRocketMQ {
				out.parts = append(out.parts, e.Payload)
				out.n += len(e.Payload)
			}
		}
	}
	if out.n > 0 {
		b.observeStored(res.Entries)
		out.res = res // released by sendPull once written
		out.code, out.status = remoting.Success, "FOUND"
		out.suggest = b.suggestBroker(r.group, res.Entries[0].Phys)
		return out, nil
	}
	res.Release()
	out.parts = nil
	switch {
	case res.Next > r.offset:
		out.code, out.status = remoting.PullRetryImmediately, "NO_MATCHED_MESSAGE"
	case res.End == 0 && r.offset != 0:
		out.code, out.status = remoting.PullOffsetMoved, "NO_MESSAGE_IN_QUEUE"
	default:
		out.code, out.status = remoting.PullNotFound, "OFFSET_OVERFLOW_ONE"
	}
	return out, nil
}

// pullResponse is the response header of res; its body, res.parts, is
// written by sendPull.
func pullResponse(req *remoting.Command, res pullResult) *remoting.Command {
	resp := remoting.NewResponse(req, res.code, res.status)
	resp.ExtFields["suggestWhichBrokerId"] = strconv.FormatInt(res.suggest, 10)
	resp.ExtFields["nextBeginOffset"] = strconv.FormatInt(res.next, 10)
	resp.ExtFields["minOffset"] = strconv.FormatInt(res.min, 10)
	resp.ExtFields["maxOffset"] = strconv.FormatInt(res.max, 10)
	return resp
}

// park holds a pull that found nothing (Java's PullRequestHoldService) in
// the broker's broker/log.Holds: an append to the queue, the suspend
// timeout, the connection's close or the broker's Close answers it,
// whichever comes first; none holds a goroutine while waiting. It runs on
// the event loop too (parkInline): Park never blocks.
func (b *Broker) park(c *netio.Conn, req *remoting.Command, r *pullRequest, filter func(int64) bool, waitAt int64) {
	p := &parkedPull{b: b, c: c, req: req, r: r, filter: filter}
	b.holds.Park(c, []log.Watch{{Topic: r.topic, Queue: r.queueID, Offset: waitAt}}, min(r.suspend, b.cfg.MaxSuspend),
		func(why log.Reason) { p.answer(why == log.Woken) })
	if c.Closed() { // closed before the pull was recorded: OnClose has cut the rest
		b.holds.Cut(c)
	}
}

// parkedPull is one held pull.
type parkedPull struct {
	b      *Broker
	c      *netio.Conn
	req    *remoting.Command
	r      *pullRequest
	filter func(int64) bool
}

func (p *parkedPull) answer(woken bool) {
	res, err := p.b.readPull(p.b.ctx, p.r, p.filter)
	if err != nil {
		resp := errorResponse(p.req, err)
		p.b.observePull(p.r, resp.Code)
		p.b.reply(p.c, p.req, resp)
		return
	}
	if woken && res.code == remoting.PullNotFound {
		// Woken, yet nothing readable: let the client pull again at once
		// rather than wait a whole suspend again.
		res.code = remoting.PullRetryImmediately
	}
	p.b.observePull(p.r, res.code)
	p.b.sendPull(p.c, p.req, res)
}

// suggestBroker is the suggestWhichBrokerId of group's pull that found
// the entry at phys: with slaveReadEnable, a master sends a consumer that
// has fallen further behind than SlowPullBytes (RocketMQ: 40% of the
// machine's memory, accessMessageInMemoryMaxRatio, so its reads no longer
// come from the page cache) to the group's whichBrokerWhenConsumeSlowly
// (1 by default), and any other to the group's brokerId (0, the master,
// by default), as PullMessageProcessor does; without slaveReadEnable, and
// on a slave, the master (0).
func (b *Broker) suggestBroker(group string, phys int64) int64 {
	if !b.cfg.SlaveReadEnable || b.brokerID.Load() != 0 {
		return 0
	}
	c := b.subGroup(group) // subgroups.go
	if b.logs.Behind(phys) <= b.cfg.SlowPullBytes {
		return c.BrokerID
	}
	return c.WhichBrokerWhenConsumeSlowly
}
