package nameserver

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"
)

// Broker identifies one registering broker and what it reported.
type Broker struct {
	Cluster    string
	Name       string // brokerName: the broker group
	ID         int64  // 0 = master
	Addr       string // ip:port clients connect to
	HAAddr     string
	ConnID     uint64 // the registering connection, 0 if none
	ZoneName   string
	ActingMast bool
	// MasterEpoch is the controller's masterEpoch a controller-mode
	// master registers with (twinmq's masterEpoch field; 0: none).
	MasterEpoch int32
	// KafkaAddr, KafkaNodeID and KafkaClusterID are the broker's Kafka
	// listener as its clients see it (twinmq's own registration fields;
	// "" without a Kafka listener).
	KafkaAddr      string
	KafkaNodeID    int32
	KafkaClusterID string
	// KafkaReplicas and KafkaISR are a master's group members and its
	// in-sync ones as Kafka node ids (twinmq's own fields).
	KafkaReplicas, KafkaISR []int32
	// KafkaRack is the broker's brokerRack (twinmq's own field).
	KafkaRack string
}

// liveBroker is a registered broker and when it last registered.
type liveBroker struct {
	Broker
	lastUpdate time.Time
}

// Table is the route table (RouteInfoManager.java). It has no goroutines,
// no I/O and no clock of its own: callers pass now. Its methods are safe
// for concurrent use; mu guards every field.
type Table struct {
	mu       sync.RWMutex
	live     map[string]*liveBroker            // brokerAddr -> broker
	groups   map[string]*BrokerData            // brokerName -> addresses
	clusters map[string]map[string]struct{}    // cluster -> brokerNames
	topics   map[string]map[string]QueueData   // topic -> brokerName -> queues
	configs  map[string]map[string]TopicConfig // brokerName -> its last topic table (masters)
}

// NewTable returns an empty route table.
func NewTable() *Table {
	return &Table{
		live:     make(map[string]*liveBroker),
		groups:   make(map[string]*BrokerData),
		clusters: make(map[string]map[string]struct{}),
		topics:   make(map[string]map[string]QueueData),
		configs:  make(map[string]map[string]TopicConfig),
	}
}

// ErrConflict refuses a registration under a broker name and id that a
// live broker at another address holds.
var ErrConflict = errors.New("nameserver: broker name and id registered by another live broker")

// Register records a REGISTER_BROKER from b at now. A master's topic table
// replaces its group's queue data wholesale: a topic the broker no longer
// reports leaves the route at once. It reports whether b is new.
//
// A registration under the name and id of a live broker at another
// address is refused (ErrConflict) and changes nothing: Java's
// RouteInfoManager lets it take the routes over, so a second broker
// misconfigured with the same name, or anyone who can reach the name
// server, replaced the first's topic table and then emptied its routes
// when it went away. The holder keeps its routes until it unregisters,
// its connection closes or it expires, with one exception: a master the
// controller elected (a higher MasterEpoch) takes id 0 over from the
// master it replaced, which may still look alive (stopped, or cut off
// from the controller but not from the name servers). Likewise a
// registration naming the address of a live broker under another
// identity is refused unless addrHandover allows it.
func (t *Table) Register(b Broker, topics map[string]TopicConfig, now time.Time) (bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if g := t.groups[b.Name]; g != nil {
		if addr, held := g.BrokerAddrs[b.ID]; held && addr != b.Addr {
			if holder, live := t.live[addr]; live {
				if b.ID != 0 || b.MasterEpoch <= holder.MasterEpoch {
					return false, fmt.Errorf("%w: %s id %d is at %s, refused from %s", ErrConflict, b.Name, b.ID, addr, b.Addr)
				}
				t.removeLocked(addr) // replaced by the controller's newer master
			}
		}
	}
	lb, ok := t.live[b.Addr]
	if ok && (lb.Name != b.Name || lb.ID != b.ID || lb.Cluster != b.Cluster) {
		if !addrHandover(lb.Broker, b) {
			return false, fmt.Errorf("%w: %s is registered as %s/%s id %d, refused as %s/%s id %d",
				ErrConflict, b.Addr, lb.Cluster, lb.Name, lb.ID, b.Cluster, b.Name, b.ID)
		}
		t.removeLocked(b.Addr) // the address now belongs to another broker, or another role
		ok = false
	}
	t.live[b.Addr] = &liveBroker{Broker: b, lastUpdate: now}
	g := t.groups[b.Name]
	if g == nil {
		g = &BrokerData{Cluster: b.Cluster, BrokerName: b.Name, BrokerAddrs: make(map[int64]string)}
		t.groups[b.Name] = g
	}
	g.Cluster, g.EnableActingMaster = b.Cluster, b.ActingMast
	for id, addr := range g.BrokerAddrs {
		if addr == b.Addr && id != b.ID {
			delete(g.BrokerAddrs, id) // a slave became master or the reverse
		}
	}
	g.BrokerAddrs[b.ID] = b.Addr
	if t.clusters[b.Cluster] == nil {
		t.clusters[b.Cluster] = make(map[string]struct{})
	}
	t.clusters[b.Cluster][b.Name] = struct{}{}
	if b.ID == 0 {
		t.replaceTopicsLocked(b.Name, topics)
	}
	return !ok, nil
}

// addrHandover reports whether b may take the address of the live broker
// holder registered under another identity. Over the holder's own
// connection it may (the broker changed its mind); so may a master the
// controller elected (id 0, a higher masterEpoch) at the address where it
// was a slave. Anything else would let a registration naming another
// broker's address remove that broker and its routes.
func addrHandover(holder, b Broker) bool {
	if holder.ConnID == b.ConnID {
		return true
	}
	return holder.Cluster == b.Cluster && holder.Name == b.Name && b.ID == 0 && b.MasterEpoch > holder.MasterEpoch
}

// replaceTopicsLocked makes topics the queue data of group name.
func (t *Table) replaceTopicsLocked(name string, topics map[string]TopicConfig) {
	for topic := range t.configs[name] {
		if _, keep := topics[topic]; !keep {
			t.dropQueueDataLocked(topic, name)
		}
	}
	for topic, tc := range topics {
		qs := t.topics[topic]
		if qs == nil {
			qs = make(map[string]QueueData)
			t.topics[topic] = qs
		}
		qs[name] = QueueData{BrokerName: name, ReadQueueNums: tc.ReadQueueNums,
			WriteQueueNums: tc.WriteQueueNums, Perm: tc.Perm, TopicSysFlag: tc.TopicSysFlag}
	}
	t.configs[name] = maps.Clone(topics)
}

func (t *Table) dropQueueDataLocked(topic, name string) {
	if qs := t.topics[topic]; qs != nil {
		delete(qs, name)
		if len(qs) == 0 {
			delete(t.topics, topic)
		}
	}
}

// Unregister removes the broker at addr (UNREGISTER_BROKER). It reports
// whether it was registered.
func (t *Table) Unregister(addr string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.removeLocked(addr)
}

// UnregisterBroker removes the broker at b.Addr if it is registered under
// b's name and id (and cluster, if given): an UNREGISTER_BROKER naming
// another broker's address is refused with ErrConflict. It reports
// whether a broker was removed; an address not registered is no error
// (a broker says goodbye to every name server, registered or not).
func (t *Table) UnregisterBroker(b Broker) (bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	lb, ok := t.live[b.Addr]
	if !ok {
		return false, nil
	}
	if lb.Name != b.Name || lb.ID != b.ID || (b.Cluster != "" && lb.Cluster != b.Cluster) {
		return false, fmt.Errorf("%w: %s is registered as %s id %d, not %s id %d",
			ErrConflict, b.Addr, lb.Name, lb.ID, b.Name, b.ID)
	}
	return t.removeLocked(b.Addr), nil
}

// removeLocked drops a broker; a group with no address left leaves the
// cluster and every topic route.
func (t *Table) removeLocked(addr string) bool {
	lb, ok := t.live[addr]
	if !ok {
		return false
	}
	delete(t.live, addr)
	g := t.groups[lb.Name]
	if g != nil && g.BrokerAddrs[lb.ID] == addr {
		delete(g.BrokerAddrs, lb.ID)
	}
	if g != nil && len(g.BrokerAddrs) > 0 {
		return true
	}
	delete(t.groups, lb.Name)
	if names := t.clusters[lb.Cluster]; names != nil {
		delete(names, lb.Name)
		if len(names) == 0 {
			delete(t.clusters, lb.Cluster)
		}
	}
	for topic := range t.configs[lb.Name] {
		t.dropQueueDataLocked(topic, lb.Name)
	}
	delete(t.configs, lb.Name)
	return true
}

// Expire removes brokers that have not registered since now-ttl and returns
// their addresses (scanned every few seconds, as Java's scanNotActiveBroker).
func (t *Table) Expire(now time.Time, ttl time.Duration) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var gone []string
	for addr, lb := range t.live {
		if now.Sub(lb.lastUpdate) > ttl {
			gone = append(gone, addr)
		}
	}
	for _, addr := range gone {
		t.removeLocked(addr)
	}
	return gone
}

// ConnClosed removes every broker that registered over connection id
// (Java's onChannelDestroy) and returns their addresses.
func (t *Table) ConnClosed(id uint64) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var gone []string
	for addr, lb := range t.live {
		if lb.ConnID == id && id != 0 {
			gone = append(gone, addr)
		}
	}
	for _, addr := range gone {
		t.removeLocked(addr)
	}
	return gone
}

// Route returns the route of topic, or false if no broker serves it.
func (t *Table) Route(topic string) (TopicRouteData, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	qs := t.topics[topic]
	if len(qs) == 0 {
		return TopicRouteData{}, false
	}
	r := TopicRouteData{FilterServerTable: map[string][]string{}}
	for _, name := range slices.Sorted(maps.Keys(qs)) {
		r.QueueDatas = append(r.QueueDatas, qs[name])
		if g := t.groups[name]; g != nil {
			r.BrokerDatas = append(r.BrokerDatas, cloneGroup(g))
		}
	}
	if len(r.BrokerDatas) == 0 {
		return TopicRouteData{}, false
	}
	return r, true
}

func cloneGroup(g *BrokerData) BrokerData {
	c := *g
	c.BrokerAddrs = maps.Clone(g.BrokerAddrs)
	return c
}

// ClusterInfo returns every broker group by name and cluster.
func (t *Table) ClusterInfo() ClusterInfo {
	t.mu.RLock()
	defer t.mu.RUnlock()
	ci := ClusterInfo{BrokerAddrTable: make(map[string]BrokerData), ClusterAddrTable: make(map[string][]string)}
	for name, g := range t.groups {
		ci.BrokerAddrTable[name] = cloneGroup(g)
	}
	for c, names := range t.clusters {
		ci.ClusterAddrTable[c] = slices.Sorted(maps.Keys(names))
	}
	return ci
}

// Topics lists every routed topic, sorted.
func (t *Table) Topics() []string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return slices.Sorted(maps.Keys(t.topics))
}

// DeleteTopic drops topic from the route (DELETE_TOPIC_IN_NAMESRV) until a
// broker registers it again. It reports whether the topic was routed.
func (t *Table) DeleteTopic(topic string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, ok := t.topics[topic]
	delete(t.topics, topic)
	for _, cfg := range t.configs {
		delete(cfg, topic)
	}
	return ok
}

// Brokers lists the registered brokers, sorted by address.
func (t *Table) Brokers() []Broker {
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]Broker, 0, len(t.live))
	for _, addr := range slices.Sorted(maps.Keys(t.live)) {
		out = append(out, t.live[addr].Broker)
	}
	return out
}

// Master returns the live master (id 0) of the broker group name.
func (t *Table) Master(name string) (Broker, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	g := t.groups[name]
	if g == nil {
		return Broker{}, false
	}
	lb, ok := t.live[g.BrokerAddrs[0]]
	if !ok {
		return Broker{}, false
	}
	return lb.Broker, true
}

// ClusterView returns the groups of cluster, sorted by name, and the
// placement of every topic they carry (GetClusterView).
func (t *Table) ClusterView(cluster string) ClusterView {
	t.mu.RLock()
	defer t.mu.RUnlock()
	v := ClusterView{Groups: []ViewGroup{}, Topics: map[string][]ViewPlacement{}}
	names := t.clusters[cluster]
	for _, name := range slices.Sorted(maps.Keys(names)) {
		g := ViewGroup{Name: name}
		if bd := t.groups[name]; bd != nil {
			if lb, ok := t.live[bd.BrokerAddrs[0]]; ok {
				g.MasterAddr, g.MasterEpoch = lb.Addr, lb.MasterEpoch
				g.KafkaAddr, g.KafkaNodeID, g.KafkaClusterID = lb.KafkaAddr, lb.KafkaNodeID, lb.KafkaClusterID
				g.KafkaReplicas, g.KafkaISR, g.KafkaRack = lb.KafkaReplicas, lb.KafkaISR, lb.KafkaRack
			}
			g.Members = len(bd.BrokerAddrs)
			for _, id := range slices.Sorted(maps.Keys(bd.BrokerAddrs)) {
				if id == 0 {
					continue
				}
				if lb, ok := t.live[bd.BrokerAddrs[id]]; ok && lb.KafkaAddr != "" {
					g.Followers = append(g.Followers, ViewFollower{BrokerID: id, KafkaAddr: lb.KafkaAddr,
						KafkaNodeID: lb.KafkaNodeID, KafkaRack: lb.KafkaRack})
				}
			}
		}
		v.Groups = append(v.Groups, g)
		for topic, tc := range t.configs[name] {
			qs := t.topics[topic][name]
			if qs.BrokerName == "" || tc.ReadQueueNums <= 0 {
				continue // deleted from the route (DeleteTopic) until registered again
			}
			v.Topics[topic] = append(v.Topics[topic], ViewPlacement{Group: name, Queues: qs.ReadQueueNums})
		}
	}
	return v
}
