package main

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/rlog"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/twinmq/twinmq/nameserver"
	"github.com/twinmq/twinmq/wire/remoting"
)

// queryConsumerOffset asks the broker at addr for QUERY_CONSUMER_OFFSET
// (14), what a RocketMQ consumer reads when it takes a queue; -1 for
// anything but SUCCESS (with setZeroIfNotFound=false, a queue without a
// committed offset is QUERY_NOT_FOUND).
func queryConsumerOffset(t *testing.T, addr, group, topic string, queue int) int64 {
	t.Helper()
	c, err := nameserver.Dial(t.Context(), addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := remoting.NewRequest(remoting.QueryConsumerOffset, 0)
	req.ExtFields["consumerGroup"], req.ExtFields["topic"], req.ExtFields["queueId"] = group, topic, strconv.Itoa(queue)
	req.ExtFields["setZeroIfNotFound"] = "false"
	resp, err := c.Invoke(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Code != remoting.Success {
		return -1
	}
	off, err := strconv.ParseInt(resp.ExtFields["offset"], 10, 64)
	if err != nil {
		t.Fatalf("QUERY_CONSUMER_OFFSET offset %q: %v", resp.ExtFields["offset"], err)
	}
	return off
}

// TestGroupSeekRocketMQ: a rocketmq-client-go push consumer group
// consumes 5 messages on each of 2 queues and commits its offsets over
// RocketMQ; `group seek --broker-addr` refuses while it runs; once it
// stopped, the group shows through kadm as Empty with its offsets, and
// `group seek --to start` moves them to 0 as QUERY_CONSUMER_OFFSET reads;
// `group offset-delete` deletes one queue's.
func TestGroupSeekRocketMQ(t *testing.T) {
	rlog.SetLogLevel("fatal")
	logs := serveForTest(t)
	addr, nsAddr, rmqAddr := listenAddr(t, logs, "Kafka"), listenAddr(t, logs, "name server"), listenAddr(t, logs, "RocketMQ remoting")
	bs := "--bootstrap-server=" + addr
	mustCmd(t, "topic", "create", "rseek", "--partitions", "2", bs)
	prod, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	var recs []*kgo.Record
	for i := range 10 {
		recs = append(recs, &kgo.Record{Topic: "rseek", Partition: int32(i % 2), Value: []byte("v")})
	}
	if err := prod.ProduceSync(t.Context(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	pc, err := rocketmq.NewPushConsumer(consumer.WithNsResolver(primitive.NewPassthroughResolver([]string{nsAddr})),
		consumer.WithInstance(t.Name()), consumer.WithGroupName("rg"), consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset))
	if err != nil {
		t.Fatal(err)
	}
	var got atomic.Int64
	err = pc.Subscribe("rseek", consumer.MessageSelector{Type: consumer.TAG, Expression: "*"},
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
	stopped := false
	defer func() {
		if !stopped {
			_ = pc.Shutdown()
		}
	}()
	for deadline := time.Now().Add(30 * time.Second); got.Load() < 10; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the push consumer got %d of 10", got.Load())
		}
	}
	_, err = twinmqCmd(t, "group", "seek", "rg", "--to", "start", "--broker-addr", rmqAddr, bs)
	if err == nil || !strings.Contains(err.Error(), "1 live consumer (RocketMQ") {
		t.Fatalf("seek of a group with a live RocketMQ consumer: %v, want a refusal", err)
	}

	// Shutdown writes the consumer's offsets back (UPDATE_CONSUMER_OFFSET,
	// oneway) and unregisters it.
	if err := pc.Shutdown(); err != nil {
		t.Fatal(err)
	}
	stopped = true
	for q := range 2 {
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			off := queryConsumerOffset(t, rmqAddr, "rg", "rseek", q)
			if off == 5 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("queue %d: QUERY_CONSUMER_OFFSET %d after the consumer stopped, want 5", q, off)
			}
		}
	}
	// Through kadm the group has no Kafka members and the offsets committed
	// over RocketMQ.
	if out := mustCmd(t, "group", "describe", "rg", bs); !strings.Contains(out, "group rg: Empty, 0 members") ||
		!hasRow(out, "rseek", "0", "5", "5", "0", "-", "-", "-") || !hasRow(out, "rseek", "1", "5", "5", "0", "-", "-", "-") {
		t.Fatalf("describe of the RocketMQ group:\n%s", out)
	}

	out := mustCmd(t, "group", "seek", "rg", "--to", "start", "--broker-addr", rmqAddr, bs)
	if !hasRow(out, "rseek", "0", "5", "0", "5") || !hasRow(out, "rseek", "1", "5", "0", "5") {
		t.Fatalf("seek printed:\n%s", out)
	}
	for q := range 2 {
		if off := queryConsumerOffset(t, rmqAddr, "rg", "rseek", q); off != 0 {
			t.Fatalf("queue %d: QUERY_CONSUMER_OFFSET %d after the seek, want 0", q, off)
		}
	}

	// offset-delete reaches the RocketMQ side too.
	if out := mustCmd(t, "group", "offset-delete", "rg", "--topics", "rseek:1", bs); !strings.Contains(out, "deleted the offsets of group rg on rseek/1") {
		t.Fatalf("offset-delete printed %q", out)
	}
	if q0, q1 := queryConsumerOffset(t, rmqAddr, "rg", "rseek", 0), queryConsumerOffset(t, rmqAddr, "rg", "rseek", 1); q0 != 0 || q1 != -1 {
		t.Fatalf("after offset-delete of queue 1: QUERY_CONSUMER_OFFSET %d and %d, want 0 and not found", q0, q1)
	}
}
