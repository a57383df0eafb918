package grpcapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/twinmq/twinmq/broker/delay"
	sqlfilter "github.com/twinmq/twinmq/broker/filter"
	"github.com/twinmq/twinmq/broker/log"
	"github.com/twinmq/twinmq/broker/pop"
	"github.com/twinmq/twinmq/broker/topics"
	"github.com/twinmq/twinmq/wire/remoting"
	"github.com/twinmq/twinmq/wire/rmqpb"
	"github.com/twinmq/twinmq/wire/xproto"
)

// maxReadBytes bounds the payload bytes one read of a queue maps.
const maxReadBytes = 4 << 20

// clientLanguage is the language of the client of ctx, from the settings
// it sent on its telemetry stream (unspecified if it sent none).
func (s *Server) clientLanguage(ctx context.Context) rmqpb.Language {
	id := clientID(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.clients[id]; c != nil {
		return c.lang
	}
	return rmqpb.Language_LANGUAGE_UNSPECIFIED
}

// defaultAutoRenewInvisible is the lock of a message received with
// auto_renew and no invisible duration (a push consumer): RocketMQ
// proxy's defaultInvisibleTimeMills.
const defaultAutoRenewInvisible = time.Minute

// filter is a TAG subscription expression ("*" or "a || b") or an SQL92
// one (broker/filter).
type filter struct {
	tags  map[string]bool // nil: every tag
	codes map[int64]bool
	sql   *sqlfilter.Expr // nil: none
}

func parseFilter(fe *rmqpb.FilterExpression) (filter, error) {
	switch fe.GetType() {
	case rmqpb.FilterType_TAG, rmqpb.FilterType_FILTER_TYPE_UNSPECIFIED:
	case rmqpb.FilterType_SQL:
		e, err := sqlfilter.Compile(fe.GetExpression())
		if err != nil {
			return filter{}, errf(errIllegalFilter, "%v", err)
		}
		return filter{sql: e}, nil
	default:
		return filter{}, errf(errIllegalFilter, "filter type %d", fe.GetType())
	}
	expr := strings.TrimSpace(fe.GetExpression())
	if expr == "" || expr == "*" {
		return filter{}, nil
	}
	if len(expr) > 4096 {
		return filter{}, errf(errIllegalFilter, "expression of %d bytes", len(expr))
	}
	f := filter{tags: map[string]bool{}, codes: map[int64]bool{}}
	for _, t := range strings.Split(expr, "||") {
		t = strings.TrimSpace(t)
		if t == "" || !clean(t) {
			return filter{}, errf(errIllegalFilter, "expression %q", expr)
		}
		f.tags[t], f.codes[remoting.TagsHashCode(t)] = true, true
	}
	return f, nil
}

// codeFilter is the ConsumeQueue-level filter (tags hash codes).
func (f filter) codeFilter() func(int64) bool {
	if f.tags == nil {
		return nil
	}
	return func(c int64) bool { return f.codes[c] }
}

// keep checks the tag itself (hash codes collide).
func (f filter) keep(props []byte) bool {
	if f.sql != nil {
		return f.sql.Match(func(name string) (string, bool) { return remoting.LookupProperty(props, name) })
	}
	if f.tags == nil {
		return true
	}
	tag, _ := remoting.LookupProperty(props, propTags)
	return f.tags[tag]
}

// source reads one queue for the POP engine: stored RocketMQ messages
// decoded, stored Kafka batches converted record by record (wire/xproto),
// each a copy that outlives the read.
func (s *Server) source(group string, t topics.Config, queue int32, f filter) pop.Source[*remoting.MessageExt] {
	return pop.Source[*remoting.MessageExt]{
		Start: func() (int64, error) {
			start, _, err := s.logs.Range(t.Name, queue)
			if errors.Is(err, log.ErrQueueNotFound) {
				return 0, nil
			}
			return start, err
		},
		Read: func(from int64, max int) ([]pop.Record[*remoting.MessageExt], int64, error) {
			return s.read(t.Name, queue, from, max, f)
		},
		At: func(off int64) (*remoting.MessageExt, bool, error) {
			recs, _, err := s.readEntries(t.Name, queue, off, log.ReadOptions{MaxEntries: 1}, filter{})
			if err != nil {
				return nil, false, err
			}
			for _, r := range recs {
				if r.Offset == off {
					return r.Msg, true, nil
				}
			}
			return nil, false, nil
		},
		Dead: func(ctx context.Context, off int64, m *remoting.MessageExt, attempts int32) error {
			return s.deadLetter(ctx, group, m, attempts)
		},
	}
}

func (s *Server) read(topic string, queue int32, from int64, max int, f filter) ([]pop.Record[*remoting.MessageExt], int64, error) {
	return s.readEntries(topic, queue, from, log.ReadOptions{MaxUnits: max, MaxBytes: maxReadBytes, Filter: f.codeFilter()}, f)
}

// readEntries reads (topic, queue) from offset from and returns its
// records that f keeps, and the offset after the last one examined. A
// queue whose start moved past from (retention) is read from its start;
// a queue never written has nothing.
func (s *Server) readEntries(topic string, queue int32, from int64, opt log.ReadOptions, f filter) ([]pop.Record[*remoting.MessageExt], int64, error) {
	res, err := s.logs.Read(topic, queue, from, opt)
	var oe *log.OffsetError
	switch {
	case errors.Is(err, log.ErrQueueNotFound):
		return nil, from, nil
	case errors.As(err, &oe) && res != nil && from < res.Start:
		return nil, res.Start, nil // the records before start are gone: done
	case err != nil:
		return nil, from, fmt.Errorf("grpcapi: read %s/%d@%d: %w", topic, queue, from, err)
	}
	defer res.Release()
	var out []pop.Record[*remoting.MessageExt]
	for i := range res.Entries {
		e := &res.Entries[i]
		switch e.Kind {
		case log.KindRocketMQ:
			m, _, err := remoting.DecodeStoredMessage(bytes.Clone(e.Payload))
			if err != nil {
				s.log.Warn("grpcapi: stored message does not decode; skipped", "topic", topic, "queue", queue, "offset", e.QueueOffset, "err", err)
				continue
			}
			if e.QueueOffset >= from && f.keep(m.Properties) {
				out = append(out, pop.Record[*remoting.MessageExt]{Offset: e.QueueOffset, Msg: &m, Ordered: ordered(m.Properties)})
			}
		case log.KindKafka:
			ke := xproto.KafkaEntry{Topic: topic, QueueID: queue, Phys: e.Phys, StoreTime: e.StoreTime, StoreHost: s.storeHost}
			buf, _, err := xproto.ToRocketMQ(nil, e.Payload, ke, max(from, e.QueueOffset),
				func(_ string, props []byte) bool { return f.keep(props) })
			if err != nil {
				s.log.Warn("grpcapi: cannot convert a Kafka batch; skipped", "topic", topic, "queue", queue, "offset", e.QueueOffset, "err", err)
				continue
			}
			sc := remoting.NewStoredScanner(buf)
			for sc.Next() {
				m, _, err := remoting.DecodeStoredMessage(sc.Record())
				if err == nil && m.QueueOffset >= from {
					out = append(out, pop.Record[*remoting.MessageExt]{Offset: m.QueueOffset, Msg: &m, Ordered: ordered(m.Properties)})
				}
			}
		}
	}
	return out, res.Next, nil
}

// ordered reports whether a message is a FIFO message: it has a message
// group (__SHARDINGKEY, which Kafka records carry as a header too).
func ordered(props []byte) bool {
	g, ok := remoting.LookupProperty(props, propShardingKey)
	return ok && g != ""
}

// deadLetter stores a copy of m in the group's dead-letter topic
// (%DLQ%group, one queue, created on first use), as RocketMQ does after
// the last delivery attempt: same body, properties and message id, with
// DLQ_ORIGIN_TOPIC and DLQ_ORIGIN_MESSAGE_ID added.
func (s *Server) deadLetter(ctx context.Context, group string, m *remoting.MessageExt, attempts int32) error {
	dlq := dlqPrefix + group
	if _, err := s.ensureTopic(ctx, dlq, 1); err != nil {
		return fmt.Errorf("grpcapi: dead-letter topic %s: %w", dlq, err)
	}
	d := *m
	props := remoting.ParsePropertyList(m.Properties)
	props = applyEdit(props, delay.Edit{Key: propDLQTopic, Value: m.Topic})
	props = applyEdit(props, delay.Edit{Key: propDLQMsgID, Value: messageID(m)})
	d.Properties = remoting.AppendPropertyList(nil, props)
	d.Topic, d.QueueID, d.StoreHost, d.ReconsumeTimes = dlq, 0, s.storeHost, attempts
	d.SysFlag = d.SysFlag&^(remoting.SysFlagBornHostV6|remoting.SysFlagStoreHostV6) | remoting.HostSysFlags(d.BornHost, s.storeHost)
	if _, err := s.logs.Append(ctx, []log.Message{s.entry(&d)}); err != nil {
		return fmt.Errorf("grpcapi: dead-letter to %s: %w", dlq, err)
	}
	if s.metrics.retries != nil {
		s.metrics.retries.DeadLettered(group, m.Topic)
	}
	return nil
}

// ReceiveMessage acquires up to batch_size records of the topic for the
// group (every queue, from the one the request names on), each locked
// for the invisible duration, and streams them followed by an OK status.
// With nothing to deliver it long-polls: an append to any queue of the
// topic, or a lock that expires, wakes it; at the end of the polling time
// it answers MESSAGE_NOT_FOUND.
func (s *Server) ReceiveMessage(req *rmqpb.ReceiveMessageRequest, stream rmqpb.MessagingService_ReceiveMessageServer) error {
	ctx := stream.Context()
	fail := func(err error) error {
		return stream.Send(&rmqpb.ReceiveMessageResponse{Content: &rmqpb.ReceiveMessageResponse_Status{Status: status(err)}})
	}
	r, err := s.parseReceive(ctx, req)
	if err != nil {
		return fail(err)
	}
	for {
		ds, err := s.acquire(ctx, r)
		if err != nil && len(ds) == 0 {
			return fail(err)
		}
		if len(ds) > 0 {
			now := time.Now()
			for _, d := range ds {
				msg := s.toProto(d.Msg, d.Key.Queue, d.Offset, d.Handle, d.Lock.Attempts, r.invisible, r.lang)
				if err := stream.Send(&rmqpb.ReceiveMessageResponse{Content: &rmqpb.ReceiveMessageResponse_Message{Message: msg}}); err != nil {
					return err // the locks expire: the records come back
				}
				s.metrics.delivered(r.group, r.topic.Name, len(d.Msg.Body), d.Msg.StoreTimestamp, d.Lock.Attempts, now)
			}
			return stream.Send(&rmqpb.ReceiveMessageResponse{Content: &rmqpb.ReceiveMessageResponse_Status{Status: ok()}})
		}
		if !s.wait(ctx, r) {
			return fail(errf(errNotFound, "no new message"))
		}
	}
}

// receive is a checked ReceiveMessageRequest.
type receive struct {
	group     string
	topic     topics.Config
	first     int32
	batch     int
	invisible time.Duration
	filter    filter
	deadline  time.Time      // end of the long poll (wall clock)
	lang      rmqpb.Language // the client's, for body digests
}

func (s *Server) parseReceive(ctx context.Context, req *rmqpb.ReceiveMessageRequest) (*receive, error) {
	r := &receive{group: req.GetGroup().GetName(), lang: s.clientLanguage(ctx)}
	if err := validName(errIllegalGroup, r.group); err != nil {
		return nil, err
	}
	if s.metrics.consumeOff != nil && s.metrics.consumeOff(r.group) { // metrics.go: SetConsumeDisabled
		return nil, errf(errNoPermission, "subscription group no permission, %s", r.group)
	}
	name := req.GetMessageQueue().GetTopic().GetName()
	if err := validName(errIllegalTopic, name); err != nil {
		return nil, err
	}
	t, ok := s.topics.Get(name)
	if !ok {
		return nil, errf(errTopicNotFound, "topic %s", name)
	}
	if t.Perm&4 == 0 {
		return nil, errf(errNoPermission, "topic %s is not readable", name)
	}
	r.topic = t
	if b := req.GetBatchSize(); b <= 0 || b > s.cfg.MaxReceiveBatch {
		return nil, errf(errBadRequest, "batch size %d not in [1, %d]", b, s.cfg.MaxReceiveBatch)
	}
	r.batch = int(req.GetBatchSize())
	if id := req.GetMessageQueue().GetId(); id >= 0 && id < t.Queues {
		r.first = id
	}
	inv := req.GetInvisibleDuration()
	if req.GetAutoRenew() && (inv == nil || inv.AsDuration() == 0) {
		// A push consumer leaves the lock to the server (RocketMQ's proxy:
		// defaultInvisibleTimeMills, renewed while the client holds the
		// message; twinmq does not renew, docs/grpc.md).
		inv = durationpb.New(defaultAutoRenewInvisible)
	}
	if inv == nil || inv.CheckValid() != nil || inv.AsDuration() < s.cfg.MinInvisible || inv.AsDuration() > s.cfg.MaxInvisible {
		return nil, errf(errIllegalInvis, "invisible duration %v not in [%v, %v]", inv.AsDuration(), s.cfg.MinInvisible, s.cfg.MaxInvisible)
	}
	r.invisible = inv.AsDuration()
	f, err := parseFilter(req.GetFilterExpression())
	if err != nil {
		return nil, err
	}
	r.filter = f
	poll := s.cfg.MaxLongPolling
	if lp := req.GetLongPollingTimeout(); lp != nil {
		if lp.CheckValid() != nil || lp.AsDuration() < 0 || lp.AsDuration() > s.cfg.MaxLongPolling {
			return nil, fmt.Errorf("%w: long polling timeout %v over %v", errBadRequest, lp.AsDuration(), s.cfg.MaxLongPolling)
		}
		poll = lp.AsDuration()
	} else if d, ok := ctx.Deadline(); ok {
		// The v5 clients send no polling time; they wait for the answer
		// until their await duration plus their request timeout (3 s by
		// default): answer before that.
		left := time.Until(d)
		poll = min(poll, left-min(left/2, 3*time.Second))
	}
	r.deadline = time.Now().Add(max(poll, 0))
	return r, nil
}

// acquire takes records from the topic's queues, the requested one
// first, until the batch is full.
func (s *Server) acquire(ctx context.Context, r *receive) ([]pop.Delivery[*remoting.MessageExt], error) {
	var out []pop.Delivery[*remoting.MessageExt]
	var firstErr error
	for i := int32(0); i < r.topic.Queues && len(out) < r.batch; i++ {
		q := (r.first + i) % r.topic.Queues
		k := pop.Key{Group: r.group, Topic: r.topic.Name, Queue: q}
		ds, err := pop.Acquire(ctx, s.pop, k, r.batch-len(out), r.invisible, s.source(r.group, r.topic, q, r.filter))
		if err != nil && firstErr == nil {
			firstErr = err
		}
		out = append(out, ds...)
	}
	if len(out) == 0 {
		return nil, firstErr
	}
	return out, nil
}

// wait parks until something may be deliverable: an append past what
// the group has read of any queue, the earliest lock deadline, or the end
// of the long poll; it reports false at the end of the poll. The poll is
// real time; lock deadlines are on the engine's clock (Config.Now).
func (s *Server) wait(ctx context.Context, r *receive) bool {
	d := time.Until(r.deadline)
	if d <= 0 {
		return false
	}
	now := s.cfg.Now()
	for q := int32(0); q < r.topic.Queues; q++ {
		st, ok := s.pop.Status(pop.Key{Group: r.group, Topic: r.topic.Name, Queue: q})
		if ok && st.HasDeadline {
			d = min(d, max(time.UnixMilli(st.NextDeadline).Sub(now), time.Millisecond))
		}
	}
	wctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	stop := context.AfterFunc(s.ctx, cancel)
	defer stop()
	for q := int32(0); q < r.topic.Queues; q++ {
		st, ok := s.pop.Status(pop.Key{Group: r.group, Topic: r.topic.Name, Queue: q})
		if ok && st.InFlight >= s.pop.MaxInFlight() {
			continue // full: only an ack or an expiry frees it
		}
		at := st.Next
		if !ok {
			end, err := s.logs.End(r.topic.Name, q)
			if err != nil && !errors.Is(err, log.ErrQueueNotFound) {
				continue
			}
			at = end
		}
		go func() {
			if s.logs.WaitVisible(wctx, r.topic.Name, q, at) == nil {
				cancel()
			}
		}()
	}
	<-wctx.Done()
	return ctx.Err() == nil && s.ctx.Err() == nil
}
