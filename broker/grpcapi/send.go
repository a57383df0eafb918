package grpcapi

import (
	"context"
	"errors"
	"hash/fnv"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"unicode"

	"google.golang.org/grpc/peer"

	"github.com/twinmq/twinmq/broker/delay"
	"github.com/twinmq/twinmq/broker/log"
	"github.com/twinmq/twinmq/wire/remoting"
	"github.com/twinmq/twinmq/wire/rmqpb"
)

// maxSendBatch bounds the messages of one SendMessage.
const maxSendBatch = 1024

// SendMessage stores the request's messages, all of one topic, in one
// append: ordinary twinmq messages in RocketMQ's stored encoding. A FIFO
// message goes to the queue its message group hashes to; a message with
// a delivery timestamp waits in the timer topic (TIMER_DELIVER_MS).
func (s *Server) SendMessage(ctx context.Context, req *rmqpb.SendMessageRequest) (*rmqpb.SendMessageResponse, error) {
	entries, ids, err := s.sendEntries(ctx, req)
	if err != nil {
		return &rmqpb.SendMessageResponse{Status: status(err)}, nil
	}
	pos, err := s.logs.Append(ctx, entries)
	if err != nil && !(len(pos) > 0 && (errors.Is(err, log.ErrReplicationTimeout) || errors.Is(err, log.ErrNotEnoughReplicasAfterAppend))) {
		return &rmqpb.SendMessageResponse{Status: status(err)}, nil
	}
	st := status(err) // replication not confirmed: stored, reported as such
	bytes := 0
	for _, m := range req.GetMessages() {
		bytes += len(m.GetBody())
	}
	s.metrics.countIn(req.GetMessages()[0].GetTopic().GetName(), len(pos), bytes)
	out := make([]*rmqpb.SendResultEntry, len(pos))
	for i, p := range pos {
		out[i] = &rmqpb.SendResultEntry{Status: st, MessageId: ids[i], Offset: p.QueueOffset}
	}
	return &rmqpb.SendMessageResponse{Status: st, Entries: out}, nil
}

// sendEntries checks the messages and builds their store entries.
func (s *Server) sendEntries(ctx context.Context, req *rmqpb.SendMessageRequest) ([]log.Message, []string, error) {
	msgs := req.GetMessages()
	if len(msgs) == 0 || len(msgs) > maxSendBatch {
		return nil, nil, errf(errBadRequest, "%d messages in one send, want 1..%d", len(msgs), maxSendBatch)
	}
	t, err := s.topic(ctx, msgs[0].GetTopic())
	if err != nil {
		return nil, nil, err
	}
	if t.Perm&2 == 0 {
		return nil, nil, errf(errNoPermission, "topic %s is not writable", t.Name)
	}
	born := bornHost(ctx)
	entries := make([]log.Message, len(msgs))
	ids := make([]string, len(msgs))
	for i, pm := range msgs {
		if pm.GetTopic().GetName() != t.Name {
			return nil, nil, errf(errBadRequest, "one send holds topics %s and %s", t.Name, pm.GetTopic().GetName())
		}
		m, err := s.storedMessage(pm, t.Queues, born)
		if err != nil {
			return nil, nil, err
		}
		ids[i] = messageID(m)
		if entries[i], err = s.place(m); err != nil {
			return nil, nil, err
		}
	}
	return entries, ids, nil
}

// bornHost is the client's address as the connection shows it.
func bornHost(ctx context.Context) netip.AddrPort {
	if p, ok := peer.FromContext(ctx); ok {
		if ta, ok := p.Addr.(*net.TCPAddr); ok {
			return ta.AddrPort()
		}
	}
	return netip.AddrPortFrom(netip.IPv4Unspecified(), 0)
}

// storedMessage checks one message and returns its stored form.
func (s *Server) storedMessage(pm *rmqpb.Message, queues int32, born netip.AddrPort) (*remoting.MessageExt, error) {
	sp := pm.GetSystemProperties()
	if len(pm.GetBody()) == 0 {
		return nil, errf(errBodyEmpty, "message body is empty")
	}
	if len(pm.GetBody()) > s.cfg.MaxMessageSize {
		return nil, errf(errBodyTooLarge, "body of %d bytes over %d", len(pm.GetBody()), s.cfg.MaxMessageSize)
	}
	if sp.GetBodyEncoding() == rmqpb.Encoding_GZIP {
		return nil, errf(errUnsupported, "GZIP body encoding")
	}
	var props []byte
	for k, v := range pm.GetUserProperties() {
		if !clean(k) || strings.ContainsAny(v, "\x01\x02") || systemProps[k] {
			return nil, errf(errIllegalProperty, "user property %q", k)
		}
		props = remoting.AppendProperty(props, k, v)
	}
	if sp.Tag != nil {
		if !clean(sp.GetTag()) || strings.Contains(sp.GetTag(), "|") || strings.TrimSpace(sp.GetTag()) == "" {
			return nil, errf(errIllegalTag, "tag %q", sp.GetTag())
		}
		props = remoting.AppendProperty(props, propTags, sp.GetTag())
	}
	if keys := sp.GetKeys(); len(keys) > 0 {
		for _, k := range keys {
			// Keys are stored space-separated and read back with
			// strings.Fields: no whitespace of any kind inside one.
			if !clean(k) || strings.ContainsFunc(k, unicode.IsSpace) {
				return nil, errf(errIllegalProperty, "message key %q", k)
			}
		}
		props = remoting.AppendProperty(props, propKeys, strings.Join(keys, " "))
	}
	id := sp.GetMessageId()
	if id == "" {
		id = s.uniq.Next()
	} else if !clean(id) || len(id) > 128 {
		return nil, errf(errBadRequest, "message id %q", id)
	}
	props = remoting.AppendProperty(props, propUniqKey, id)
	queue := rand.Int32N(queues)
	if sp.MessageGroup != nil {
		g := sp.GetMessageGroup()
		if !clean(g) || len(g) > 64 {
			return nil, errf(errBadRequest, "message group %q", g)
		}
		props = remoting.AppendProperty(props, propShardingKey, g)
		h := fnv.New32a()
		h.Write([]byte(g))
		queue = int32(h.Sum32() % uint32(queues))
	}
	if ts := sp.GetDeliveryTimestamp(); ts != nil {
		if s.cfg.Delay == nil {
			return nil, errf(errIllegalDelivery, "delay and timer messages are disabled")
		}
		if err := ts.CheckValid(); err != nil {
			return nil, errf(errIllegalDelivery, "%v", err)
		}
		props = remoting.AppendProperty(props, propTimerDeliver, strconv.FormatInt(ts.AsTime().UnixMilli(), 10))
	}
	if tc := sp.GetTraceContext(); tc != "" && clean(tc) {
		props = remoting.AppendProperty(props, propTraceContext, tc)
	}
	if len(props) > remoting.MaxPropertiesLen {
		return nil, errf(errIllegalProperty, "properties of %d bytes over %d", len(props), remoting.MaxPropertiesLen)
	}
	bornMs := s.cfg.Now().UnixMilli()
	if ts := sp.GetBornTimestamp(); ts != nil && ts.IsValid() {
		bornMs = ts.AsTime().UnixMilli()
	}
	m := &remoting.MessageExt{QueueID: queue, BornTimestamp: bornMs, BornHost: born, StoreHost: s.storeHost,
		Body: pm.GetBody(), Topic: pm.GetTopic().GetName(), Properties: props}
	m.SysFlag = remoting.HostSysFlags(born, s.storeHost)
	return m, nil
}

// place routes m through the delay policy (a TIMER_DELIVER_MS message
// waits in the timer topic) and returns its store entry.
func (s *Server) place(m *remoting.MessageExt) (log.Message, error) {
	if s.cfg.Delay == nil {
		return s.entry(m), nil
	}
	raw := m.Properties
	pl, err := s.cfg.Delay.Place(func(k string) (string, bool) { return remoting.LookupProperty(raw, k) }, m.Topic, m.QueueID, s.cfg.Now())
	if err != nil {
		if errors.Is(err, delay.ErrTimerIllegal) || errors.Is(err, delay.ErrBadProperty) || errors.Is(err, delay.ErrTimerDisabled) {
			return log.Message{}, errf(errIllegalDelivery, "%v", err)
		}
		return log.Message{}, err
	}
	if len(pl.Edits) > 0 {
		props := remoting.ParsePropertyList(raw)
		for _, e := range pl.Edits {
			props = applyEdit(props, e)
		}
		m.Properties = remoting.AppendPropertyList(nil, props)
		if len(m.Properties) > remoting.MaxPropertiesLen {
			return log.Message{}, errf(errIllegalProperty, "properties too long")
		}
	}
	m.Topic, m.QueueID = pl.Topic, pl.Queue
	e := s.entry(m)
	if pl.Route != delay.RouteNormal {
		e.TagsCodes = []int64{pl.DueMs} // the delay services read the due time here
	}
	return e, nil
}

func applyEdit(props []remoting.Property, e delay.Edit) []remoting.Property {
	for i := range props {
		if props[i].Key == e.Key {
			if e.Delete {
				return append(props[:i], props[i+1:]...)
			}
			props[i].Value = e.Value
			return props
		}
	}
	if !e.Delete {
		props = append(props, remoting.Property{Key: e.Key, Value: e.Value})
	}
	return props
}

// entry encodes m as a store entry whose Encode callback patches the
// queue offset, CommitLog offset and store time under the append lock
// (as the remoting adapter's sends).
func (s *Server) entry(m *remoting.MessageExt) log.Message {
	payload, tags, keys := remoting.StoreParts(m)
	return log.Message{Kind: log.KindRocketMQ, Topic: m.Topic, QueueID: m.QueueID, Count: 1,
		TagsCodes: tags, Keys: keys, Payload: payload,
		Encode: func(p []byte, phys, queueOffset, storeTime int64) {
			_ = remoting.PatchStored(p, queueOffset, phys, storeTime) // p is the entry's own copy: long enough
		}}
}
