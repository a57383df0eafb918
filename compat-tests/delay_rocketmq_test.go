package compattests

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/twmb/franz-go/pkg/kgo"
)

// arrivals records when each message body was consumed.
type arrivals struct {
	mu   sync.Mutex
	msgs map[string][]arrival
}

type arrival struct {
	at  time.Time
	msg *primitive.MessageExt
}

func newArrivals() *arrivals { return &arrivals{msgs: map[string][]arrival{}} }

func (a *arrivals) add(m *primitive.MessageExt) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.msgs[string(m.Body)] = append(a.msgs[string(m.Body)], arrival{time.Now(), m})
}

func (a *arrivals) get(body string) []arrival {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]arrival(nil), a.msgs[body]...)
}

func (a *arrivals) handler(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
	for _, m := range msgs {
		a.add(m)
	}
	return consumer.ConsumeSuccess, nil
}

// subscribe starts a push consumer of topic in group that calls fn.
func subscribe(t *testing.T, c *rmqCluster, group, topic string,
	fn func(context.Context, ...*primitive.MessageExt) (consumer.ConsumeResult, error), opts ...consumer.Option) {
	t.Helper()
	pc := c.pushConsumer(t, group, opts...)
	if err := pc.Subscribe(topic, consumer.MessageSelector{}, fn); err != nil {
		t.Fatal(err)
	}
	if err := pc.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Shutdown() })
}

// TestDelayRocketMQRetryThenDLQ: a consumer that always answers
// ConsumeRetryLater with DelayLevelWhenNextConsume 1 sees the message with
// reconsume times 0, 1, 2, each at least one second after the one before
// and under its original topic; with max reconsume times 2 the message
// then lands in %DLQ%<group>, where a RocketMQ consumer and a Kafka
// consumer (by the topic's name) both read it.
func TestDelayRocketMQRetryThenDLQ(t *testing.T) {
	dc := startDelayCluster(t)
	c := dc.rmq()
	const topic = "DelayRetryTopic"
	group := uniqueGroup(t, "cg_retry")
	p := c.producer(t)
	sent := sendN(t, p, topic, "TagRetry", 0, 1)[0]
	waitFor(t, 5*time.Second, func() bool { _, ok := c.ns.Table().Route(topic); return ok })

	// rocketmq-client-go asks for the route of %RETRY%<group> when it
	// starts and then every 30 s; the broker creates the topic on the
	// group's first heartbeat (as Java's), so a brand-new group's first
	// retry can wait a rebalance or two (20-40 s). Create the retry topic
	// first, as an operator's updateSubGroup would, so the retries come
	// at their level's pace.
	createRetryTopic(t, c, group)
	var mu sync.Mutex
	var seen []arrival
	subscribe(t, c, group, topic, func(ctx context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range msgs {
			seen = append(seen, arrival{time.Now(), m})
		}
		if cc, ok := primitive.GetConcurrentlyCtx(ctx); ok {
			cc.DelayLevelWhenNextConsume = 1
		}
		return consumer.ConsumeRetryLater, nil
	}, consumer.WithMaxReconsumeTimes(2))

	dlq := "%DLQ%" + group
	waitFor(t, 30*time.Second, func() bool {
		max, err := dc.current().store.MaxOffset(dlq, 0)
		return err == nil && max > 0
	})
	mu.Lock()
	got := append([]arrival(nil), seen...)
	mu.Unlock()
	if len(got) != 3 {
		t.Fatalf("consumed %d times, want 3 (reconsume times 0, 1, 2)", len(got))
	}
	for i, a := range got {
		m := a.msg
		if int(m.ReconsumeTimes) != i || m.Topic != topic || string(m.Body) != "body-0" || m.MsgId != sent.MsgID {
			t.Errorf("attempt %d: reconsume times %d topic %s body %q id %s (sent %s)", i, m.ReconsumeTimes, m.Topic, m.Body, m.MsgId, sent.MsgID)
		}
		if i > 0 {
			gap := a.at.Sub(got[i-1].at)
			if gap < time.Second {
				t.Errorf("attempt %d came %v after attempt %d, before level 1's second", i, gap, i-1)
			}
			t.Logf("attempt %d: %v after attempt %d", i, gap.Round(time.Millisecond), i-1)
		}
	}

	// A consumer of the DLQ reads the poison message.
	dead := newArrivals()
	subscribe(t, c, uniqueGroup(t, "cg_dlqreader"), dlq, dead.handler)
	waitFor(t, 30*time.Second, func() bool { return len(dead.get("body-0")) > 0 })
	m := dead.get("body-0")[0].msg
	if m.Topic != dlq || m.MsgId != sent.MsgID || m.GetTags() != "TagRetry" || m.GetProperty("RETRY_TOPIC") != topic || m.ReconsumeTimes != 3 {
		t.Errorf("DLQ message: topic %s id %s tags %s RETRY_TOPIC %q reconsume %d", m.Topic, m.MsgId, m.GetTags(), m.GetProperty("RETRY_TOPIC"), m.ReconsumeTimes)
	}

	// A Kafka consumer drains the DLQ by its name, '%' and all.
	recs := consumeKgo(t, dc.kafkaURL, dlq, map[int32]kgo.Offset{0: kgo.NewOffset().AtStart()}, 1)
	if string(recs[0].Value) != "body-0" || recs[0].Topic != dlq {
		t.Errorf("Kafka read of %s: %q from %s", dlq, recs[0].Value, recs[0].Topic)
	}
}

// TestDelayRocketMQLevelsAndTimer: delay levels 1 and 2 arrive after about
// 1 s and 5 s, and a timer message at its time; none before.
func TestDelayRocketMQLevelsAndTimer(t *testing.T) {
	dc := startDelayCluster(t)
	c := dc.rmq()
	const topic = "DelayLevelTopic"
	p := c.producer(t)
	sendN(t, p, topic, "T", 100, 1) // creates the topic
	waitFor(t, 5*time.Second, func() bool { _, ok := c.ns.Table().Route(topic); return ok })
	got := newArrivals()
	subscribe(t, c, uniqueGroup(t, "cg_levels"), topic, got.handler)

	due := map[string]time.Time{}
	send := func(body string, m *primitive.Message, dueIn time.Duration) {
		at := time.Now()
		if r, err := p.SendSync(context.Background(), m); err != nil || r.Status != primitive.SendOK {
			t.Fatalf("send %s: %v %v", body, r, err)
		}
		due[body] = at.Add(dueIn)
	}
	send("level-1", primitive.NewMessage(topic, []byte("level-1")).WithDelayTimeLevel(1), time.Second)
	send("level-2", primitive.NewMessage(topic, []byte("level-2")).WithDelayTimeLevel(2), 5*time.Second)
	timerAt := time.Now().Add(2500 * time.Millisecond)
	send("timer", primitive.NewMessage(topic, []byte("timer")).WithDelayTimestamp(timerAt), 0)
	due["timer"] = timerAt.Truncate(time.Millisecond) // the client sends whole milliseconds

	for body, d := range due {
		waitFor(t, 20*time.Second, func() bool { return len(got.get(body)) > 0 })
		a := got.get(body)[0]
		late := a.at.Sub(d)
		if late < 0 {
			t.Errorf("%s arrived %v before its time", body, -late)
		}
		if late > 3*time.Second {
			t.Errorf("%s arrived %v late", body, late)
		}
		if a.msg.GetProperty("DELAY") != "" || a.msg.Topic != topic {
			t.Errorf("%s: topic %s DELAY %q", body, a.msg.Topic, a.msg.GetProperty("DELAY"))
		}
		t.Logf("%s: %v after its time", body, late.Round(time.Millisecond))
	}
}

// TestDelayRocketMQRestartWhilePending: delay-level and timer messages
// sent before a broker restart are all delivered after it, none before
// its time.
func TestDelayRocketMQRestartWhilePending(t *testing.T) {
	dc := startDelayCluster(t)
	c := dc.rmq()
	const topic = "DelayRestartTopic"
	p := c.producer(t)
	sendN(t, p, topic, "T", 100, 1)
	due := map[string]time.Time{}
	for i := range 3 {
		body := fmt.Sprint("level-2-", i)
		at := time.Now()
		if _, err := p.SendSync(context.Background(), primitive.NewMessage(topic, []byte(body)).WithDelayTimeLevel(2)); err != nil {
			t.Fatal(err)
		}
		due[body] = at.Add(5 * time.Second)
		body = fmt.Sprint("timer-", i)
		at = time.Now().Add(time.Duration(3+i) * time.Second)
		if _, err := p.SendSync(context.Background(), primitive.NewMessage(topic, []byte(body)).WithDelayTimestamp(at)); err != nil {
			t.Fatal(err)
		}
		due[body] = at.Truncate(time.Millisecond) // the client sends whole milliseconds
	}
	dc.restart()
	got := newArrivals()
	subscribe(t, c, uniqueGroup(t, "cg_restart"), topic, got.handler)
	for body, d := range due {
		waitFor(t, 30*time.Second, func() bool { return len(got.get(body)) > 0 })
		if a := got.get(body)[0]; a.at.Before(d) {
			t.Errorf("%s arrived %v before its time", body, d.Sub(a.at))
		}
	}
}

// TestDelayRocketMQBatch: in a batch send (SEND_BATCH_MESSAGE 320) each
// message is delayed by its own DELAY property; the plain one arrives at
// once, the delayed one not before its level's second.
func TestDelayRocketMQBatch(t *testing.T) {
	dc := startDelayCluster(t)
	c := dc.rmq()
	const topic = "DelayBatchTopic"
	p := c.producer(t)
	sendN(t, p, topic, "T", 100, 1)
	waitFor(t, 5*time.Second, func() bool { _, ok := c.ns.Table().Route(topic); return ok })
	got := newArrivals()
	subscribe(t, c, uniqueGroup(t, "cg_batch"), topic, got.handler)
	sent := time.Now()
	r, err := p.SendSync(context.Background(), primitive.NewMessage(topic, []byte("batch-plain")),
		primitive.NewMessage(topic, []byte("batch-level-1")).WithDelayTimeLevel(1))
	if err != nil || r.Status != primitive.SendOK {
		t.Fatalf("batch send: %v %v", r, err)
	}
	waitFor(t, 10*time.Second, func() bool { return len(got.get("batch-level-1")) > 0 })
	plain, delayed := got.get("batch-plain"), got.get("batch-level-1")[0]
	if len(plain) != 1 || plain[0].at.After(delayed.at) {
		t.Fatalf("plain message seen %d times, or after the delayed one", len(plain))
	}
	if delayed.at.Before(sent.Add(time.Second)) {
		t.Errorf("delayed batch message arrived %v after the send, before 1 s", delayed.at.Sub(sent))
	}
}

// TestDelayRocketMQOrderlyLocalRetries: an orderly consumer that answers
// SuspendCurrentQueueAMoment retries locally (nothing sent back): the
// client counts reconsume times itself and gives up only once they are
// over the maximum (2), so it sees 0, 1, 2, 3, then sends the message back
// with delay level -1 and it lands in %DLQ%<group>.
func TestDelayRocketMQOrderlyLocalRetries(t *testing.T) {
	dc := startDelayCluster(t)
	c := dc.rmq()
	const topic = "DelayOrderlyTopic"
	group := uniqueGroup(t, "cg_orderly")
	p := c.producer(t)
	sendN(t, p, topic, "T", 0, 1)
	waitFor(t, 5*time.Second, func() bool { _, ok := c.ns.Table().Route(topic); return ok })
	var mu sync.Mutex
	var times []int32
	subscribe(t, c, group, topic, func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range msgs {
			times = append(times, m.ReconsumeTimes)
		}
		return consumer.SuspendCurrentQueueAMoment, nil
	}, consumer.WithConsumerOrder(true), consumer.WithMaxReconsumeTimes(2),
		consumer.WithSuspendCurrentQueueTimeMillis(200*time.Millisecond))
	dlq := "%DLQ%" + group
	waitFor(t, 30*time.Second, func() bool {
		max, err := dc.current().store.MaxOffset(dlq, 0)
		return err == nil && max > 0
	})
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(times) != "[0 1 2 3]" {
		t.Errorf("orderly consumer saw reconsume times %v, want [0 1 2 3]", times)
	}
	if max, err := dc.current().store.MaxOffset("%RETRY%"+group, 0); err == nil && max > 0 {
		t.Errorf("orderly retries went through %%RETRY%%: %d messages", max)
	}
}
