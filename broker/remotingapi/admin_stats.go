package remotingapi

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/twinmq/twinmq/broker/offsets"
	"github.com/twinmq/twinmq/broker/topics"
	"github.com/twinmq/twinmq/nameserver"
	"github.com/twinmq/twinmq/netio"
	"github.com/twinmq/twinmq/wire/remoting"
)

// Admin request codes that mqadmin and rocketmq-dashboard send to a
// broker (RequestCode.java), answered in admin_*.go.
const (
	getAllConsumerOffset             int32 = 43  // GET_ALL_CONSUMER_OFFSET
	getTopicStatsInfo                int32 = 202 // GET_TOPIC_STATS_INFO
	getConsumerConnectionList        int32 = 203 // GET_CONSUMER_CONNECTION_LIST
	getProducerConnectionList        int32 = 204 // GET_PRODUCER_CONNECTION_LIST
	deleteSubscriptionGroup          int32 = 207 // DELETE_SUBSCRIPTIONGROUP
	updateAndCreateSubscriptionGroup int32 = 200 // UPDATE_AND_CREATE_SUBSCRIPTIONGROUP
	getConsumeStats                  int32 = 208 // GET_CONSUME_STATS
	getBrokerConsumeStats            int32 = 317 // GET_BROKER_CONSUME_STATS
	queryTopicConsumeByWho           int32 = 300 // QUERY_TOPIC_CONSUME_BY_WHO
	queryConsumeTimeSpan             int32 = 303 // QUERY_CONSUME_TIME_SPAN
	resetConsumerClientOffset              = remoting.ResetConsumerClientOffset
	consumerNotOnlineRemarkFmt             = "the consumer group[%s] not online"
)

// adminHandlers are the admin codes' entries of the dispatch table.
func (b *Broker) adminHandlers() map[int32]handlerFunc {
	return map[int32]handlerFunc{
		getAllConsumerOffset:             b.getAllConsumerOffset,
		getTopicStatsInfo:                b.getTopicStatsInfo,
		getConsumerConnectionList:        b.getConsumerConnectionList,
		getProducerConnectionList:        b.getProducerConnectionList,
		deleteSubscriptionGroup:          b.deleteSubscriptionGroup, // subgroups.go
		updateAndCreateSubscriptionGroup: b.updateAndCreateSubscriptionGroup,
		viewBrokerStatsData:              b.viewBrokerStatsDataHandler, // admin_brokerstats.go
		getConsumeStats:                  b.getConsumeStats,
		getBrokerConsumeStats:            b.getBrokerConsumeStats,
		InvokeBrokerToResetOffset:        b.invokeBrokerToResetOffset,
		queryTopicConsumeByWho:           b.queryTopicConsumeByWho,
		queryConsumeTimeSpan:             b.queryConsumeTimeSpan,
		updateBrokerConfig:               b.updateBrokerConfigHandler, // admin_config.go
		remoting.GetConsumerRunningInfo:  b.getConsumerRunningInfo,    // admin_relay.go
		remoting.ConsumeMessageDirectly:  b.consumeMessageDirectly,
	}
}

// mq is this broker's message queue q of topic.
func (b *Broker) mq(topic string, q int32) MessageQueue {
	return MessageQueue{BrokerName: b.cfg.BrokerName, QueueID: q, Topic: topic}
}

// storeTime is the store time of offset in (topic, q), 0 if it has none
// (Java's getMessageStoreTimeStamp answers -1 there; its callers keep 0).
func (b *Broker) storeTime(topic string, q int32, offset int64) int64 {
	if offset < 0 {
		return 0
	}
	ts, err := b.store.StoreTime(topic, q, offset)
	if err != nil {
		return 0
	}
	return ts
}

// topicOf returns the topic config named by the request's "topic" field,
// or the response refusing it (TOPIC_NOT_EXIST as Java words it).
func (b *Broker) topicOf(req *remoting.Command) (topics.Config, *remoting.Command) {
	e := ext{m: req.ExtFields}
	e.require("topic")
	if e.err != nil {
		return topics.Config{}, errorResponse(req, e.err)
	}
	name := e.str("topic")
	t, ok := b.topics.Get(name)
	if !ok {
		return t, remoting.NewResponse(req, remoting.TopicNotExist, "topic["+name+"] not exist")
	}
	return t, nil
}

// getTopicStatsInfo (202): TopicStatsTable.java, each queue's min and max
// offsets and the store time of its last message (mqadmin topicStatus).
func (b *Broker) getTopicStatsInfo(_ context.Context, _ *netio.Conn, req *remoting.Command) *remoting.Command {
	t, refused := b.topicOf(req)
	if refused != nil {
		return refused
	}
	entries := make([]mqEntry, 0, t.Queues)
	for q := range t.Queues {
		lo, hi, err := b.queueRange(t.Name, q)
		if err != nil {
			return errorResponse(req, err)
		}
		var last int64
		if hi > 0 {
			last = b.storeTime(t.Name, q, hi-1)
		}
		v := fmt.Appendf(nil, `{"lastUpdateTimestamp":%d,"maxOffset":%d,"minOffset":%d}`, last, hi, lo)
		entries = append(entries, mqEntry{b.mq(t.Name, q), v})
	}
	body := append([]byte(`{"offsetTable":`), appendMQMap(nil, entries)...)
	body = append(body, `,"topicPutTps":0.0}`...)
	return bodyResponse(req, body)
}

// bodyResponse is a SUCCESS response carrying body.
func bodyResponse(req *remoting.Command, body []byte) *remoting.Command {
	resp := remoting.NewResponse(req, remoting.Success, "")
	resp.Body = body
	return resp
}

// OffsetWrapper is OffsetWrapper.java, a value of ConsumeStats.offsetTable.
type OffsetWrapper struct {
	BrokerOffset   int64 `json:"brokerOffset"`
	ConsumerOffset int64 `json:"consumerOffset"`
	PullOffset     int64 `json:"pullOffset"`
	LastTimestamp  int64 `json:"lastTimestamp"`
}

// getConsumeStats (208): ConsumeStats.java for consumerGroup on topic, on
// the topics of topicList (';'-separated), or, with neither, on every
// topic the group has committed offsets on (Java's
// getTopicsForCollectingConsumeStats). consumeTps is 0: twinmq keeps no
// per-group rate. This is mqadmin consumerProgress and the console's
// consumer page.
func (b *Broker) getConsumeStats(_ context.Context, _ *netio.Conn, req *remoting.Command) *remoting.Command {
	e := ext{m: req.ExtFields}
	e.require("consumerGroup")
	if e.err != nil {
		return errorResponse(req, e.err)
	}
	group := e.str("consumerGroup")
	var names []string
	switch {
	case strings.Trim(e.str("topicList"), "; ") != "":
		for _, s := range strings.Split(e.str("topicList"), ";") {
			if s = strings.TrimSpace(s); s != "" {
				names = append(names, s)
			}
		}
	case e.str("topic") != "":
		names = []string{e.str("topic")}
	default:
		names = b.groupTopics(group)
	}
	body, _, err := b.consumeStats(group, names)
	if err != nil {
		return errorResponse(req, err)
	}
	return bodyResponse(req, body)
}

// consumeStats is ConsumeStats.java for group on the topics of names
// (missing ones skipped, as Java), and its total diff (broker offset
// minus consumer offset, summed).
func (b *Broker) consumeStats(group string, names []string) ([]byte, int64, error) {
	var entries []mqEntry
	var diff int64
	for _, name := range slices.Compact(slices.Sorted(slices.Values(names))) {
		t, ok := b.topics.Get(name)
		if !ok {
			continue // as Java: skipped, not an error
		}
		for q := range t.Queues {
			_, hi, err := b.queueRange(name, q)
			if err != nil {
				return nil, 0, err
			}
			cur, _ := b.offsets.Fetch(group, name, q)
			cur = max(cur, 0)
			w := OffsetWrapper{BrokerOffset: hi, ConsumerOffset: cur, PullOffset: cur, LastTimestamp: b.storeTime(name, q, cur-1)}
			v := fmt.Appendf(nil, `{"brokerOffset":%d,"consumerOffset":%d,"lastTimestamp":%d,"pullOffset":%d}`,
				w.BrokerOffset, w.ConsumerOffset, w.LastTimestamp, w.PullOffset)
			entries = append(entries, mqEntry{b.mq(name, q), v})
			diff += w.BrokerOffset - w.ConsumerOffset
		}
	}
	body := append([]byte(`{"consumeTps":0.0,"offsetTable":`), appendMQMap(nil, entries)...)
	return append(body, '}'), diff, nil
}

// getBrokerConsumeStats (317): ConsumeStatsList.java, for every group
// (those GET_ALL_SUBSCRIPTIONGROUP_CONFIG lists) one ConsumeStats per
// topic it has committed offsets on, and the total diff: what the
// console's dashboard and mqadmin's monitoring read. isOrder=true lists
// no topic: twinmq topics carry no order flag. totalInflightDiff is 0
// (pull offsets are the consumer offsets).
func (b *Broker) getBrokerConsumeStats(_ context.Context, _ *netio.Conn, req *remoting.Command) *remoting.Command {
	e := ext{m: req.ExtFields}
	isOrder := e.boolean("isOrder")
	groups := slices.Compact(slices.Sorted(slices.Values(append(b.clients.groupNames(), b.offsets.Groups()...))))
	body := []byte(`{"brokerAddr":`)
	body = appendJSONString(body, b.storeHost.String())
	body = append(body, `,"consumeStatsList":[`...)
	var total int64
	for i, g := range groups {
		if i > 0 {
			body = append(body, ',')
		}
		body = append(body, '{')
		body = appendJSONString(body, g)
		body = append(body, ":["...)
		if !isOrder {
			topics := slices.Compact(slices.Sorted(slices.Values(topicsOf(b.offsets.List(g, "")))))
			for j, t := range topics {
				cs, diff, err := b.consumeStats(g, []string{t})
				if err != nil {
					return errorResponse(req, err)
				}
				if j > 0 {
					body = append(body, ',')
				}
				body = append(body, cs...)
				total += diff
			}
		}
		body = append(body, "]}"...)
	}
	body = fmt.Appendf(body, `],"totalDiff":%d,"totalInflightDiff":0}`, total)
	return bodyResponse(req, body)
}

// topicsOf is the topic of each entry.
func topicsOf(es []offsets.Entry) []string {
	out := make([]string, len(es))
	for i, en := range es {
		out[i] = en.Topic
	}
	return out
}

// groupTopics returns the topics group has committed offsets on, or
// subscribes to through a live member.
func (b *Broker) groupTopics(group string) []string {
	seen := make(map[string]bool)
	for _, en := range b.offsets.List(group, "") {
		seen[en.Topic] = true
	}
	b.clients.mu.Lock()
	for _, m := range b.clients.groups[group] {
		for t := range m.subs {
			seen[t] = true
		}
	}
	b.clients.mu.Unlock()
	return slices.Sorted(maps.Keys(seen))
}

// queryTopicConsumeByWho (300): GroupList.java, the groups with a live
// member subscribed to topic or with committed offsets on it (mqadmin
// topicStatus, the console's topic page).
func (b *Broker) queryTopicConsumeByWho(_ context.Context, _ *netio.Conn, req *remoting.Command) *remoting.Command {
	e := ext{m: req.ExtFields}
	e.require("topic")
	if e.err != nil {
		return errorResponse(req, e.err)
	}
	topic := e.str("topic")
	groups := make(map[string]bool)
	for _, en := range b.offsets.List("", topic) {
		groups[en.Group] = true
	}
	b.clients.mu.Lock()
	for g, ms := range b.clients.groups {
		for _, m := range ms {
			if _, ok := m.subs[topic]; ok {
				groups[g] = true
			}
		}
	}
	b.clients.mu.Unlock()
	return jsonResponse(req, map[string][]string{"groupList": slices.Sorted(maps.Keys(groups))})
}

// QueueTimeSpan is QueueTimeSpan.java, one queue of QUERY_CONSUME_TIME_SPAN.
type QueueTimeSpan struct {
	MessageQueue     MessageQueue `json:"messageQueue"`
	MinTimeStamp     int64        `json:"minTimeStamp"`
	MaxTimeStamp     int64        `json:"maxTimeStamp"`
	ConsumeTimeStamp int64        `json:"consumeTimeStamp"`
	DelayTime        int64        `json:"delayTime"`
}

// queryConsumeTimeSpan (303): QueryConsumeTimeSpanBody.java, per queue of
// topic the store times of its first and last messages, of the last one
// group consumed, and how long ago the next one to consume was stored
// (mqadmin queryCq's neighbour consumerProgress -s).
func (b *Broker) queryConsumeTimeSpan(_ context.Context, _ *netio.Conn, req *remoting.Command) *remoting.Command {
	t, refused := b.topicOf(req)
	if refused != nil {
		return refused
	}
	group := req.ExtFields["group"]
	now := b.cfg.Now().UnixMilli()
	spans := make([]QueueTimeSpan, 0, t.Queues)
	for q := range t.Queues {
		lo, hi, err := b.queueRange(t.Name, q)
		if err != nil {
			return errorResponse(req, err)
		}
		s := QueueTimeSpan{MessageQueue: b.mq(t.Name, q), MinTimeStamp: b.storeTime(t.Name, q, lo),
			MaxTimeStamp: b.storeTime(t.Name, q, hi-1)}
		cur, _ := b.offsets.Fetch(group, t.Name, q)
		s.ConsumeTimeStamp = s.MinTimeStamp
		if cur > 0 {
			s.ConsumeTimeStamp = b.storeTime(t.Name, q, cur-1)
		}
		if cur < hi {
			if next := b.storeTime(t.Name, q, max(cur, lo)); next > 0 {
				s.DelayTime = now - next
			}
		}
		spans = append(spans, s)
	}
	return jsonResponse(req, map[string]any{"consumeTimeSpanSet": spans})
}

// getAllConsumerOffset (43): ConsumerOffsetSerializeWrapper.java, every
// committed offset keyed "topic@group" then by queue id, as a slave of a
// Java master fetches it (and mqadmin cloneGroupOffset reads it).
func (b *Broker) getAllConsumerOffset(_ context.Context, _ *netio.Conn, req *remoting.Command) *remoting.Command {
	table := make(map[string]map[string]int64)
	for _, en := range b.offsets.List("", "") {
		k := en.Topic + "@" + en.Group
		if table[k] == nil {
			table[k] = make(map[string]int64)
		}
		table[k][strconv.Itoa(int(en.Queue))] = en.Offset
	}
	if len(table) == 0 {
		return remoting.NewResponse(req, remoting.SystemError, "No consumer offset in this broker")
	}
	return jsonResponse(req, map[string]any{"offsetTable": table,
		"dataVersion": nameserver.DataVersion{Timestamp: b.cfg.Now().UnixMilli()}})
}

// Connection is Connection.java, one client of a ConsumerConnection or
// ProducerConnection body.
type Connection struct {
	ClientAddr string `json:"clientAddr"`
	ClientID   string `json:"clientId"`
	Language   string `json:"language"`
	Version    int32  `json:"version"`
}

// JavaSubscriptionData is SubscriptionData.java as the broker reports
// it in ConsumerConnection.subscriptionTable.
type JavaSubscriptionData struct {
	ClassFilterMode bool     `json:"classFilterMode"`
	CodeSet         []int32  `json:"codeSet"`
	ExpressionType  string   `json:"expressionType"`
	SubString       string   `json:"subString"`
	SubVersion      int64    `json:"subVersion"`
	TagsSet         []string `json:"tagsSet"`
	Topic           string   `json:"topic"`
}

// ConsumerConnection is ConsumerConnection.java.
type ConsumerConnection struct {
	ConnectionSet     []Connection                    `json:"connectionSet"`
	ConsumeFromWhere  string                          `json:"consumeFromWhere"`
	ConsumeType       string                          `json:"consumeType"`
	MessageModel      string                          `json:"messageModel"`
	SubscriptionTable map[string]JavaSubscriptionData `json:"subscriptionTable"`
}

// getConsumerConnectionList (203): the group's live clients, their
// addresses, languages and versions, and its subscriptions (mqadmin
// consumerConnection, the console's "client" view); CONSUMER_NOT_ONLINE
// (206) for a group without live members, as Java.
func (b *Broker) getConsumerConnectionList(_ context.Context, _ *netio.Conn, req *remoting.Command) *remoting.Command {
	e := ext{m: req.ExtFields}
	e.require("consumerGroup")
	if e.err != nil {
		return errorResponse(req, e.err)
	}
	group := e.str("consumerGroup")
	b.clients.mu.Lock()
	ms := b.clients.groups[group]
	cc := ConsumerConnection{ConnectionSet: []Connection{}, SubscriptionTable: make(map[string]JavaSubscriptionData)}
	for _, id := range slices.Sorted(maps.Keys(ms)) {
		m := ms[id]
		cc.ConnectionSet = append(cc.ConnectionSet, connectionOf(id, m.conn, m.info))
		cc.ConsumeFromWhere, cc.ConsumeType, cc.MessageModel = m.data.ConsumeFromWhere, m.data.ConsumeType, m.data.MessageModel
		for _, s := range m.data.SubscriptionDataSet {
			tags := s.TagsSet
			if tags == nil {
				tags = []string{}
			}
			cc.SubscriptionTable[s.Topic] = JavaSubscriptionData{CodeSet: javaHashCodes(tags), ExpressionType: s.ExpressionType,
				SubString: s.SubString, TagsSet: tags, Topic: s.Topic}
		}
	}
	b.clients.mu.Unlock()
	if len(cc.ConnectionSet) == 0 {
		return remoting.NewResponse(req, remoting.ConsumerNotOnline, fmt.Sprintf(consumerNotOnlineRemarkFmt, group))
	}
	return jsonResponse(req, cc)
}

// getProducerConnectionList (204): the producer group's live clients
// (mqadmin producerConnection); SYSTEM_ERROR for an unknown group, as Java.
func (b *Broker) getProducerConnectionList(_ context.Context, _ *netio.Conn, req *remoting.Command) *remoting.Command {
	e := ext{m: req.ExtFields}
	e.require("producerGroup")
	if e.err != nil {
		return errorResponse(req, e.err)
	}
	group := e.str("producerGroup")
	b.clients.mu.Lock()
	ps := b.clients.producers[group]
	conns := []Connection{}
	for _, id := range slices.Sorted(maps.Keys(ps)) {
		conns = append(conns, connectionOf(id, ps[id], b.clients.producerInfo[group][id]))
	}
	b.clients.mu.Unlock()
	if len(conns) == 0 {
		return remoting.NewResponse(req, remoting.SystemError, "the producer group["+group+"] not exist")
	}
	return jsonResponse(req, map[string]any{"connectionSet": conns})
}

// connectionOf is the Connection of client id on c.
func connectionOf(id string, c *netio.Conn, info clientInfo) Connection {
	addr := ""
	if c != nil && c.RemoteAddr() != nil {
		addr = c.RemoteAddr().String()
	}
	return Connection{ClientAddr: addr, ClientID: id, Language: info.language, Version: info.version}
}

// javaHashCodes is each tag's Java String.hashCode, the codeSet Java's
// broker reports for a subscription.
func javaHashCodes(tags []string) []int32 {
	out := make([]int32, 0, len(tags))
	for _, t := range tags {
		var h int32
		for _, r := range t { // UTF-16 code units, as Java counts
			if r >= 0x10000 {
				r -= 0x10000
				h = 31*h + int32(0xD800+(r>>10))
				h = 31*h + int32(0xDC00+(r&0x3FF))
				continue
			}
			h = 31*h + int32(r)
		}
		out = append(out, h)
	}
	return out
}
