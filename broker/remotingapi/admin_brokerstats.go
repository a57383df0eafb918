package remotingapi

import (
	"context"
	"fmt"

	"github.com/twinmq/twinmq/broker/stats"
	"github.com/twinmq/twinmq/netio"
	"github.com/twinmq/twinmq/wire/remoting"
)

// viewBrokerStatsData is RequestCode.VIEW_BROKER_STATS_DATA.
const viewBrokerStatsData int32 = 315

// SetStats makes the broker record its pulls and send-backs in t
// (GROUP_GET_NUMS, GROUP_GET_SIZE, BROKER_GET_NUMS, SNDBCK_PUT_NUMS; the
// puts of every protocol are recorded by whoever counts topic traffic)
// and answer VIEW_BROKER_STATS_DATA from it.
func (b *Broker) SetStats(t *stats.Table) { b.stats.Store(t) }

// statsGot records a pull that found messages.
func (b *Broker) statsGot(group, topic string, messages, bytes int) {
	t := b.stats.Load()
	if t == nil {
		return
	}
	now := b.cfg.Now()
	key := stats.Key(topic, group)
	t.Add(stats.GroupGetNums, key, int64(messages), 1, now)
	t.Add(stats.GroupGetSize, key, int64(bytes), 1, now)
	t.Add(stats.BrokerGetNums, b.cfg.ClusterName, int64(messages), 0, now)
}

// statsSentBack records a send-back of group's message of topic.
func (b *Broker) statsSentBack(group, topic string) {
	if t := b.stats.Load(); t != nil {
		t.Add(stats.SndbckPutNums, stats.Key(topic, group), 1, 1, b.cfg.Now())
	}
}

// viewBrokerStatsDataHandler (315, `mqadmin statsAll`, rocketmq-dashboard):
// header statsName and statsKey (ViewBrokerStatsDataRequestHeader); the
// body is BrokerStatsData, the minute's, hour's and day's sum, tps and
// avgpt (package broker/stats). An item never recorded is SYSTEM_ERROR
// with Java's remark.
func (b *Broker) viewBrokerStatsDataHandler(_ context.Context, _ *netio.Conn, req *remoting.Command) *remoting.Command {
	e := ext{m: req.ExtFields}
	e.require("statsName", "statsKey")
	if e.err != nil {
		return errorResponse(req, e.err)
	}
	name, key := e.str("statsName"), e.str("statsKey")
	var d stats.Data
	ok := false
	if t := b.stats.Load(); t != nil {
		d, ok = t.Get(name, key)
	}
	if !ok {
		return remoting.NewResponse(req, remoting.SystemError, fmt.Sprintf("The stats <%s> <%s> not exist", name, key))
	}
	return jsonResponse(req, d)
}
