package remotingapi

import (
	"context"
	"errors"
	"fmt"

	"github.com/twinmq/twinmq/broker/delay"
	"github.com/twinmq/twinmq/broker/log"
	"github.com/twinmq/twinmq/netio"
	"github.com/twinmq/twinmq/wire/remoting"
)

// Delay, timer, retry and DLQ support (issue 6, docs/rocketmq-protocol.md §2.8, §6.1-6.3): the
// decisions live in broker/delay; this file applies them to RocketMQ's
// stored-message encoding.

// delayHook is the delay policy of a Broker; nil until EnableDelay.
type delayHook struct {
	policy delay.Policy
}

// EnableDelay turns on delay-level and timer routing on SEND_MESSAGE and
// answers CONSUMER_SEND_MSG_BACK (36) (before, 36 is not supported). The
// delay.Scheduler and timer.Service that deliver the messages take
// DelayBuild as their Build.
func (b *Broker) EnableDelay(p delay.Policy) {
	p.Validate()
	b.delay.Store(&delayHook{policy: p})
}

// applyEdits applies property edits to a property list, keeping the
// client's order.
func applyEdits(props []remoting.Property, edits []delay.Edit) []remoting.Property {
	for _, e := range edits {
		i := 0
		for i < len(props) && props[i].Key != e.Key {
			i++
		}
		switch {
		case e.Delete && i < len(props):
			props = append(props[:i], props[i+1:]...)
		case !e.Delete && i < len(props):
			props[i].Value = e.Value
		case !e.Delete:
			props = append(props, remoting.Property{Key: e.Key, Value: e.Value})
		}
	}
	return props
}

func lookupIn(raw []byte) delay.Lookup {
	return func(k string) (string, bool) { return remoting.LookupProperty(raw, k) }
}

// delayEntry is the store entry of a message being sent: routed to
// SCHEDULE_TOPIC_XXXX or the timer topic when its properties ask for a
// delay (Java's put hooks), else b.entry(m). A %RETRY% send over its
// maximum reconsume times goes to the group's DLQ (docs/rocketmq-protocol.md §2.4 step 4).
func (b *Broker) delayEntry(ctx context.Context, m *remoting.MessageExt, reconsumeTimes, maxReconsumeTimes int32) (log.Message, error) {
	hook := b.delay.Load()
	if hook == nil || m.SysFlag&remoting.SysFlagTransactionMask == remoting.SysFlagTransactionPrepared {
		return b.entry(m), nil
	}
	// The properties are stored re-encoded (well-formed items only, each
	// ended by 0x02). Most clients' strings are that already and are kept
	// as they are; the list is parsed only when something must change.
	var props []remoting.Property
	raw := m.Properties
	if dlq, edits, ok := delay.DecideRetrySend(delay.RetrySend{Topic: m.Topic, ReconsumeTimes: reconsumeTimes, MaxReconsumeTimes: maxReconsumeTimes}); ok {
		if _, err := b.ensureTopic(ctx, dlq, delay.DLQQueues); err != nil {
			return log.Message{}, err
		}
		m.Topic, m.QueueID = dlq, 0
		props = applyEdits(remoting.ParsePropertyList(raw), edits)
		raw = remoting.AppendPropertyList(nil, props)
	} else if !remoting.IsCanonicalProperties(raw) {
		props = remoting.ParsePropertyList(raw)
		raw = remoting.AppendPropertyList(nil, props)
	}
	pl, err := hook.policy.Place(lookupIn(raw), m.Topic, m.QueueID, b.cfg.Now())
	if err != nil {
		if errors.Is(err, delay.ErrTimerIllegal) || errors.Is(err, delay.ErrBadProperty) {
			return log.Message{}, fmt.Errorf("%w: %w", errMessageIllegal, err)
		}
		return log.Message{}, err
	}
	if len(pl.Edits) > 0 {
		if props == nil {
			props = remoting.ParsePropertyList(raw)
		}
		raw = remoting.AppendPropertyList(nil, applyEdits(props, pl.Edits))
		if len(raw) > remoting.MaxPropertiesLen {
			return log.Message{}, fmt.Errorf("%w: properties too long", errMessageIllegal)
		}
	}
	m.Properties, m.Topic, m.QueueID = raw, pl.Topic, pl.Queue
	e := b.entry(m)
	if pl.Route != delay.RouteNormal {
		e.TagsCodes = []int64{pl.DueMs} // the services read the due time here
	}
	return e, nil
}

// consumerSendMsgBack answers CONSUMER_SEND_MSG_BACK (36, docs/rocketmq-protocol.md §2.8).
func (b *Broker) consumerSendMsgBack(ctx context.Context, _ *netio.Conn, req *remoting.Command) *remoting.Command {
	if b.delay.Load() == nil {
		return remoting.NotSupported(req)
	}
	e := ext{m: req.ExtFields}
	e.require("offset", "group")
	offset, group := e.i64("offset", -1), e.str("group")
	level, maxTimes := e.i32("delayLevel", 0), e.i32("maxReconsumeTimes", delay.UseDefaultMaxReconsumeTimes)
	originTopic := e.str("originTopic")
	if e.err != nil {
		return errorResponse(req, e.err)
	}
	if ids, _ := b.clients.members(group); len(ids) == 0 {
		return remoting.NewResponse(req, remoting.SubscriptionGroupNotExist,
			fmt.Sprintf("subscription group not exist, %s", group))
	}
	orig, err := b.lookMessage(offset)
	if err != nil {
		return errorResponse(req, err)
	}
	if originTopic != "" && !sameOrigin(&orig, originTopic, group) {
		return errorResponse(req, fmt.Errorf("%w: message at %d is not from topic %s", errInvalidParameter, offset, originTopic))
	}
	d := delay.DecideSendBack(delay.SendBack{
		Group: group, Topic: orig.Topic, Props: lookupIn(orig.Properties), ReconsumeTimes: orig.ReconsumeTimes,
		// The group's retryMaxTimes unless the request names a maximum
		// (subgroups.go).
		MaxReconsumeTimes: b.maxReconsumeTimes(group, maxTimes), DelayLevel: level, OffsetMsgID: orig.OffsetMsgID(),
	})
	queues := int32(delay.RetryQueues)
	if d.DLQ {
		queues = delay.DLQQueues
	}
	if _, err := b.ensureTopic(ctx, d.Topic, queues); err != nil {
		return errorResponse(req, err)
	}
	m := orig
	m.Topic, m.QueueID, m.ReconsumeTimes, m.StoreHost = d.Topic, 0, d.ReconsumeTimes, b.storeHost
	m.SysFlag = m.SysFlag&^remoting.SysFlagStoreHostV6 | remoting.HostSysFlags(m.BornHost, b.storeHost)&remoting.SysFlagStoreHostV6
	m.Properties = remoting.AppendPropertyList(nil, applyEdits(remoting.ParsePropertyList(orig.Properties), d.Edits))
	entry, err := b.delayEntry(ctx, &m, 0, delay.UseDefaultMaxReconsumeTimes)
	if err == nil {
		_, err = b.logs.Append(ctx, []log.Message{entry})
	}
	if err != nil {
		return errorResponse(req, fmt.Errorf("store: %w", err))
	}
	topic := orig.Topic
	if rt, ok := remoting.LookupProperty(orig.Properties, delay.PropRetryTopic); ok && rt != "" {
		topic = rt
	}
	b.statsSentBack(group, topic) // admin_brokerstats.go
	if rm := b.retries.Load(); rm != nil {
		if d.DLQ {
			(*rm).DeadLettered(group, topic)
		} else {
			(*rm).Retried(group, topic)
		}
	}
	return remoting.NewResponse(req, remoting.Success, "")
}

// sameOrigin reports whether a send-back's originTopic names the message:
// its topic, its RETRY_TOPIC, or (for a retried message) the group's retry
// topic.
func sameOrigin(m *remoting.MessageExt, originTopic, group string) bool {
	if m.Topic == originTopic || m.Topic == delay.RetryTopic(group) {
		return true
	}
	rt, ok := remoting.LookupProperty(m.Properties, delay.PropRetryTopic)
	return ok && rt == originTopic
}
