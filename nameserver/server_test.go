package nameserver

import (
	"context"
	"encoding/json"
	"strconv"
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
