package compattests

import (
	"context"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2"

	"github.com/twinmq/twinmq/broker/remotingapi"
	"github.com/twinmq/twinmq/nameserver"
	"github.com/twinmq/twinmq/wire/remoting"
)

// fakeBroker is a listener that a forged registration advertises: it
// counts the connections clients open to it and closes them.
type fakeBroker struct {
	addr  string
	conns atomic.Int64
}

func startFakeBroker(t *testing.T) *fakeBroker {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeBroker{addr: ln.Addr().String()}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.conns.Add(1)
			_ = c.Close()
		}
	}()
	t.Cleanup(func() { _ = ln.Close() })
	return f
}

// forgedRegister sends, over c, a REGISTER_BROKER of broker name/id at
// addr advertising topics (TBW102 included, so auto-created topics route
// to it too), signed with secret if not empty.
func forgedRegister(t *testing.T, c *nameserver.Client, name string, id int, addr, secret string, topics ...string) *remoting.Command {
	t.Helper()
	table := map[string]nameserver.TopicConfig{}
	for _, tp := range topics {
		table[tp] = nameserver.TopicConfig{TopicName: tp, ReadQueueNums: 8, WriteQueueNums: 8, Perm: 7, TopicFilterType: "SINGLE_TAG"}
	}
	body := nameserver.EncodeRegisterBody(table, nameserver.DataVersion{Timestamp: time.Now().UnixMilli()})
	req := remoting.NewRequest(remoting.RegisterBroker, 0)
	f := req.ExtFields
	f["brokerName"], f["brokerAddr"], f["clusterName"] = name, addr, remotingapi.DefaultClusterName
	f["brokerId"], f["haServerAddr"], f["compressed"] = strconv.Itoa(id), addr, "false"
	f["bodyCrc32"] = strconv.FormatInt(int64(remoting.BodyCRC(body)), 10)
	req.Body = body
	if secret != "" {
		nameserver.SignRegistration(secret, req, time.Now().UnixNano())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := c.Invoke(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// checkRoutesOnRealBroker asserts that topic and TBW102 route to the real
// broker alone.
func checkRoutesOnRealBroker(t *testing.T, c *rmqCluster, when string, topics ...string) {
	t.Helper()
	for _, tp := range append(topics, "TBW102") {
		r, ok := c.ns.Table().Route(tp)
		if !ok || len(r.BrokerDatas) != 1 || len(r.QueueDatas) != 1 || r.BrokerDatas[0].BrokerAddrs[0] != c.brokerAddr ||
			len(r.BrokerDatas[0].BrokerAddrs) != 1 || r.BrokerDatas[0].BrokerName != remotingapi.DefaultBrokerName {
			t.Fatalf("%s: route of %s = %+v (%v), want the real broker %s alone", when, tp, r, ok, c.brokerAddr)
		}
	}
}

// sendAllToRealBroker sends n messages with rocketmq-client-go and
// asserts that each was stored by the real broker and none reached the
// fake.
func sendAllToRealBroker(t *testing.T, c *rmqCluster, p rocketmq.Producer, fake *fakeBroker, topic string, n int) {
	t.Helper()
	for i, r := range sendN(t, p, topic, "", 0, n) {
		host, _, err := remoting.ParseOffsetMsgID(r.OffsetMsgID)
		if r.MessageQueue.BrokerName != remotingapi.DefaultBrokerName || err != nil || host.String() != c.brokerAddr {
			t.Fatalf("send %d went to broker %q, stored at %q (%v)", i, r.MessageQueue.BrokerName, host, err)
		}
		q := int32(r.MessageQueue.QueueId)
		waitFor(t, 10*time.Second, func() bool { // dispatch is asynchronous
			hi, err := c.current().store.MaxOffset(topic, q)
			return err == nil && hi > r.QueueOffset
		})
	}
	if fake.conns.Load() != 0 {
		t.Fatalf("the fake broker got %d connections", fake.conns.Load())
	}
}

// TestRocketMQRegistrationHijackRefused reproduces the route hijack found
// from outside, on a name server without a secret: a forged
// REGISTER_BROKER under the real broker's name and id 0 (and one naming
// the real broker's address under another name, and an UNREGISTER_BROKER
// of it) is refused with SYSTEM_ERROR naming both addresses; the routes
// stay the real broker's, during the attempt and after the forger's
// connection closes, and rocketmq-client-go's sends all reach the real
// broker.
func TestRocketMQRegistrationHijackRefused(t *testing.T) {
	c := startRocketMQ(t, t.TempDir())
	const topic = "HijackT"
	p := c.producer(t)
	sendN(t, p, topic, "", 0, 1) // auto-creates the topic
	fake := startFakeBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	forger, err := nameserver.Dial(ctx, c.nsAddr)
	if err != nil {
		t.Fatal(err)
	}
	// Open mode accepts a new name (docs/security.md); this one advertises
	// no topic, and its removal below shows the forger's connection closed.
	if r := forgedRegister(t, forger, "broker-f", 0, fake.addr, ""); r.Code != remoting.Success {
		t.Fatalf("new name: %d %s", r.Code, r.Remark)
	}
	r := forgedRegister(t, forger, remotingapi.DefaultBrokerName, 0, fake.addr, "", topic, "TBW102", "Other")
	if r.Code != remoting.SystemError || !strings.Contains(r.Remark, c.brokerAddr) || !strings.Contains(r.Remark, fake.addr) {
		t.Fatalf("hijack: %d %q, want SYSTEM_ERROR naming both addresses", r.Code, r.Remark)
	}
	if r := forgedRegister(t, forger, "broker-x", 0, c.brokerAddr, "", "X"); r.Code != remoting.SystemError {
		t.Fatalf("registration at the real broker's address: %d %q", r.Code, r.Remark)
	}
	unreg := remoting.NewRequest(remoting.UnregisterBroker, 0)
	unreg.ExtFields["brokerName"], unreg.ExtFields["brokerAddr"] = "broker-x", c.brokerAddr
	unreg.ExtFields["clusterName"], unreg.ExtFields["brokerId"] = remotingapi.DefaultClusterName, "0"
	if r, err := forger.Invoke(ctx, unreg); err != nil || r.Code != remoting.SystemError {
		t.Fatalf("unregister of the real broker's address: %v %v", r, err)
	}
	checkRoutesOnRealBroker(t, c, "after the attempts", topic)
	if _, ok := c.ns.Table().Route("Other"); ok {
		t.Fatal("the forged topic Other is routed")
	}
	sendAllToRealBroker(t, c, p, fake, topic, 20)

	_ = forger.Close()
	waitFor(t, 10*time.Second, func() bool { _, ok := c.ns.Table().ClusterInfo().BrokerAddrTable["broker-f"]; return !ok })
	checkRoutesOnRealBroker(t, c, "after the forger left", topic)
	sendAllToRealBroker(t, c, p, fake, topic, 20)
}

// TestRocketMQRegistrationSecret: with a registration secret on the name
// server and the broker, the broker registers (signed) and re-registers
// after a restart; a forged registration under a new broker name
// advertising TBW102, unsigned or signed with another secret, and a
// hijack signed with another secret, get NO_PERMISSION; the routes and
// rocketmq-client-go's sends stay on the real broker.
func TestRocketMQRegistrationSecret(t *testing.T) {
	c := startRocketMQWithSecret(t, t.TempDir(), "compat-secret")
	const topic = "SecretT"
	fake := startFakeBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	forger, err := nameserver.Dial(ctx, c.nsAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer forger.Close()
	for _, tc := range []struct{ name, secret string }{
		{"broker-evil", ""}, {"broker-evil", "guess"}, {remotingapi.DefaultBrokerName, "guess"},
	} {
		if r := forgedRegister(t, forger, tc.name, 0, fake.addr, tc.secret, topic, "TBW102"); r.Code != remoting.NoPermission {
			t.Fatalf("%s signed with %q: %d %q, want NO_PERMISSION", tc.name, tc.secret, r.Code, r.Remark)
		}
	}
	if ci := c.ns.Table().ClusterInfo(); len(ci.BrokerAddrTable) != 1 {
		t.Fatalf("cluster info %+v", ci)
	}
	p := c.producer(t)
	sendAllToRealBroker(t, c, p, fake, topic, 20) // auto-created from TBW102 on the real broker
	checkRoutesOnRealBroker(t, c, "after the sends", topic)

	c.restartBroker(t) // a new connection and new timestamps: registered again
	checkRoutesOnRealBroker(t, c, "after a restart", topic)
	sendAllToRealBroker(t, c, p, fake, topic, 20)
}
