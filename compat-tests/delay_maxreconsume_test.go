package compattests

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/twinmq/twinmq/wire/remoting"
)

// TestDelayMaxReconsumeTimesGo: rocketmq-client-go sends its consumer's
// MaxReconsumeTimes with every send-back (16 in place of its default -1).
// With 0 the first failure goes straight to %DLQ%<group>: the message is
// consumed once and never retried. With 1 it is retried once. A Java
// broker does the same; twinmq used to retry 16 times for 0.
func TestDelayMaxReconsumeTimesGo(t *testing.T) {
	dc := startDelayCluster(t)
	c := dc.rmq()
	p := c.producer(t)
	for _, max := range []int32{0, 1} {
		topic := "MaxReconsume" + string(rune('A'+max))
		group := uniqueGroup(t, "cg_max")
		createRetryTopic(t, c, group) // first retries at their level's pace (see TestDelayRocketMQRetryThenDLQ)
		sent := sendN(t, p, topic, "T", 0, 1)[0]
		waitFor(t, 5*time.Second, func() bool { _, ok := c.ns.Table().Route(topic); return ok })
		var mu sync.Mutex
		var times []int32
		subscribe(t, c, group, topic, func(ctx context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
			mu.Lock()
			defer mu.Unlock()
			for _, m := range msgs {
				times = append(times, m.ReconsumeTimes)
			}
			if cc, ok := primitive.GetConcurrentlyCtx(ctx); ok {
				cc.DelayLevelWhenNextConsume = 1
			}
			return consumer.ConsumeRetryLater, nil
		}, consumer.WithMaxReconsumeTimes(max))
		dlq := "%DLQ%" + group
		waitFor(t, 30*time.Second, func() bool {
			n, err := dc.current().store.MaxOffset(dlq, 0)
			return err == nil && n > 0
		})
		m := readDLQ(t, dc, dlq)
		if m.MsgId != sent.MsgID || m.ReconsumeTimes != max+1 || m.GetProperty("RETRY_TOPIC") != topic {
			t.Errorf("max %d: DLQ holds %s with reconsume times %d, RETRY_TOPIC %q; want %s, %d, %s",
				max, m.MsgId, m.ReconsumeTimes, m.GetProperty("RETRY_TOPIC"), sent.MsgID, max+1, topic)
		}
		mu.Lock()
		got := append([]int32(nil), times...)
		mu.Unlock()
		if len(got) != int(max)+1 {
			t.Errorf("max %d: consumed with reconsume times %v, want 0..%d", max, got, max)
		}
		if n, _ := dc.current().store.MaxOffset("%RETRY%"+group, 0); n != int64(max) {
			t.Errorf("max %d: %d messages in the retry topic, want %d", max, n, max)
		}
	}
}

// TestDelayMaxReconsumeTimesAliOns: ali-ons sends the group's
// maxReconsumeTimes (here 0) with its send-back and lets the broker pick
// the level (delayLevel 0). The first failure lands in the DLQ; the retry
// topic stays empty and the consumer sees the message once.
func TestDelayMaxReconsumeTimesAliOns(t *testing.T) {
	nodeBin, dir := nodeClients(t)
	dc := startDelayCluster(t)
	c := dc.rmq()
	const topic = "MaxReconsumeOns"
	group := uniqueGroup(t, "ons_max")
	if r := brokerCall(t, c, remoting.UpdateAndCreateTopic, map[string]string{"topic": topic, "readQueueNums": "1",
		"writeQueueNums": "1", "perm": "6"}, nil); r.Code != remoting.Success {
		t.Fatalf("create %s: %d %s", topic, r.Code, r.Remark)
	}
	createRetryTopic(t, c, group)
	p := c.producer(t)
	sent := sendN(t, p, topic, "T", 0, 1)[0]

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, nodeBin, "alions_retry.js")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NAMESRV="+c.nsAddr, "TOPIC="+topic, "GROUP="+group, "MAX=0")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var deliveries []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			mu.Lock()
			deliveries = append(deliveries, sc.Text())
			mu.Unlock()
		}
	}()
	defer func() {
		_ = cmd.Process.Kill()
		<-done
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("ali-ons stderr:\n%s", stderr.String())
		}
	}()
	dlq := "%DLQ%" + group
	waitFor(t, 40*time.Second, func() bool {
		n, err := dc.current().store.MaxOffset(dlq, 0)
		return err == nil && n > 0
	})
	m := readDLQ(t, dc, dlq)
	if m.MsgId != sent.MsgID || m.ReconsumeTimes != 1 || m.GetProperty("RETRY_TOPIC") != topic {
		t.Errorf("DLQ holds %s with reconsume times %d, RETRY_TOPIC %q; want %s, 1, %s",
			m.MsgId, m.ReconsumeTimes, m.GetProperty("RETRY_TOPIC"), sent.MsgID, topic)
	}
	if n, _ := dc.current().store.MaxOffset("%RETRY%"+group, 0); n != 0 {
		t.Errorf("%d messages in the retry topic, want 0", n)
	}
	mu.Lock()
	defer mu.Unlock()
	var recv []string
	for _, l := range deliveries {
		var e struct {
			Recv           *string
			ReconsumeTimes int
		}
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		if e.Recv != nil {
			recv = append(recv, l)
		}
	}
	if len(recv) != 1 {
		t.Errorf("ali-ons saw %d deliveries, want 1: %v", len(recv), recv)
	}
}

// createRetryTopic creates %RETRY%<group> before the group's consumer
// starts, as an operator's updateSubGroup would: rocketmq-client-go asks
// for its route only every 30 s.
func createRetryTopic(t *testing.T, c *rmqCluster, group string) {
	t.Helper()
	retry := "%RETRY%" + group
	if r := brokerCall(t, c, remoting.UpdateAndCreateTopic, map[string]string{"topic": retry, "readQueueNums": "1",
		"writeQueueNums": "1", "perm": "6"}, nil); r.Code != remoting.Success {
		t.Fatalf("create %s: %d %s", retry, r.Code, r.Remark)
	}
	waitFor(t, 5*time.Second, func() bool { _, ok := c.ns.Table().Route(retry); return ok })
}

// readDLQ reads the first message of a DLQ topic's queue 0 with a pull.
func readDLQ(t *testing.T, dc *delayCluster, dlq string) *primitive.MessageExt {
	t.Helper()
	c := dc.rmq()
	r := brokerCall(t, c, remoting.PullMessage, map[string]string{"consumerGroup": "dlq_reader", "topic": dlq, "queueId": "0",
		"queueOffset": "0", "maxMsgNums": "1", "sysFlag": "0", "commitOffset": "0", "suspendTimeoutMillis": "0",
		"subscription": "*", "subVersion": "0"}, nil)
	msgs := primitive.DecodeMessage(r.Body)
	if r.Code != remoting.Success || len(msgs) != 1 {
		t.Fatalf("pull %s: code %d (%s), %d messages", dlq, r.Code, r.Remark, len(msgs))
	}
	return msgs[0]
}
