package compattests

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
)

// TestRocketMQBrokerRestartMidStream: a producer and a push consumer run
// while the broker restarts on the same address and data. Every message
// whose send was acknowledged is consumed with its fields intact; sends
// that failed during the outage are retried by the test, as an
// application would. Offsets the broker had committed before the restart
// are still there after it, and a second restart keeps the final ones.
func TestRocketMQBrokerRestartMidStream(t *testing.T) {
	c := startRocketMQ(t, t.TempDir())
	p := c.producer(t)
	const topic, group, n = "RmqMidRestartTopic", "cg_midrestart", 40
	col := newCollector()
	sendResults(t, p, topic, "TagR", 0, 1) // creates the topic
	waitFor(t, 5*time.Second, func() bool { _, ok := c.ns.Table().Route(topic); return ok })
	pc := c.pushConsumer(t, group)
	if err := pc.Subscribe(topic, consumer.MessageSelector{}, col.handler); err != nil {
		t.Fatal(err)
	}
	if err := pc.Start(); err != nil {
		t.Fatal(err)
	}
	defer pc.Shutdown()

	var (
		mu      sync.Mutex
		sent    = []sentMsg{{i: 0}}
		sendErr error
	)
	sending := make(chan struct{})
	go func() { // the application: sends, retrying while the broker is down
		defer close(sending)
		deadline := time.Now().Add(60 * time.Second)
		for i := 1; i < n; {
			m := newMsg(topic, "TagR", i)
			born := time.Now()
			r, err := p.SendSync(context.Background(), m)
			if err != nil || r.Status != primitive.SendOK {
				if time.Now().After(deadline) {
					sendErr = fmt.Errorf("send %d still failing: %v", i, err)
					return
				}
				time.Sleep(100 * time.Millisecond)
				continue
			}
			mu.Lock()
			sent = append(sent, sentFrom(i, m, r, born))
			mu.Unlock()
			i++
			time.Sleep(20 * time.Millisecond)
		}
	}()
	waitFor(t, 20*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return len(sent) >= n/2 })
	// Committed offsets before the restart: the consumer commits every 5 s
	// and with each pull.
	waitFor(t, 20*time.Second, func() bool { return len(c.current().offsets.List(group, topic)) > 0 })
	before := c.current().offsets.List(group, topic)
	c.restartBroker(t)
	<-sending
	if sendErr != nil {
		t.Fatal(sendErr)
	}
	// The restarted broker knows no consumer until the client's next
	// heartbeat (every 30 s). A rebalance (every 20 s) in that window gets
	// "no consumer for this group", which rocketmq-client-go reads as an
	// empty member list and drops every queue until the heartbeat and the
	// rebalance after it: up to about 50 s without pulls, as against a Java
	// broker.
	for deadline := time.Now().Add(100 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		col.mu.Lock()
		got := len(col.msgs)
		var missing []int
		for i := range n {
			if len(col.msgs[fmt.Sprint("body-", i)]) == 0 {
				missing = append(missing, i)
			}
		}
		col.mu.Unlock()
		if got >= n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("consumed %d of %d; missing %v; offsets %v", got, n, missing, c.current().offsets.List(group, topic))
		}
	}
	// A failed send may still have been stored (the reply was lost), and
	// a restart may redeliver: exactly the acknowledged ones must be here,
	// each with its fields; duplicates must be the same message.
	col.mu.Lock()
	for _, s := range sent {
		ms := col.msgs[fmt.Sprint("body-", s.i)]
		if len(ms) == 0 {
			col.mu.Unlock()
			t.Fatalf("acknowledged body-%d never consumed", s.i)
		}
		for _, m := range ms {
			if s.offID != "" {
				checkMsg(t, m, topic, "TagR", s)
			}
		}
	}
	col.mu.Unlock()
	after := c.current().offsets
	for _, e := range before {
		if got, ok := after.Fetch(e.Group, e.Topic, e.Queue); !ok || got < e.Offset {
			t.Fatalf("offset %s/%s/%d was %d before the restart, %d (%v) after", e.Group, e.Topic, e.Queue, e.Offset, got, ok)
		}
	}

	// Wait for the consumer to commit everything, restart once more, and
	// find the same offsets.
	maxOff := func(q int32) int64 { m, _ := c.current().store.MaxOffset(topic, q); return m }
	waitFor(t, 20*time.Second, func() bool {
		for q := int32(0); q < 4; q++ {
			if got, _ := c.current().offsets.Fetch(group, topic, q); got != maxOff(q) {
				return false
			}
		}
		return true
	})
	final := c.current().offsets.List(group, topic)
	_ = pc.Shutdown()
	c.restartBroker(t)
	for _, e := range final {
		if got, ok := c.current().offsets.Fetch(e.Group, e.Topic, e.Queue); !ok || got != e.Offset {
			t.Fatalf("offset %s/%d: %d before the second restart, %d (%v) after", e.Topic, e.Queue, e.Offset, got, ok)
		}
	}
}
