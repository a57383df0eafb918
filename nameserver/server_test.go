package nameserver

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twinmq/twinmq/wire/remoting"
)

func startServer(t *testing.T) (*Server, string) {
	t.Helper()
	s := New(Config{})
	srv, stop, err := Listen(context.Background(), "127.0.0.1:0", s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stop(context.Background()) })
	return s, srv.Addr().String()
}

func invoke(t *testing.T, c *Client, code int32, ext map[string]string, body []byte) *remoting.Command {
	t.Helper()
	req := remoting.NewRequest(code, 0)
	req.Language = "GO"
	for k, v := range ext {
		req.ExtFields[k] = v
	}
	req.Body = body
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := c.Invoke(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func TestServerOverLoopback(t *testing.T) {
	s, addr := startServer(t)
	ctx := context.Background()
	broker, err := Dial(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	client, err := Dial(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()

	if r := invoke(t, client, remoting.GetRouteinfoByTopic, map[string]string{"topic": "T"}, nil); r.Code != remoting.TopicNotExist {
		t.Fatalf("unknown topic: code %d", r.Code)
	}
	body := EncodeRegisterBody(topicsOf("T"), DataVersion{})
	ext := map[string]string{"brokerName": "broker-a", "brokerAddr": "127.0.0.1:10911", "clusterName": "DefaultCluster",
		"brokerId": "0", "bodyCrc32": strconv.FormatInt(int64(remoting.BodyCRC(body)), 10)}
	if r := invoke(t, broker, remoting.RegisterBroker, ext, body); r.Code != remoting.Success {
		t.Fatalf("register: %d %s", r.Code, r.Remark)
	}
	r := invoke(t, client, remoting.GetRouteinfoByTopic, map[string]string{"topic": "T"}, nil)
	if r.Code != remoting.Success || !json.Valid(r.Body) {
		t.Fatalf("route: %d %s", r.Code, r.Body)
	}
	var tl TopicList
	r = invoke(t, client, remoting.GetAllTopicListFromNameserver, nil, nil)
	if err := json.Unmarshal(r.Body, &tl); err != nil || len(tl.TopicList) != 1 {
		t.Fatalf("topic list %s: %v", r.Body, err)
	}
	if r := invoke(t, client, 9999, nil, nil); r.Code != remoting.RequestCodeNotSupported {
		t.Fatalf("unknown code: %d", r.Code)
	}
	// closing the broker's connection removes it
	broker.Close()
	deadline := time.Now().Add(5 * time.Second)
	for len(s.Table().Brokers()) > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if r := invoke(t, client, remoting.GetRouteinfoByTopic, map[string]string{"topic": "T"}, nil); r.Code != remoting.TopicNotExist {
		t.Fatalf("route after broker left: code %d", r.Code)
	}
}

// TestRegistrationConflictRefused: a REGISTER_BROKER under the name and id
// of a live broker at another address (a broker misconfigured with the
// same name, or anyone who reaches the name server) is refused: the real
// broker's routes and topic table stay, during the attempt and after the
// impostor's connection closes. Once the holder is gone, the name is free.
func TestRegistrationConflictRefused(t *testing.T) {
	ctx := context.Background()
	srv, stop, err := Listen(ctx, "127.0.0.1:0", New(Config{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stop(context.Background()) })
	addr := srv.Addr().String()
	dial := func() *Client {
		c, err := Dial(ctx, addr)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	register := func(c *Client, brokerAddr string, topics ...string) *remoting.Command {
		body := EncodeRegisterBody(topicsOf(topics...), DataVersion{})
		return invoke(t, c, remoting.RegisterBroker, map[string]string{"brokerName": "broker-a", "brokerAddr": brokerAddr,
			"clusterName": "DefaultCluster", "brokerId": "0", "bodyCrc32": strconv.FormatInt(int64(remoting.BodyCRC(body)), 10)}, body)
	}
	route := func(c *Client, topic string) (string, bool) {
		r := invoke(t, c, remoting.GetRouteinfoByTopic, map[string]string{"topic": topic}, nil)
		if r.Code != remoting.Success {
			return "", false
		}
		var rd TopicRouteData
		if err := json.Unmarshal(r.Body, &rd); err != nil || len(rd.BrokerDatas) != 1 {
			t.Fatalf("route of %s: %s (%v)", topic, r.Body, err)
		}
		return rd.BrokerDatas[0].BrokerAddrs[0], true
	}
	real, fake, client := dial(), dial(), dial()
	defer real.Close()
	defer client.Close()
	if r := register(real, "10.0.0.1:10911", "T", "U"); r.Code != remoting.Success {
		t.Fatalf("register: %d %s", r.Code, r.Remark)
	}
	if r := register(fake, "10.6.6.6:10911", "X"); r.Code != remoting.SystemError || !strings.Contains(r.Remark, "10.0.0.1:10911") {
		t.Fatalf("conflicting register: %d %s, want SYSTEM_ERROR naming the holder", r.Code, r.Remark)
	}
	check := func(when string) {
		t.Helper()
		for _, topic := range []string{"T", "U"} {
			if a, ok := route(client, topic); !ok || a != "10.0.0.1:10911" {
				t.Fatalf("%s: route of %s at %q (%v), want the real broker", when, topic, a, ok)
			}
		}
		if _, ok := route(client, "X"); ok {
			t.Fatalf("%s: the impostor's topic has a route", when)
		}
	}
	check("after the attempt")
	fake.Close()
	deadline := time.Now().Add(5 * time.Second)
	for srv.Conns() > 2 && time.Now().Before(deadline) { // OnClose has run for it
		time.Sleep(10 * time.Millisecond)
	}
	check("after the impostor left")

	// The real broker re-registers from its address at will; once it
	// unregisters, another may take the name.
	if r := register(real, "10.0.0.1:10911", "T", "U"); r.Code != remoting.Success {
		t.Fatalf("re-register: %d %s", r.Code, r.Remark)
	}
	if r := invoke(t, real, remoting.UnregisterBroker, map[string]string{"brokerName": "broker-a", "brokerAddr": "10.0.0.1:10911",
		"clusterName": "DefaultCluster", "brokerId": "0"}, nil); r.Code != remoting.Success {
		t.Fatalf("unregister: %d %s", r.Code, r.Remark)
	}
	next := dial()
	defer next.Close()
	if r := register(next, "10.0.0.2:10911", "T"); r.Code != remoting.Success {
		t.Fatalf("register after the holder left: %d %s", r.Code, r.Remark)
	}
}

// TestRegisterSlaveLearnsMaster: a slave's registration is answered with
// its group master's remoting and HA addresses (RegisterBrokerResult), a
// master's with its own HA address; a slave registering before its
// master gets no master.
func TestRegisterSlaveLearnsMaster(t *testing.T) {
	_, addr := startServer(t)
	c, err := Dial(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	body := EncodeRegisterBody(topicsOf("T"), DataVersion{})
	reg := func(id, brokerAddr, ha string) *remoting.Command {
		return invoke(t, c, remoting.RegisterBroker, map[string]string{"brokerName": "b1", "brokerAddr": brokerAddr,
			"clusterName": "C", "brokerId": id, "haServerAddr": ha}, body)
	}
	if r := reg("1", "127.0.1.12:10911", "127.0.1.12:10912"); r.Code != remoting.Success ||
		r.ExtFields["masterAddr"] != "" || r.ExtFields["haServerAddr"] != "" {
		t.Fatalf("slave before master: %d %v", r.Code, r.ExtFields)
	}
	if r := reg("0", "127.0.1.11:10911", "127.0.1.11:10912"); r.Code != remoting.Success || r.ExtFields["haServerAddr"] != "127.0.1.11:10912" {
		t.Fatalf("master: %d %v", r.Code, r.ExtFields)
	}
	if r := reg("1", "127.0.1.12:10911", "127.0.1.12:10912"); r.Code != remoting.Success ||
		r.ExtFields["masterAddr"] != "127.0.1.11:10911" || r.ExtFields["haServerAddr"] != "127.0.1.11:10912" {
		t.Fatalf("slave after master: %d %v", r.Code, r.ExtFields)
	}
}
