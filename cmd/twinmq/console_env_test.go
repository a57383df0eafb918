package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/apache/rocketmq-client-go/v2/rlog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/twinmq/twinmq/nameserver"
	"github.com/twinmq/twinmq/wire/remoting"
)

// serveConsoleForTest runs serve with edit applied to the test config and
// returns its logs once it serves.
func serveConsoleForTest(t *testing.T, edit func(*Config)) *syncBuffer {
	t.Helper()
	cfg := testConfig(t, func(c *Config) {
		c.GroupInitialRebalanceDelayMs = 0
		if edit != nil {
			edit(c)
		}
	})
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, cfg, slog.New(slog.NewTextHandler(logs, nil))) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(logs.String(), "msg=serving"); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start in 20 s:\n%s", logs)
		}
	}
	return logs
}

// consoleEnv is a broker with data from both protocols' clients:
//
//   - orders (3 partitions): 30 records from franz-go, key order-<i> on
//     partition i%3, headers source=kafka and TAGS=TagK; consumer group
//     kgroup (franz-go) consumed and committed them all, then left.
//   - rmq-orders (2 partitions): 10 messages from rocketmq-client-go, key
//     rk-<i>, tag TagR, property color=blue; push consumer group rgroup
//     consumes it and stays live (stopped at the test's end).
//   - %DLQ%dgroup: two rmq-orders messages sent back to the DLQ.
//   - a delay-level-3 message on rmq-orders.
type consoleEnv struct {
	base, kafka, ns, rmq string
	adm                  *kadm.Client
	rmqIDs               []string // UNIQ_KEYs of the rmq-orders messages, in send order
}

func newConsoleEnv(t *testing.T) *consoleEnv {
	t.Helper()
	rlog.SetLogLevel("fatal")
	logs := serveConsoleForTest(t, nil)
	e := &consoleEnv{base: "http://" + listenAddr(t, logs, "HTTP"), kafka: listenAddr(t, logs, "Kafka"),
		ns: listenAddr(t, logs, "name server"), rmq: listenAddr(t, logs, "RocketMQ remoting")}
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.kafka), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	e.adm = kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for topic, n := range map[string]int32{"orders": 3, "rmq-orders": 2} {
		if _, err := e.adm.CreateTopic(ctx, n, -1, nil, topic); err != nil {
			t.Fatalf("create %s: %v", topic, err)
		}
	}
	var recs []*kgo.Record
	for i := range 30 {
		recs = append(recs, &kgo.Record{Topic: "orders", Partition: int32(i % 3), Key: []byte("order-" + strconv.Itoa(i)),
			Value:   []byte("kafka value " + strconv.Itoa(i)),
			Headers: []kgo.RecordHeader{{Key: "source", Value: []byte("kafka")}, {Key: "TAGS", Value: []byte("TagK")}}})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	// kgroup consumes everything, commits and leaves.
	cons, err := kgo.NewClient(kgo.SeedBrokers(e.kafka), kgo.ConsumerGroup("kgroup"), kgo.ConsumeTopics("orders"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	if err != nil {
		t.Fatal(err)
	}
	for got := 0; got < 30; {
		fs := cons.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("kgroup consumed %d of 30: %v", got, err)
		}
		got += fs.NumRecords()
	}
	if err := cons.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatal(err)
	}
	cons.Close()

	waitRoute(t, e.ns, "rmq-orders", 2)
	p, err := rocketmq.NewProducer(producer.WithNsResolver(primitive.NewPassthroughResolver([]string{e.ns})),
		producer.WithGroupName("console-producer"), producer.WithRetry(2))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = p.Shutdown() }()
	var offsetIDs []string
	for i := range 10 {
		m := primitive.NewMessage("rmq-orders", []byte("rocketmq body "+strconv.Itoa(i)))
		m.WithKeys([]string{"rk-" + strconv.Itoa(i)})
		m.WithTag("TagR")
		m.WithProperty("color", "blue")
		res, err := p.SendSync(ctx, m)
		if err != nil || res.Status != primitive.SendOK {
			t.Fatalf("send %d: %v %v", i, res, err)
		}
		e.rmqIDs = append(e.rmqIDs, res.MsgID)
		offsetIDs = append(offsetIDs, res.OffsetMsgID)
	}
	// Two dead letters for dgroup: sent back with delay level -1 by a
	// consumer of the group (its heartbeat creates the subscription group).
	nc, err := nameserver.Dial(ctx, e.rmq)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	hb := remoting.NewRequest(remoting.HeartBeat, 0)
	hb.Body = []byte(`{"clientID":"dlq-maker","producerDataSet":[],"consumerDataSet":[{"groupName":"dgroup","consumeType":"CONSUME_PASSIVELY",` +
		`"messageModel":"CLUSTERING","consumeFromWhere":"CONSUME_FROM_FIRST_OFFSET","subscriptionDataSet":[{"topic":"rmq-orders","subString":"*"}]}]}`)
	if r, err := nc.Invoke(ctx, hb); err != nil || r.Code != remoting.Success {
		t.Fatalf("heartbeat: %v %v", r, err)
	}
	for _, id := range offsetIDs[:2] {
		_, off, err := remoting.ParseOffsetMsgID(id)
		if err != nil {
			t.Fatal(err)
		}
		if r := rmqAdmin(t, e.rmq, remoting.ConsumerSendMsgBack, map[string]string{"offset": strconv.FormatInt(off, 10),
			"group": "dgroup", "delayLevel": "-1", "originTopic": "rmq-orders"}); r.Code != remoting.Success {
			t.Fatalf("send back: %d %s", r.Code, r.Remark)
		}
	}
	delayed := primitive.NewMessage("rmq-orders", []byte("later"))
	delayed.WithDelayTimeLevel(18) // 2 h: still pending when the test looks
	if res, err := p.SendSync(ctx, delayed); err != nil || res.Status != primitive.SendOK {
		t.Fatalf("send delayed: %v %v", res, err)
	}

	// rgroup: a live RocketMQ push consumer.
	pc, err := rocketmq.NewPushConsumer(consumer.WithNsResolver(primitive.NewPassthroughResolver([]string{e.ns})),
		consumer.WithInstance(t.Name()), consumer.WithGroupName("rgroup"), consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset))
	if err != nil {
		t.Fatal(err)
	}
	var got atomic.Int64
	err = pc.Subscribe("rmq-orders", consumer.MessageSelector{Type: consumer.TAG, Expression: "*"},
		func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
			got.Add(int64(len(msgs)))
			return consumer.ConsumeSuccess, nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Shutdown() })
	for got.Load() < 10 {
		if ctx.Err() != nil {
			t.Fatalf("rgroup consumed %d of 10", got.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return e
}

// call sends an API request (a change carries the console header unless
// noHeader) and decodes the JSON answer into out; it returns the status.
func (e *consoleEnv) call(t *testing.T, method, path string, body any, out any) int {
	t.Helper()
	return e.callHeader(t, method, path, body, out, method != http.MethodGet)
}

func (e *consoleEnv) callHeader(t *testing.T, method, path string, body any, out any, header bool) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, e.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if header {
		req.Header.Set("X-Twinmq-Console", "1")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode
}
