package main

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/twinmq/twinmq/broker/console"
	"github.com/twinmq/twinmq/broker/remotingapi"
)

// TestConsoleAPI drives every endpoint of the console's JSON API against
// a broker with franz-go and rocketmq-client-go data (newConsoleEnv), and
// checks each change through the clients' own admin requests: kadm for
// topics and Kafka offsets, QUERY_CONSUMER_OFFSET for RocketMQ's view.
func TestConsoleAPI(t *testing.T) {
	e := newConsoleEnv(t)

	t.Run("pages", func(t *testing.T) {
		c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := c.Get(e.base + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/console/" {
			t.Fatalf("GET /: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		for path, want := range map[string]string{"/console/": "<title>twinmq console</title>", "/console/app.js": "function route",
			"/console/style.css": "--accent"} {
			body := httpGet(t, e.base+path)
			if !strings.Contains(body, want) {
				t.Errorf("GET %s: no %q", path, want)
			}
		}
	})

	t.Run("overview", func(t *testing.T) {
		var o console.Overview
		if s := e.call(t, "GET", "/api/overview", nil, &o); s != 200 {
			t.Fatalf("status %d", s)
		}
		if o.Broker.Listeners["kafka"] == "" || o.Broker.Listeners["rocketmq"] == "" || o.Broker.Role != "ASYNC_MASTER" ||
			o.Broker.NodeID == 0 || o.Broker.ClusterID == "" || o.Store.Records < 40 || !o.Store.Writable || o.Topics < 3 {
			t.Fatalf("overview %+v", o)
		}
		// The cluster view arrives with the first poll of the name server.
		for deadline := time.Now().Add(20 * time.Second); len(o.BrokerGroups) == 0; time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("no broker group in the overview: %+v", o)
			}
			e.call(t, "GET", "/api/overview", nil, &o)
		}
		if g := o.BrokerGroups[0]; len(o.BrokerGroups) != 1 || g.Name != "broker-a" || !g.Self || g.Master != e.kafka || g.NodeID != o.Broker.NodeID {
			t.Fatalf("broker groups %+v, want broker-a with its master at %s", o.BrokerGroups, e.kafka)
		}
	})

	t.Run("topics", func(t *testing.T) {
		var ts []console.TopicSummary
		e.call(t, "GET", "/api/topics", nil, &ts)
		byName := map[string]console.TopicSummary{}
		for _, x := range ts {
			byName[x.Name] = x
		}
		if o := byName["orders"]; o.Queues != 3 || o.Messages != 30 || o.Kind != "topic" {
			t.Errorf("orders: %+v", o)
		}
		if r := byName["rmq-orders"]; r.Queues != 2 || r.Messages != 10 {
			t.Errorf("rmq-orders: %+v", r)
		}
		if d := byName["%DLQ%dgroup"]; d.Kind != "dlq" || d.Messages != 2 {
			t.Errorf("%%DLQ%%dgroup: %+v", d)
		}
		var v console.TopicView
		if s := e.call(t, "GET", "/api/topics/orders", nil, &v); s != 200 {
			t.Fatalf("status %d", s)
		}
		if len(v.Queue) != 3 || !slices.Contains(v.Groups, "kgroup") {
			t.Fatalf("orders: %+v", v)
		}
		for _, q := range v.Queue {
			if q.Start != 0 || q.End != 10 || q.Bytes <= 0 {
				t.Errorf("orders partition %+v", q)
			}
		}
		if i := slices.IndexFunc(v.Configs, func(c console.ConfigView) bool { return c.Name == "retention.ms" }); i < 0 {
			t.Errorf("configs %+v: no retention.ms", v.Configs)
		}
		if s := e.call(t, "GET", "/api/topics/nope", nil, nil); s != 404 {
			t.Errorf("unknown topic: %d", s)
		}
	})

	t.Run("topic changes", func(t *testing.T) {
		body := map[string]any{"name": "made-here", "partitions": 2, "configs": map[string]string{"retention.ms": "3600000"}}
		var errBody struct{ Error, Code string }
		if s := e.callHeader(t, "POST", "/api/topics", body, &errBody, false); s != 403 || !strings.Contains(errBody.Error, "X-Twinmq-Console") {
			t.Fatalf("create without the header: %d %+v", s, errBody)
		}
		if s := e.call(t, "POST", "/api/topics", body, nil); s != 200 {
			t.Fatalf("create: %d", s)
		}
		if s := e.call(t, "POST", "/api/topics", body, &errBody); s != 409 || errBody.Code != "TOPIC_ALREADY_EXISTS" {
			t.Fatalf("create again: %d %+v", s, errBody)
		}
		if s := e.call(t, "POST", "/api/topics", map[string]any{"name": "bad%name"}, &errBody); s != 400 || errBody.Code != "INVALID_TOPIC_EXCEPTION" {
			t.Fatalf("create bad name: %d %+v", s, errBody)
		}
		td, err := e.adm.ListTopics(t.Context(), "made-here")
		if err != nil || len(td["made-here"].Partitions) != 2 {
			t.Fatalf("kadm sees %+v %v", td, err)
		}
		ms := "60000"
		if s := e.call(t, "PATCH", "/api/topics/made-here", map[string]any{"configs": map[string]*string{"retention.ms": &ms}, "partitions": 4}, &errBody); s != 200 {
			t.Fatalf("alter: %d %+v", s, errBody)
		}
		rcs, err := e.adm.DescribeTopicConfigs(t.Context(), "made-here")
		if err != nil {
			t.Fatal(err)
		}
		if c, err := rcs.On("made-here", nil); err != nil || !slices.ContainsFunc(c.Configs, func(c kadm.Config) bool {
			return c.Key == "retention.ms" && c.Value != nil && *c.Value == "60000"
		}) {
			t.Fatalf("kadm configs after alter: %+v %v", c, err)
		}
		if td, _ := e.freshAdmin(t).ListTopics(t.Context(), "made-here"); len(td["made-here"].Partitions) != 4 {
			t.Fatalf("partitions after alter: %+v", td["made-here"])
		}
		if s := e.call(t, "PATCH", "/api/topics/made-here", map[string]any{"configs": map[string]*string{"no.such.config": &ms}}, &errBody); s != 400 {
			t.Fatalf("alter unknown config: %d %+v", s, errBody)
		}
		if s := e.call(t, "DELETE", "/api/topics/made-here", nil, nil); s != 200 {
			t.Fatalf("delete: %d", s)
		}
		if td, _ := e.freshAdmin(t).ListTopics(t.Context(), "made-here"); td.Has("made-here") && td["made-here"].Err == nil {
			t.Fatalf("kadm still lists made-here: %+v", td)
		}
		if s := e.call(t, "DELETE", "/api/topics/made-here", nil, &errBody); s != 404 {
			t.Fatalf("delete again: %d %+v", s, errBody)
		}
	})

	t.Run("browse", func(t *testing.T) {
		var page struct {
			Start, End, From, Next int64
			Messages               []console.Message
		}
		if s := e.call(t, "GET", "/api/topics/orders/messages?partition=1&offset=2&limit=3", nil, &page); s != 200 {
			t.Fatalf("status %d", s)
		}
		if len(page.Messages) != 3 || page.Next != 5 || page.End != 10 {
			t.Fatalf("page %+v", page)
		}
		m := page.Messages[0]
		if m.Offset != 2 || m.Key != "order-7" || m.Tags != "TagK" || m.Protocol != "kafka" || m.Body != "kafka value 7" ||
			!slices.Contains(m.Properties, console.Property{Name: "source", Value: "kafka"}) || !strings.HasPrefix(m.MsgID, "54514B42") {
			t.Fatalf("first message %+v", m)
		}
		e.call(t, "GET", "/api/topics/rmq-orders/messages?partition=0&offset=0&limit=100", nil, &page)
		if len(page.Messages) == 0 {
			t.Fatal("no rmq-orders messages on queue 0")
		}
		r := page.Messages[0]
		if r.Protocol != "rocketmq" || r.Tags != "TagR" || !strings.HasPrefix(r.Key, "rk-") || !strings.HasPrefix(r.Body, "rocketmq body") ||
			!slices.Contains(r.Properties, console.Property{Name: "color", Value: "blue"}) || r.OffsetMsgID == "" {
			t.Fatalf("rocketmq message %+v", r)
		}
		// By time: every record is older than now, so the page is empty at the end.
		e.call(t, "GET", "/api/topics/orders/messages?partition=0&time="+strconv.FormatInt(time.Now().Add(time.Hour).UnixMilli(), 10), nil, &page)
		if page.From != 10 || len(page.Messages) != 0 {
			t.Fatalf("browse from an hour ahead: %+v", page)
		}
		e.call(t, "GET", "/api/topics/orders/messages?partition=0&time=0&limit=2", nil, &page)
		if page.From != 0 || len(page.Messages) != 2 {
			t.Fatalf("browse from time 0: %+v", page)
		}
		// The latest messages without an offset.
		e.call(t, "GET", "/api/topics/orders/messages?partition=2&limit=4", nil, &page)
		if page.From != 6 || len(page.Messages) != 4 || page.Messages[3].Key != "order-29" {
			t.Fatalf("latest page %+v", page)
		}
		for _, bad := range []string{"partition=-1", "partition=3", "limit=0", "limit=1000", "offset=x"} {
			if s := e.call(t, "GET", "/api/topics/orders/messages?"+bad, nil, nil); s != 400 {
				t.Errorf("browse ?%s: %d, want 400", bad, s)
			}
		}
	})

	t.Run("search", func(t *testing.T) {
		var res struct{ Messages []console.Message }
		if s := e.call(t, "GET", "/api/messages/search?topic=orders&key=order-7", nil, &res); s != 200 {
			t.Fatalf("status %d", s)
		}
		if len(res.Messages) != 1 || res.Messages[0].Queue != 1 || res.Messages[0].Offset != 2 || res.Messages[0].Protocol != "kafka" {
			t.Fatalf("search order-7: %+v", res.Messages)
		}
		kafkaID := res.Messages[0].MsgID
		e.call(t, "GET", "/api/messages/search?topic=orders&id="+kafkaID, nil, &res)
		if len(res.Messages) != 1 || res.Messages[0].Key != "order-7" {
			t.Fatalf("search by the Kafka record's id %s: %+v", kafkaID, res.Messages)
		}
		e.call(t, "GET", "/api/messages/search?topic=rmq-orders&key=rk-3", nil, &res)
		if len(res.Messages) != 1 || res.Messages[0].MsgID != e.rmqIDs[3] || res.Messages[0].Body != "rocketmq body 3" {
			t.Fatalf("search rk-3: %+v", res.Messages)
		}
		e.call(t, "GET", "/api/messages/search?topic=rmq-orders&id="+e.rmqIDs[5], nil, &res)
		if len(res.Messages) != 1 || res.Messages[0].Key != "rk-5" {
			t.Fatalf("search by UNIQ_KEY: %+v", res.Messages)
		}
		e.call(t, "GET", "/api/messages/search?topic=orders&key=no-such-key", nil, &res)
		if len(res.Messages) != 0 {
			t.Fatalf("search of a missing key: %+v", res.Messages)
		}
		for _, bad := range []string{"topic=orders", "key=k", "topic=orders&key=a&id=b"} {
			if s := e.call(t, "GET", "/api/messages/search?"+bad, nil, nil); s != 400 {
				t.Errorf("search ?%s: %d, want 400", bad, s)
			}
		}
	})

	t.Run("groups", func(t *testing.T) {
		var gs []console.GroupSummary
		e.call(t, "GET", "/api/groups", nil, &gs)
		byName := map[string]console.GroupSummary{}
		for _, g := range gs {
			byName[g.Group] = g
		}
		if k := byName["kgroup"]; !slices.Equal(k.Protocols, []string{"kafka"}) || k.Lag != 0 || k.State != "Empty" || !slices.Equal(k.Topics, []string{"orders"}) {
			t.Errorf("kgroup %+v", k)
		}
		if r := byName["rgroup"]; !slices.Contains(r.Protocols, "rocketmq") || r.RocketMQClients != 1 {
			t.Errorf("rgroup %+v", r)
		}
		var g console.GroupView
		if s := e.call(t, "GET", "/api/groups/kgroup", nil, &g); s != 200 {
			t.Fatalf("status %d", s)
		}
		if len(g.Offsets) != 3 || g.ProtocolType != "consumer" {
			t.Fatalf("kgroup %+v", g)
		}
		for _, o := range g.Offsets {
			if o.Committed != 10 || o.End != 10 || o.Lag != 0 {
				t.Errorf("kgroup offset %+v", o)
			}
		}
		e.call(t, "GET", "/api/groups/rgroup", nil, &g)
		if len(g.RocketMQClientIDs) != 1 || g.State != "Stable" || g.RocketMQ == nil || g.RocketMQ.MessageModel != "CLUSTERING" ||
			!slices.Contains(g.Topics, "rmq-orders") || g.RocketMQ.ConnectionSet[0].Language != "GO" {
			t.Fatalf("rgroup %+v %+v", g, g.RocketMQ)
		}
		if s := e.call(t, "GET", "/api/groups/nobody", nil, nil); s != 404 {
			t.Errorf("unknown group: %d", s)
		}
	})

	t.Run("reset", func(t *testing.T) {
		var res console.ResetResult
		var errBody struct{ Error, Code string }
		if s := e.call(t, "POST", "/api/groups/kgroup/reset", map[string]any{"to": "start", "dryRun": true}, &res); s != 200 || res.Committed != 0 || len(res.Plan) != 3 {
			t.Fatalf("dry run: %d %+v", s, res)
		}
		if s := e.call(t, "POST", "/api/groups/kgroup/reset", map[string]any{"topic": "orders", "partitions": []int32{1}, "to": "offset", "value": 4}, &res); s != 200 || res.Committed != 1 {
			t.Fatalf("reset to 4: %d %+v", s, res)
		}
		if s := e.call(t, "POST", "/api/groups/kgroup/reset", map[string]any{"to": "shift", "value": -3}, &res); s != 200 || res.Committed != 3 {
			t.Fatalf("shift: %d %+v", s, res)
		}
		// Kafka's view (OffsetFetch) and RocketMQ's (QUERY_CONSUMER_OFFSET)
		// of the one offset table.
		offs, err := e.adm.FetchOffsets(t.Context(), "kgroup")
		if err != nil {
			t.Fatal(err)
		}
		for p, want := range []int64{7, 1, 7} {
			if o, _ := offs.Lookup("orders", int32(p)); o.At != want {
				t.Errorf("kadm: orders/%d at %d, want %d", p, o.At, want)
			}
			if got := queryConsumerOffset(t, e.rmq, "kgroup", "orders", p); got != want {
				t.Errorf("QUERY_CONSUMER_OFFSET orders/%d: %d, want %d", p, got, want)
			}
		}
		// A live Kafka member refuses it, forced or not.
		live, err := kgo.NewClient(kgo.SeedBrokers(e.kafka), kgo.ConsumerGroup("kgroup"), kgo.ConsumeTopics("orders"))
		if err != nil {
			t.Fatal(err)
		}
		defer live.Close()
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			pctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
			live.PollRecords(pctx, 0)
			cancel()
			d, err := e.adm.DescribeGroups(t.Context(), "kgroup")
			if err == nil && len(d["kgroup"].Members) == 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the live member did not join: %+v %v", d, err)
			}
		}
		if s := e.call(t, "POST", "/api/groups/kgroup/reset", map[string]any{"to": "end", "force": true}, &errBody); s != 409 || !strings.Contains(errBody.Error, "Kafka member") {
			t.Fatalf("reset with a live Kafka member: %d %+v", s, errBody)
		}
		// A live RocketMQ consumer refuses it unless forced; forced, the
		// consumer is told.
		if s := e.call(t, "POST", "/api/groups/rgroup/reset", map[string]any{"topic": "rmq-orders", "to": "start"}, &errBody); s != 409 || !strings.Contains(errBody.Error, "RocketMQ consumer") {
			t.Fatalf("reset with a live RocketMQ consumer: %d %+v", s, errBody)
		}
		if s := e.call(t, "POST", "/api/groups/rgroup/reset", map[string]any{"topic": "rmq-orders", "to": "end", "force": true}, &res); s != 200 || !res.RocketMQConsumersTold || res.Committed != 2 {
			t.Fatalf("forced reset: %d %+v", s, res)
		}
		for _, bad := range []map[string]any{{"to": "later"}, {"to": "offset", "value": -1}, {"partitions": []int{0}, "to": "start"},
			{"to": "start", "extra": 1}, {"topic": "nope", "to": "start"}} {
			if s := e.call(t, "POST", "/api/groups/kgroup2/reset", bad, &errBody); s != 400 && s != 404 {
				t.Errorf("reset %v: %d %+v", bad, s, errBody)
			}
		}
	})

	t.Run("kip848", func(t *testing.T) {
		live, err := kgo.NewClient(kgo.SeedBrokers(e.kafka), kgo.ConsumerGroup("k848"), kgo.ServerSideBalancer(), kgo.ConsumeTopics("orders"))
		if err != nil {
			t.Fatal(err)
		}
		defer live.Close()
		var g console.GroupView
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			pctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
			live.PollRecords(pctx, 0)
			cancel()
			if e.call(t, "GET", "/api/groups/k848", nil, &g) == 200 && len(g.Members) == 1 && len(g.Members[0].Assigned["orders"]) == 3 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the KIP-848 member does not show with its assignment: %+v", g)
			}
		}
		if g.State != "Stable" || !slices.Contains(g.Protocols, "kafka") {
			t.Fatalf("k848 %+v", g)
		}
		var gs []console.GroupSummary
		e.call(t, "GET", "/api/groups", nil, &gs)
		if i := slices.IndexFunc(gs, func(x console.GroupSummary) bool { return x.Group == "k848" }); i < 0 || gs[i].KafkaMembers != 1 {
			t.Fatalf("groups list: %+v", gs)
		}
		var errBody struct{ Error string }
		if s := e.call(t, "POST", "/api/groups/k848/reset", map[string]any{"topic": "orders", "to": "start", "force": true}, &errBody); s != 409 || !strings.Contains(errBody.Error, "Kafka member") {
			t.Fatalf("reset of a live KIP-848 group: %d %+v", s, errBody)
		}
		// Once its member left, the empty group takes the reset.
		live.Close()
		var res console.ResetResult
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if s := e.call(t, "POST", "/api/groups/k848/reset", map[string]any{"topic": "orders", "to": "offset", "value": 3}, &res); s == 200 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the KIP-848 group did not take a reset after its member left")
			}
		}
		offs, err := e.freshAdmin(t).FetchOffsets(t.Context(), "k848")
		if err != nil {
			t.Fatal(err)
		}
		for p := range int32(3) {
			if o, _ := offs.Lookup("orders", p); o.At != 3 {
				t.Errorf("k848 orders/%d at %d after the reset, want 3", p, o.At)
			}
		}
	})

	t.Run("dlq", func(t *testing.T) {
		var ds []console.DLQView
		e.call(t, "GET", "/api/dlq", nil, &ds)
		if len(ds) != 1 || ds[0].Group != "dgroup" || ds[0].Pending != 2 {
			t.Fatalf("dlq %+v", ds)
		}
		var res remotingapi.ResendDLQResult
		if s := e.call(t, "POST", "/api/dlq/dgroup/resend", nil, &res); s != 200 || res.Resent != 2 {
			t.Fatalf("resend: %d %+v", s, res)
		}
		e.call(t, "GET", "/api/dlq", nil, &ds)
		if ds[0].Pending != 0 || ds[0].ResentTo != 2 {
			t.Fatalf("dlq after resend %+v", ds)
		}
		if s := e.call(t, "POST", "/api/dlq/nogroup/resend", nil, nil); s != 404 {
			t.Fatalf("resend of a group without a DLQ: %d", s)
		}
	})

	t.Run("delay", func(t *testing.T) {
		var d console.DelayView
		e.call(t, "GET", "/api/delay", nil, &d)
		if !d.Running || len(d.Levels) != 18 || d.Levels[17].Delay != "2h0m0s" || d.Levels[17].Pending != 1 || d.Timer == nil {
			t.Fatalf("delay %+v", d)
		}
	})

	t.Run("metrics", func(t *testing.T) {
		var m console.MetricsView
		e.call(t, "GET", "/api/metrics", nil, &m)
		if m.MessagesIn < 40 || m.MessagesOut == 0 || m.Latency["kafka"].Count == 0 || m.Latency["remoting"].Count == 0 ||
			len(m.Latency["kafka"].Bounds) == 0 {
			t.Fatalf("metrics %+v", m)
		}
	})

	t.Run("bad requests", func(t *testing.T) {
		if s := e.call(t, "GET", "/api/nothing", nil, nil); s != 404 {
			t.Errorf("unknown endpoint: %d", s)
		}
		big := map[string]any{"name": strings.Repeat("x", 100<<10)}
		if s := e.call(t, "POST", "/api/topics", big, nil); s != 413 {
			t.Errorf("huge body: %d", s)
		}
		req, _ := http.NewRequestWithContext(t.Context(), "POST", e.base+"/api/topics", strings.NewReader(`{"name":"x"}`))
		req.Header.Set("X-Twinmq-Console", "1")
		req.Header.Set("Origin", "http://evil.example")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 403 {
			t.Errorf("foreign origin: %d", resp.StatusCode)
		}
	})
}

// TestConsoleFlags: --console-read-only refuses changes and still shows
// everything; --console-enable=false serves no console.
func TestConsoleFlags(t *testing.T) {
	logs := serveConsoleForTest(t, func(c *Config) { c.ConsoleReadOnly = true })
	e := &consoleEnv{base: "http://" + listenAddr(t, logs, "HTTP")}
	var errBody struct{ Error string }
	if s := e.call(t, "POST", "/api/topics", map[string]any{"name": "x"}, &errBody); s != 403 || !strings.Contains(errBody.Error, "read-only") {
		t.Fatalf("read-only create: %d %+v", s, errBody)
	}
	if s := e.call(t, "GET", "/api/topics", nil, nil); s != 200 {
		t.Fatalf("read-only list: %d", s)
	}
	logs = serveConsoleForTest(t, func(c *Config) { c.ConsoleEnable = false })
	off := "http://" + listenAddr(t, logs, "HTTP")
	for _, p := range []string{"/api/topics", "/console/"} {
		resp, err := http.Get(off + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 404 {
			t.Errorf("console off: GET %s: %d", p, resp.StatusCode)
		}
	}
}

// httpGet returns the body of a 200 answer to GET url.
func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	return string(b)
}

// freshAdmin is a kadm client without cached metadata (kgo serves a
// Metadata request from its cache for a while).
func (e *consoleEnv) freshAdmin(t *testing.T) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.kafka))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}
