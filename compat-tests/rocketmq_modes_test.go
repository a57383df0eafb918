package compattests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
)

// TestRocketMQAsyncAndOnewaySend: SendAsync calls back with the same
// results a sync send gets, SendOneWay's messages arrive too (the Go client
// sends them with flag 0 and drops the reply, docs/rocketmq-protocol.md §1.6), and a consumer
// sees every field of both.
func TestRocketMQAsyncAndOnewaySend(t *testing.T) {
	c := startRocketMQ(t, t.TempDir())
	p := c.producer(t)
	const topic, n = "RmqAsyncTopic", 10
	sendN(t, p, topic, "TagA", 100, 1) // creates the topic: SendAsync has no TBW102 fallback wait
	var (
		mu   sync.Mutex
		sent []sentMsg
		wg   sync.WaitGroup
	)
	for i := range n {
		m := newMsg(topic, "TagA", i)
		born := time.Now()
		wg.Add(1)
		err := p.SendAsync(context.Background(), func(_ context.Context, r *primitive.SendResult, err error) {
			defer wg.Done()
			if err != nil || r.Status != primitive.SendOK {
				t.Errorf("async %d: %v %v", i, r, err)
				return
			}
			mu.Lock()
			sent = append(sent, sentFrom(i, m, r, born))
			mu.Unlock()
		}, m)
		if err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	for i := n; i < 2*n; i++ {
		m := newMsg(topic, "TagA", i)
		born := time.Now()
		if err := p.SendOneWay(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		s := sentMsg{i: i, born: born}.withUniq(m)
		if s.uniqID == "" {
			t.Fatalf("oneway %d: no UNIQ_KEY on the sent message", i)
		}
		sent = append(sent, s)
	}
	sent = append(sent, sentMsg{i: 100})

	col := newCollector()
	pc := c.pushConsumer(t, "cg_async")
	if err := pc.Subscribe(topic, consumer.MessageSelector{}, col.handler); err != nil {
		t.Fatal(err)
	}
	if err := pc.Start(); err != nil {
		t.Fatal(err)
	}
	defer pc.Shutdown()
	waitFor(t, 20*time.Second, func() bool { return col.n.Load() >= int64(len(sent)) })
	time.Sleep(300 * time.Millisecond)
	checkAll(t, col, topic, "TagA", sent)
}

// runningQueues asks a consumer, through the broker (GET_CONSUMER_RUNNING_INFO
// 307), which queues of topic it holds.
func runningQueues(t *testing.T, c *rmqCluster, group, clientID, topic string) map[int]bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	body, err := c.current().broker.ConsumerRunningInfo(ctx, group, clientID, false)
	if err != nil {
		t.Fatalf("running info of %s: %v", clientID, err)
	}
	// mqTable's keys are MessageQueue objects written fastjson-style, as
	// bare JSON objects (not strings), so encoding/json cannot read it.
	if !bytes.Contains(body, []byte(`"mqTable"`)) {
		t.Fatalf("running info %s", body)
	}
	qs := map[int]bool{}
	re := regexp.MustCompile(`\{"topic":"` + regexp.QuoteMeta(topic) + `","brokerName":"[^"]*","queueId":(\d+)\}:`)
	for _, m := range re.FindAllSubmatch(body, -1) {
		q, _ := strconv.Atoi(string(m[1]))
		qs[q] = true
	}
	return qs
}

// consumerIDs returns the client ids the broker has for group.
func consumerIDs(t *testing.T, c *rmqCluster, group string) []string {
	t.Helper()
	r := brokerCall(t, c, 38, map[string]string{"consumerGroup": group}, nil)
	var list struct {
		ConsumerIDList []string `json:"consumerIdList"`
	}
	_ = json.Unmarshal(r.Body, &list)
	return list.ConsumerIDList
}

// TestRocketMQClusteringRebalance: two push consumers of one group share
// the four queues (the broker tells the first with NOTIFY_CONSUMER_IDS_CHANGED
// when the second joins); every message reaches exactly one of them. When
// one shuts down, the other takes all queues over from the committed
// offsets and gets every later message.
func TestRocketMQClusteringRebalance(t *testing.T) {
	c := startRocketMQ(t, t.TempDir())
	p := c.producer(t)
	const topic, group = "RmqClusterTopic", "cg_cluster"
	sendN(t, p, topic, "TagC", 0, 1) // creates the topic with 4 queues
	cols := []*collector{newCollector(), newCollector()}
	var pcs []rocketmq.PushConsumer
	for i := range 2 {
		pc := c.pushConsumer(t, group)
		if err := pc.Subscribe(topic, consumer.MessageSelector{}, cols[i].handler); err != nil {
			t.Fatal(err)
		}
		if err := pc.Start(); err != nil {
			t.Fatal(err)
		}
		pcs = append(pcs, pc)
		waitFor(t, 10*time.Second, func() bool { return len(consumerIDs(t, c, group)) == i+1 })
	}
	defer pcs[1].Shutdown()
	ids := consumerIDs(t, c, group)
	// Both hold two queues once the notification made the first rebalance.
	waitFor(t, 15*time.Second, func() bool {
		a, b := runningQueues(t, c, group, ids[0], topic), runningQueues(t, c, group, ids[1], topic)
		for q := range a {
			if b[q] {
				return false
			}
		}
		return len(a) == 2 && len(b) == 2
	})
	sent := append([]sentMsg{{i: 0}}, sendResults(t, p, topic, "TagC", 1, 39)...)
	total := func() int64 { return cols[0].n.Load() + cols[1].n.Load() }
	waitFor(t, 20*time.Second, func() bool { return total() >= 40 })
	time.Sleep(300 * time.Millisecond)
	if cols[0].n.Load() == 0 || cols[1].n.Load() == 0 {
		t.Fatalf("one member got nothing: %d and %d", cols[0].n.Load(), cols[1].n.Load())
	}
	merged := newCollector()
	for _, col := range cols {
		for _, ms := range col.msgs {
			merged.add(ms...)
		}
	}
	checkAll(t, merged, topic, "TagC", sent)

	// The first member leaves; the second must own all four queues.
	if err := pcs[0].Shutdown(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, func() bool { return len(consumerIDs(t, c, group)) == 1 })
	left := consumerIDs(t, c, group)[0]
	waitFor(t, 15*time.Second, func() bool { return len(runningQueues(t, c, group, left, topic)) == 4 })
	before := cols[1].n.Load()
	later := sendResults(t, p, topic, "TagC", 40, 20)
	waitFor(t, 20*time.Second, func() bool { return cols[1].n.Load() >= before+20 })
	time.Sleep(300 * time.Millisecond)
	if got := cols[1].n.Load() - before; got != 20 {
		t.Fatalf("remaining member got %d messages after takeover, want 20", got)
	}
	for _, s := range later {
		ms := cols[1].msgs[fmt.Sprint("body-", s.i)]
		if len(ms) != 1 {
			t.Fatalf("body-%d delivered %d times after takeover", s.i, len(ms))
		}
		checkMsg(t, ms[0], topic, "TagC", s)
	}
}

// sendResults sync-sends messages from..from+n-1 and records their results.
func sendResults(t *testing.T, p rocketmq.Producer, topic, tag string, from, n int) []sentMsg {
	t.Helper()
	var out []sentMsg
	for i := from; i < from+n; i++ {
		m := newMsg(topic, tag, i)
		born := time.Now()
		r, err := p.SendSync(context.Background(), m)
		if err != nil || r.Status != primitive.SendOK {
			t.Fatalf("send %d: %v %v", i, r, err)
		}
		out = append(out, sentFrom(i, m, r, born))
	}
	return out
}

// TestRocketMQBroadcasting: two BROADCASTING members of one group each get
// every message; their offsets stay client-side, so the broker's offset
// table has nothing for the group.
func TestRocketMQBroadcasting(t *testing.T) {
	c := startRocketMQ(t, t.TempDir())
	p := c.producer(t)
	const topic = "RmqBcastTopic"
	group := uniqueGroup(t, "cg_bcast")
	sent := sendResults(t, p, topic, "TagD", 0, 12)
	cols := []*collector{newCollector(), newCollector()}
	for i := range 2 {
		pc := c.pushConsumer(t, group, consumer.WithConsumerModel(consumer.BroadCasting))
		if err := pc.Subscribe(topic, consumer.MessageSelector{}, cols[i].handler); err != nil {
			t.Fatal(err)
		}
		if err := pc.Start(); err != nil {
			t.Fatal(err)
		}
		defer pc.Shutdown()
	}
	sent = append(sent, sendResults(t, p, topic, "TagD", 12, 8)...)
	waitFor(t, 20*time.Second, func() bool { return cols[0].n.Load() >= 20 && cols[1].n.Load() >= 20 })
	time.Sleep(300 * time.Millisecond)
	for _, col := range cols {
		checkAll(t, col, topic, "TagD", sent)
	}
	if e := c.current().offsets.List(group, ""); len(e) > 0 {
		t.Fatalf("broadcasting group has broker-side offsets %v", e)
	}
}
