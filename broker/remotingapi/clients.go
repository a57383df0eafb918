package remotingapi

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/twinmq/twinmq/netio"
	"github.com/twinmq/twinmq/wire/remoting"
)

// HeartbeatData is the body of HEART_BEAT (34) (HeartbeatData.java, spec
// §2.6). codeSet is not read: Go sends it as strings, Java as numbers, and
// the broker filters with its own hash of the tag strings.
type HeartbeatData struct {
	ClientID        string         `json:"clientID"`
	ProducerDataSet []ProducerData `json:"producerDataSet"`
	ConsumerDataSet []ConsumerData `json:"consumerDataSet"`
}

// ProducerData names a producer group.
type ProducerData struct {
	GroupName string `json:"groupName"`
}

// ConsumerData is one consumer group of a client.
type ConsumerData struct {
	GroupName           string             `json:"groupName"`
	ConsumeType         string             `json:"consumeType"`
	MessageModel        string             `json:"messageModel"`
	ConsumeFromWhere    string             `json:"consumeFromWhere"`
	SubscriptionDataSet []SubscriptionData `json:"subscriptionDataSet"`
}

// SubscriptionData is one topic subscription.
type SubscriptionData struct {
	Topic          string   `json:"topic"`
	SubString      string   `json:"subString"`
	TagsSet        []string `json:"tagsSet"`
	ExpressionType string   `json:"expressionType"`
}

// maxHeartbeatItems bounds the groups and subscriptions of one heartbeat.
const maxHeartbeatItems = 4096

// DecodeHeartbeat decodes a HEART_BEAT body.
func DecodeHeartbeat(b []byte) (HeartbeatData, error) {
	var hb HeartbeatData
	if err := json.Unmarshal(b, &hb); err != nil {
		return HeartbeatData{}, fmt.Errorf("%w: heartbeat body: %v", errInvalidParameter, err)
	}
	n := len(hb.ProducerDataSet) + len(hb.ConsumerDataSet)
	for _, cd := range hb.ConsumerDataSet {
		n += len(cd.SubscriptionDataSet)
	}
	if n > maxHeartbeatItems || hb.ClientID == "" {
		return HeartbeatData{}, fmt.Errorf("%w: heartbeat of %q with %d items", errInvalidParameter, hb.ClientID, n)
	}
	return hb, nil
}

// member is one client of a consumer group.
type member struct {
	conn     *netio.Conn
	lastSeen time.Time
	data     ConsumerData
	subs     map[string]string // topic -> subString
	info     clientInfo
}

// clientInfo is what a client's HEART_BEAT request says of the client
// (its RemotingCommand language and version), which
// GET_CONSUMER_CONNECTION_LIST and GET_PRODUCER_CONNECTION_LIST report.
type clientInfo struct {
	language string
	version  int32
}

// clientTable tracks consumer groups by client id and connection, and
// producer groups. mu guards every field.
type clientTable struct {
	mu        sync.Mutex
	groups    map[string]map[string]*member // group -> clientID -> member
	producers map[string]map[string]*netio.Conn
	// producerInfo is, by group and client id, what producers' heartbeats
	// said of them; it has the keys of producers.
	producerInfo map[string]map[string]clientInfo
}

func newClientTable() *clientTable {
	return &clientTable{groups: make(map[string]map[string]*member), producers: make(map[string]map[string]*netio.Conn),
		producerInfo: make(map[string]map[string]clientInfo)}
}

// heartbeat records hb from c at now and returns the groups whose member
// set changed.
func (t *clientTable) heartbeat(c *netio.Conn, hb HeartbeatData, now time.Time) []string {
	return t.heartbeatFrom(c, hb, clientInfo{}, now)
}

// heartbeatFrom is heartbeat with what the request said of the client.
func (t *clientTable) heartbeatFrom(c *netio.Conn, hb HeartbeatData, info clientInfo, now time.Time) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var changed []string
	for _, cd := range hb.ConsumerDataSet {
		ms := t.groups[cd.GroupName]
		if ms == nil {
			ms = make(map[string]*member)
			t.groups[cd.GroupName] = ms
		}
		old, ok := ms[hb.ClientID]
		if !ok || old.conn != c {
			changed = append(changed, cd.GroupName)
		}
		m := &member{conn: c, lastSeen: now, data: cd, subs: make(map[string]string), info: info}
		for _, s := range cd.SubscriptionDataSet {
			m.subs[s.Topic] = s.SubString
		}
		ms[hb.ClientID] = m
	}
	for _, pd := range hb.ProducerDataSet {
		if t.producers[pd.GroupName] == nil {
			t.producers[pd.GroupName] = make(map[string]*netio.Conn)
		}
		t.producers[pd.GroupName][hb.ClientID] = c
		if t.producerInfo[pd.GroupName] == nil {
			t.producerInfo[pd.GroupName] = make(map[string]clientInfo)
		}
		t.producerInfo[pd.GroupName][hb.ClientID] = info
	}
	return changed
}

// unregister removes clientID from a consumer and a producer group; it
// reports whether the consumer group changed.
func (t *clientTable) unregister(clientID, consumerGroup, producerGroup string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.producers[producerGroup], clientID)
	delete(t.producerInfo[producerGroup], clientID)
	ms := t.groups[consumerGroup]
	if _, ok := ms[clientID]; !ok {
		return false
	}
	delete(ms, clientID)
	if len(ms) == 0 {
		delete(t.groups, consumerGroup)
	}
	return true
}

// removeConn drops every client that spoke over c; it returns the consumer
// groups that changed.
func (t *clientTable) removeConn(c *netio.Conn) []string {
	return t.removeIf(func(m *member) bool { return m.conn == c }, func(pc *netio.Conn) bool { return pc == c })
}

// expire drops clients silent since now-ttl; it returns the changed groups.
func (t *clientTable) expire(now time.Time, ttl time.Duration) []string {
	return t.removeIf(func(m *member) bool { return now.Sub(m.lastSeen) > ttl }, func(*netio.Conn) bool { return false })
}

func (t *clientTable) removeIf(drop func(*member) bool, dropProducer func(*netio.Conn) bool) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var changed []string
	for g, ms := range t.groups {
		n := len(ms)
		maps.DeleteFunc(ms, func(_ string, m *member) bool { return drop(m) })
		if len(ms) != n {
			changed = append(changed, g)
		}
		if len(ms) == 0 {
			delete(t.groups, g)
		}
	}
	for g, ps := range t.producers {
		maps.DeleteFunc(ps, func(_ string, c *netio.Conn) bool { return dropProducer(c) })
		if len(ps) == 0 {
			delete(t.producers, g)
		}
	}
	for g, infos := range t.producerInfo {
		maps.DeleteFunc(infos, func(id string, _ clientInfo) bool { _, ok := t.producers[g][id]; return !ok })
		if len(infos) == 0 {
			delete(t.producerInfo, g)
		}
	}
	slices.Sort(changed)
	return changed
}

// members returns a group's client ids, sorted, and their connections.
func (t *clientTable) members(group string) ([]string, []*netio.Conn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	ids := slices.Sorted(maps.Keys(t.groups[group]))
	conns := make([]*netio.Conn, len(ids))
	for i, id := range ids {
		conns[i] = t.groups[group][id].conn
	}
	return ids, conns
}

// subscription returns the expression a member of group registered for
// topic ("" if none: take everything).
func (t *clientTable) subscription(group, topic string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, m := range t.groups[group] {
		if s, ok := m.subs[topic]; ok {
			return s
		}
	}
	return ""
}

// subscriptionOf returns the expression and its type (TAG, SQL92) a member
// of group registered for topic.
func (t *clientTable) subscriptionOf(group, topic string) (expr, typ string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, m := range t.groups[group] {
		for _, s := range m.data.SubscriptionDataSet {
			if s.Topic == topic {
				return s.SubString, s.ExpressionType
			}
		}
	}
	return "", ""
}

// groupNames returns the consumer groups with members, sorted.
func (t *clientTable) groupNames() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Sorted(maps.Keys(t.groups))
}

func (b *Broker) heartBeat(ctx context.Context, c *netio.Conn, req *remoting.Command) *remoting.Command {
	hb, err := DecodeHeartbeat(req.Body)
	if err != nil {
		return errorResponse(req, err)
	}
	for _, cd := range hb.ConsumerDataSet {
		// Java creates the retry topic on every consumer heartbeat so that
		// %RETRY%<group> is routable soon after (docs/rocketmq-protocol.md §2.6, §8 item 3).
		if cd.GroupName == "" || b.topics.Following() {
			continue // a slave's topics are its master's: the master creates it
		}
		if _, err := b.ensureTopic(ctx, retryGroupPrefix+cd.GroupName, 1); err != nil {
			b.log.Warn("cannot create retry topic", "group", cd.GroupName, "err", err)
		}
	}
	if changed := b.clients.heartbeatFrom(c, hb, clientInfo{language: req.Language, version: req.Version}, b.cfg.Now()); len(changed) > 0 {
		b.log.Info("consumer group changed", "groups", changed, "client", hb.ClientID)
		go b.notifyGroups(changed)
	}
	return remoting.NewResponse(req, remoting.Success, "")
}

func (b *Broker) unregisterClient(_ context.Context, _ *netio.Conn, req *remoting.Command) *remoting.Command {
	f := req.ExtFields
	if b.clients.unregister(f["clientID"], f["consumerGroup"], f["producerGroup"]) {
		go b.notifyGroups([]string{f["consumerGroup"]})
	}
	return remoting.NewResponse(req, remoting.Success, "")
}

func (b *Broker) getConsumerList(_ context.Context, _ *netio.Conn, req *remoting.Command) *remoting.Command {
	group := req.ExtFields["consumerGroup"]
	ids, _ := b.clients.members(group)
	if len(ids) == 0 {
		return errorResponse(req, fmt.Errorf("%w, %s", errNoConsumer, group))
	}
	body, _ := json.Marshal(struct {
		ConsumerIDList []string `json:"consumerIdList"`
	}{ids})
	resp := remoting.NewResponse(req, remoting.Success, "")
	resp.Body = body
	return resp
}

// notifyGroups sends NOTIFY_CONSUMER_IDS_CHANGED (40), oneway as Java
// does, to every remaining member of each group so they rebalance now
// rather than at their next 20 s rebalance.
func (b *Broker) notifyGroups(groups []string) {
	for _, g := range groups {
		_, conns := b.clients.members(g)
		for _, c := range conns {
			cmd := remoting.NewRequest(remoting.NotifyConsumerIDsChanged, b.opaque.Add(1))
			cmd.Flag = remoting.FlagOneway
			cmd.ExtFields["consumerGroup"] = g
			_ = c.Write(remoting.AppendCommand(nil, cmd))
		}
	}
}
