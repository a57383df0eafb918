package remotingapi

import (
	"context"
	"errors"
	"strings"

	"github.com/twinmq/twinmq/broker/delay"
	"github.com/twinmq/twinmq/broker/subgroups"
	"github.com/twinmq/twinmq/nameserver"
	"github.com/twinmq/twinmq/netio"
	"github.com/twinmq/twinmq/wire/remoting"
)

// The subscription-group configs (package broker/subgroups): codes 200,
// 201 and 207, and where the broker reads them (a pull's consumeEnable
// and suggested broker, a send-back's maximum reconsume times).

// SetSubscriptionGroups makes the broker keep and enforce the configs of
// t. Without it (the default) every group has subgroups.Default's config
// and UPDATE_AND_CREATE_SUBSCRIPTIONGROUP is refused.
func (b *Broker) SetSubscriptionGroups(t *subgroups.Table) { b.subs.Store(t) }

// subGroup returns group's config (stored or default).
func (b *Broker) subGroup(group string) subgroups.Config {
	if t := b.subs.Load(); t != nil {
		c, _ := t.Get(group)
		return c
	}
	return subgroups.Default(group)
}

// updateAndCreateSubscriptionGroup (200, `mqadmin updateSubGroup`): the
// body is a SubscriptionGroupConfig; fields it lacks take Java's
// defaults. INVALID_PARAMETER for a bad group name (Java's remark), as
// AdminBrokerProcessor; on a slave, whose configs are its master's,
// SYSTEM_ERROR.
func (b *Broker) updateAndCreateSubscriptionGroup(ctx context.Context, _ *netio.Conn, req *remoting.Command) *remoting.Command {
	t := b.subs.Load()
	if t == nil {
		return remoting.NewResponse(req, remoting.SystemError, "this broker keeps no subscription-group configs")
	}
	c, err := subgroups.Decode(req.Body)
	if err != nil {
		return remoting.NewResponse(req, remoting.InvalidParameter, subgroups.Remark(err))
	}
	if err := t.Put(ctx, c); err != nil {
		if errors.Is(err, subgroups.ErrFollower) {
			return remoting.NewResponse(req, remoting.SystemError, "a slave's subscription groups are its master's: update the master")
		}
		return errorResponse(req, err)
	}
	return remoting.NewResponse(req, remoting.Success, "")
}

// deleteSubscriptionGroup (207, `mqadmin deleteSubGroup`): removes the
// group's config and, with cleanOffset, its committed offsets (both
// protocols': the offset table is one). A group with neither is SUCCESS,
// as Java answers.
func (b *Broker) deleteSubscriptionGroup(ctx context.Context, _ *netio.Conn, req *remoting.Command) *remoting.Command {
	e := ext{m: req.ExtFields}
	e.require("groupName")
	if e.err != nil {
		return errorResponse(req, e.err)
	}
	group := e.str("groupName")
	if t := b.subs.Load(); t != nil {
		if _, err := t.Delete(ctx, group); err != nil {
			if errors.Is(err, subgroups.ErrFollower) {
				return remoting.NewResponse(req, remoting.SystemError, "a slave's subscription groups are its master's: delete on the master")
			}
			return errorResponse(req, err)
		}
	}
	if e.boolean("cleanOffset") {
		if _, err := b.offsets.Delete(ctx, group, ""); err != nil {
			return errorResponse(req, err)
		}
	}
	return remoting.NewResponse(req, remoting.Success, "")
}

// getAllSubscriptionGroupConfig (201): SubscriptionGroupWrapper, the
// stored configs and, with Java's defaults, every other group that has
// members or committed offsets (Java would have auto-created theirs).
func (b *Broker) getAllSubscriptionGroupConfig(_ context.Context, _ *netio.Conn, req *remoting.Command) *remoting.Command {
	table := make(map[string]subgroups.Config)
	for _, list := range [][]string{b.clients.groupNames(), b.offsets.Groups()} {
		for _, g := range list {
			table[g] = subgroups.Default(g)
		}
	}
	if t := b.subs.Load(); t != nil {
		for _, c := range t.List() {
			table[c.GroupName] = c
		}
	}
	return jsonResponse(req, map[string]any{"subscriptionGroupTable": table,
		"dataVersion": nameserver.DataVersion{Timestamp: b.cfg.Now().UnixMilli()}})
}

// consumeForbidden is the answer to a pull of a group whose consumeEnable
// is off (PullMessageProcessor: NO_PERMISSION, forbiddenType
// GROUP_FORBIDDEN), or nil.
func (b *Broker) consumeForbidden(req *remoting.Command, group string) *remoting.Command {
	if t := b.subs.Load(); t == nil {
		return nil
	} else if c, ok := t.Get(group); !ok || c.ConsumeEnable {
		return nil
	}
	resp := remoting.NewResponse(req, remoting.NoPermission, "subscription group no permission, "+group)
	resp.ExtFields["forbiddenType"] = "2" // ForbiddenType.GROUP_FORBIDDEN
	return resp
}

// maxReconsumeTimes is a send-back's or %RETRY% send's maximum: the
// request's when it names one, else the group's retryMaxTimes
// (AbstractSendMessageProcessor).
func (b *Broker) maxReconsumeTimes(group string, requested int32) int32 {
	if requested != delay.UseDefaultMaxReconsumeTimes {
		return requested
	}
	if t := b.subs.Load(); t != nil {
		if c, ok := t.Get(group); ok {
			return c.RetryMaxTimes
		}
	}
	return requested
}

// countRetrySend counts a client's send to group's %RETRY% topic (the
// consumers' fallback when CONSUMER_SEND_MSG_BACK fails) as a retry of the
// topic the message was first consumed from (its RETRY_TOPIC), or, past
// the group's maximum reconsume times, a dead letter: m is the message as
// stored (delayEntry moved it to the DLQ, or to the delay level's queue).
func (b *Broker) countRetrySend(group string, m *remoting.MessageExt) {
	rm := b.retries.Load()
	if rm == nil || b.delay.Load() == nil {
		return
	}
	topic := delay.RetryTopic(group)
	if rt, ok := remoting.LookupProperty(m.Properties, delay.PropRetryTopic); ok && rt != "" {
		topic = rt
	}
	if m.Topic == delay.DLQTopic(group) {
		(*rm).DeadLettered(group, topic)
		return
	}
	(*rm).Retried(group, topic)
}

// retryGroup is the group of a %RETRY% topic, or "".
func retryGroup(topic string) string {
	g, _ := strings.CutPrefix(topic, delay.RetryPrefix)
	if g == topic {
		return ""
	}
	return g
}
