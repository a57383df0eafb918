package nameserver

import (
	"encoding/json"
	"errors"
	"testing"
	"time"
)

func topicsOf(names ...string) map[string]TopicConfig {
	m := make(map[string]TopicConfig)
	for _, n := range names {
		m[n] = TopicConfig{TopicName: n, ReadQueueNums: 4, WriteQueueNums: 4, Perm: 6}
	}
	return m
}

func TestRouteJSONIsWhatClientsParse(t *testing.T) {
	tab := NewTable()
	now := time.Unix(1000, 0)
	tab.Register(Broker{Cluster: "DefaultCluster", Name: "broker-a", Addr: "127.0.0.1:10911", ConnID: 1}, topicsOf("T"), now)
	r, ok := tab.Route("T")
	if !ok {
		t.Fatal("no route")
	}
	b, _ := json.Marshal(r)
	want := `{"queueDatas":[{"brokerName":"broker-a","readQueueNums":4,"writeQueueNums":4,"perm":6,"topicSysFlag":0}],` +
		`"brokerDatas":[{"cluster":"DefaultCluster","brokerName":"broker-a","brokerAddrs":{"0":"127.0.0.1:10911"},"enableActingMaster":false}],` +
		`"filterServerTable":{}}`
	if string(b) != want {
		t.Fatalf("route JSON\n got %s\nwant %s", b, want)
	}
}

func TestRegisterExpireCloseUnregister(t *testing.T) {
	tab := NewTable()
	t0 := time.Unix(1000, 0)
	a := Broker{Cluster: "c", Name: "a", Addr: "10.0.0.1:1", ConnID: 1}
	aSlave := Broker{Cluster: "c", Name: "a", ID: 1, Addr: "10.0.0.2:1", ConnID: 2}
	b := Broker{Cluster: "c", Name: "b", Addr: "10.0.0.3:1", ConnID: 3}
	tab.Register(a, topicsOf("T", "U"), t0)
	tab.Register(aSlave, nil, t0)
	tab.Register(b, topicsOf("T"), t0.Add(100*time.Second))

	if r, _ := tab.Route("T"); len(r.QueueDatas) != 2 || len(r.BrokerDatas[0].BrokerAddrs) != 2 {
		t.Fatalf("route T = %+v", r)
	}
	// a master re-registering without U drops U from the route
	tab.Register(a, topicsOf("T"), t0.Add(10*time.Second))
	if _, ok := tab.Route("U"); ok {
		t.Fatal("U still routed")
	}
	// the slave expires (120 s after t0), a's master stays (registered at t0+10)
	if gone := tab.Expire(t0.Add(125*time.Second), 120*time.Second); len(gone) != 1 || gone[0] != aSlave.Addr {
		t.Fatalf("expired %v", gone)
	}
	if gone := tab.ConnClosed(3); len(gone) != 1 {
		t.Fatalf("closed %v", gone)
	}
	if r, _ := tab.Route("T"); len(r.QueueDatas) != 1 || r.QueueDatas[0].BrokerName != "a" {
		t.Fatalf("route T after b left = %+v", r)
	}
	if ci := tab.ClusterInfo(); len(ci.ClusterAddrTable["c"]) != 1 {
		t.Fatalf("cluster info %+v", ci)
	}
	if !tab.DeleteTopic("T") || len(tab.Topics()) != 0 {
		t.Fatalf("topics after delete: %v", tab.Topics())
	}
	if !tab.Unregister(a.Addr) || len(tab.Brokers()) != 0 {
		t.Fatalf("brokers after unregister: %v", tab.Brokers())
	}
}

func FuzzDecodeRegisterBody(f *testing.F) {
	f.Add(EncodeRegisterBody(topicsOf("T", "TBW102"), DataVersion{Timestamp: 1}))
	f.Add([]byte(`{"topicConfigSerializeWrapper":{"topicConfigTable":{"x":{"readQueueNums":-1}}}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		body, err := DecodeRegisterBody(b)
		if err != nil {
			return
		}
		tab := NewTable()
		tab.Register(Broker{Cluster: "c", Name: "n", Addr: "a:1"}, body.TopicConfigSerializeWrapper.TopicConfigTable, time.Unix(0, 0))
		for _, topic := range tab.Topics() {
			r, ok := tab.Route(topic)
			if !ok {
				t.Fatalf("listed topic %q has no route", topic)
			}
			if _, err := json.Marshal(r); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// TestRegisterNewerMasterEpochTakesOver: a controller-elected master
// (higher masterEpoch) replaces a master that still looks alive; an
// equal or lower epoch, or a slave id, is refused as before.
func TestRegisterNewerMasterEpochTakesOver(t *testing.T) {
	tb := NewTable()
	now := time.Now()
	old := Broker{Cluster: "C", Name: "b1", ID: 0, Addr: "10.0.0.1:10911", MasterEpoch: 1}
	if _, err := tb.Register(old, map[string]TopicConfig{"T": {}}, now); err != nil {
		t.Fatal(err)
	}
	same := Broker{Cluster: "C", Name: "b1", ID: 0, Addr: "10.0.0.2:10911", MasterEpoch: 1}
	if _, err := tb.Register(same, nil, now); !errors.Is(err, ErrConflict) {
		t.Fatalf("same epoch: %v", err)
	}
	newer := Broker{Cluster: "C", Name: "b1", ID: 0, Addr: "10.0.0.2:10911", MasterEpoch: 2}
	if _, err := tb.Register(newer, map[string]TopicConfig{"T": {}}, now); err != nil {
		t.Fatalf("newer epoch: %v", err)
	}
	if m, ok := tb.Master("b1"); !ok || m.Addr != newer.Addr {
		t.Fatalf("master %v %v", m, ok)
	}
	// The old master, back, cannot take it back with its old epoch.
	if _, err := tb.Register(old, nil, now); !errors.Is(err, ErrConflict) {
		t.Fatalf("old epoch again: %v", err)
	}
}

// TestClusterView: the groups of one cluster sorted by name with their
// masters' Kafka listeners, and each topic's queues per group; a group
// whose master is gone stays with its topics (its partitions keep their
// numbers) and no master.
func TestClusterView(t *testing.T) {
	tab := NewTable()
	now := time.Unix(1000, 0)
	reg := func(b Broker, topics map[string]TopicConfig) {
		t.Helper()
		if _, err := tab.Register(b, topics, now); err != nil {
			t.Fatal(err)
		}
	}
	reg(Broker{Cluster: "C", Name: "b2", Addr: "10.0.0.2:10911", KafkaAddr: "10.0.0.2:9092", KafkaNodeID: 7, MasterEpoch: 3}, topicsOf("T", "U"))
	reg(Broker{Cluster: "C", Name: "b1", Addr: "10.0.0.1:10911", KafkaAddr: "10.0.0.1:9092", KafkaNodeID: 5}, topicsOf("T"))
	reg(Broker{Cluster: "C", Name: "b1", ID: 1, Addr: "10.0.0.3:10911", KafkaAddr: "10.0.0.3:9092", KafkaNodeID: 10005, KafkaRack: "rb"}, nil)
	reg(Broker{Cluster: "C", Name: "b1", ID: 2, Addr: "10.0.0.4:10911"}, nil) // no Kafka listener: not a follower
	reg(Broker{Cluster: "other", Name: "x1", Addr: "10.0.0.9:10911"}, topicsOf("T"))
	v := tab.ClusterView("C")
	if len(v.Groups) != 2 || v.Groups[0].Name != "b1" || v.Groups[1].Name != "b2" {
		t.Fatalf("groups %+v, want b1, b2", v.Groups)
	}
	if g := v.Groups[0]; g.KafkaAddr != "10.0.0.1:9092" || g.KafkaNodeID != 5 || g.Members != 3 || g.MasterAddr != "10.0.0.1:10911" {
		t.Errorf("b1: %+v", g)
	}
	if f := v.Groups[0].Followers; len(f) != 1 || f[0] != (ViewFollower{BrokerID: 1, KafkaAddr: "10.0.0.3:9092", KafkaNodeID: 10005, KafkaRack: "rb"}) {
		t.Errorf("b1's followers: %+v", f)
	}
	if g := v.Groups[1]; g.MasterEpoch != 3 || g.KafkaNodeID != 7 {
		t.Errorf("b2: %+v", g)
	}
	if ps := v.Topics["T"]; len(ps) != 2 || ps[0] != (ViewPlacement{Group: "b1", Queues: 4}) || ps[1] != (ViewPlacement{Group: "b2", Queues: 4}) {
		t.Errorf("T: %+v", ps)
	}
	if ps := v.Topics["U"]; len(ps) != 1 || ps[0].Group != "b2" {
		t.Errorf("U: %+v", ps)
	}
	tab.Unregister("10.0.0.1:10911") // b1's master goes; its slave stays
	v = tab.ClusterView("C")
	if g := v.Groups[0]; g.Name != "b1" || g.MasterAddr != "" || g.KafkaAddr != "" {
		t.Errorf("b1 without a master: %+v", g)
	}
	if ps := v.Topics["T"]; len(ps) != 2 {
		t.Errorf("T after b1's master left: %+v, want both groups' queues", ps)
	}
}

// TestPromotedSlaveTakesItsAddressAsMaster: in controller mode a slave
// elected master re-registers, from a new connection, at its own address
// as id 0 with a higher masterEpoch; the old master's id 0 and the
// slave's old id both go to it. Without a higher epoch the same request
// is refused and changes nothing.
func TestPromotedSlaveTakesItsAddressAsMaster(t *testing.T) {
	tb := NewTable()
	now := time.Unix(1000, 0)
	master := Broker{Cluster: "C", Name: "b1", ID: 0, Addr: "10.0.0.1:10911", MasterEpoch: 1, ConnID: 1}
	slave := Broker{Cluster: "C", Name: "b1", ID: 2, Addr: "10.0.0.2:10911", ConnID: 2}
	if _, err := tb.Register(master, topicsOf("T"), now); err != nil {
		t.Fatal(err)
	}
	if _, err := tb.Register(slave, nil, now); err != nil {
		t.Fatal(err)
	}
	promoted := Broker{Cluster: "C", Name: "b1", ID: 0, Addr: slave.Addr, MasterEpoch: 1, ConnID: 3}
	if _, err := tb.Register(promoted, topicsOf("T"), now); !errors.Is(err, ErrConflict) {
		t.Fatalf("same epoch: %v", err)
	}
	promoted.MasterEpoch = 2
	if _, err := tb.Register(promoted, topicsOf("T"), now); err != nil {
		t.Fatal(err)
	}
	ci := tb.ClusterInfo()
	if addrs := ci.BrokerAddrTable["b1"].BrokerAddrs; len(addrs) != 1 || addrs[0] != slave.Addr {
		t.Fatalf("group after promotion %v", addrs)
	}
	if r, ok := tb.Route("T"); !ok || r.BrokerDatas[0].BrokerAddrs[0] != slave.Addr {
		t.Fatalf("route %+v %v", r, ok)
	}
}

// TestRegisterAfterRestartOrExpiry: the same broker at the same address
// registers again from a new connection (a restart, a reconnect); a broker
// at a new address takes the name once the old registration expired.
func TestRegisterAfterRestartOrExpiry(t *testing.T) {
	tb := NewTable()
	t0 := time.Unix(1000, 0)
	b := Broker{Cluster: "C", Name: "b1", Addr: "10.0.0.1:10911", ConnID: 1}
	if _, err := tb.Register(b, topicsOf("T"), t0); err != nil {
		t.Fatal(err)
	}
	b.ConnID = 2
	if isNew, err := tb.Register(b, topicsOf("T", "U"), t0.Add(time.Second)); err != nil || isNew {
		t.Fatalf("restart at the same address: new %v, %v", isNew, err)
	}
	moved := Broker{Cluster: "C", Name: "b1", Addr: "10.0.0.9:10911", ConnID: 3}
	if _, err := tb.Register(moved, topicsOf("T"), t0.Add(2*time.Second)); !errors.Is(err, ErrConflict) {
		t.Fatalf("new address while the old one lives: %v", err)
	}
	if gone := tb.Expire(t0.Add(122*time.Second), 120*time.Second); len(gone) != 1 {
		t.Fatalf("expired %v", gone)
	}
	if _, err := tb.Register(moved, topicsOf("T"), t0.Add(122*time.Second)); err != nil {
		t.Fatalf("new address after expiry: %v", err)
	}
	if r, ok := tb.Route("T"); !ok || r.BrokerDatas[0].BrokerAddrs[0] != moved.Addr {
		t.Fatalf("route %+v %v", r, ok)
	}
	if _, ok := tb.Route("U"); ok {
		t.Fatal("U of the expired registration still routed")
	}
}
