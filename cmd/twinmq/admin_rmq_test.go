package main

import (
	"context"
	"encoding/json"
	"slices"
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

	"github.com/twinmq/twinmq/broker/remotingapi"
	"github.com/twinmq/twinmq/nameserver"
	"github.com/twinmq/twinmq/wire/remoting"
)

// rmqAdmin sends one admin request with Java's header field names to the
// broker at addr and returns the response.
func rmqAdmin(t *testing.T, addr string, code int32, ext map[string]string) *remoting.Command {
	t.Helper()
	c, err := nameserver.Dial(t.Context(), addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := remoting.NewRequest(code, 0)
	for k, v := range ext {
		req.ExtFields[k] = v
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	resp, err := c.Invoke(ctx, req)
	if err != nil {
		t.Fatalf("code %d: %v", code, err)
	}
	return resp
}

// waitRoute waits until the name server at nsAddr routes topic with
// queues write queues: a RocketMQ producer that asks before the broker's
// registration after a topic creation takes TBW102's route and sends to
// queues the topic does not have.
func waitRoute(t *testing.T, nsAddr, topic string, queues int32) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		resp := rmqAdmin(t, nsAddr, remoting.GetRouteinfoByTopic, map[string]string{"topic": topic})
		var route nameserver.TopicRouteData
		if resp.Code == remoting.Success && json.Unmarshal(resp.Body, &route) == nil && len(route.QueueDatas) == 1 &&
			route.QueueDatas[0].WriteQueueNums == queues {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the name server does not route %s with %d queues: %d %s", topic, queues, resp.Code, resp.Body)
		}
	}
}

// consumeStats is GET_CONSUME_STATS (208) decoded: the consumer offsets
// summed over the queues, and their count.
func consumeStats(t *testing.T, addr, group, topic string) (sum int64, queues int) {
	t.Helper()
	resp := rmqAdmin(t, addr, 208, map[string]string{"consumerGroup": group, "topic": topic})
	if resp.Code != remoting.Success {
		t.Fatalf("GET_CONSUME_STATS: %d %s", resp.Code, resp.Remark)
	}
	table, err := remotingapi.DecodeMQMap[remotingapi.OffsetWrapper](resp.Body, "offsetTable")
	if err != nil {
		t.Fatalf("GET_CONSUME_STATS body %s: %v", resp.Body, err)
	}
	for mq, w := range table {
		if mq.Topic != topic || mq.BrokerName == "" || w.BrokerOffset != 2 {
			t.Fatalf("GET_CONSUME_STATS entry %+v: %+v, want 2 messages per queue", mq, w)
		}
		sum += w.ConsumerOffset
	}
	return sum, len(table)
}

// waitConsumed polls until the group's offsets on topic sum to want.
func waitConsumed(t *testing.T, addr, group, topic string, want int64) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if sum, _ := consumeStats(t, addr, group, topic); sum == want {
			return
		}
		if time.Now().After(deadline) {
			sum, _ := consumeStats(t, addr, group, topic)
			t.Fatalf("consumer offsets of %s sum to %d, want %d", group, sum, want)
		}
	}
}

// TestRocketMQAdminRequests: with a rocketmq-client-go producer and push
// consumer live on a `twinmq serve`, the admin requests mqadmin and
// rocketmq-dashboard send, with Java's field names, answer what the
// clients did: topic stats (202), consume stats (208), consumer and
// producer connections (203, 204), who consumes a topic (300), time spans
// (303), every offset (43), every group's stats (317), the consumer's
// running info and a direct consumption relayed to it (307, 309). INVOKE_BROKER_TO_RESET_OFFSET (222) as mqadmin
// resetOffsetByTime sends it rewinds the live consumer, which the broker
// tells with RESET_CONSUMER_CLIENT_OFFSET (220): it consumes everything
// again; `twinmq group seek --force` does the same through 220.
// DELETE_SUBSCRIPTIONGROUP (207) with cleanOffset drops a group's offsets.
func TestRocketMQAdminRequests(t *testing.T) {
	rlog.SetLogLevel("fatal")
	logs := serveForTest(t)
	kafka, nsAddr, rmqAddr := listenAddr(t, logs, "Kafka"), listenAddr(t, logs, "name server"), listenAddr(t, logs, "RocketMQ remoting")
	bs := "--bootstrap-server=" + kafka
	mustCmd(t, "topic", "create", "adm", "--partitions", "2", bs)
	waitRoute(t, nsAddr, "adm", 2)
	ns := primitive.NewPassthroughResolver([]string{nsAddr})

	p, err := rocketmq.NewProducer(producer.WithNsResolver(ns), producer.WithGroupName("admpg"))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = p.Shutdown() }()
	var lastSent *primitive.SendResult
	for range 4 {
		m := primitive.NewMessage("adm", []byte("m")).WithTag("TagA")
		if lastSent, err = p.SendSync(t.Context(), m); err != nil {
			t.Fatal(err)
		}
	}

	// 202: 4 messages over 2 queues (the Go producer round-robins), once
	// dispatched.
	type topicOffset struct {
		MinOffset, MaxOffset, LastUpdateTimestamp int64
	}
	var resp *remoting.Command
	var stats map[remotingapi.MessageQueue]topicOffset
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		resp = rmqAdmin(t, rmqAddr, 202, map[string]string{"topic": "adm"})
		stats, err = remotingapi.DecodeMQMap[topicOffset](resp.Body, "offsetTable")
		var sum int64
		for _, o := range stats {
			sum += o.MaxOffset
		}
		if sum == 4 || time.Now().After(deadline) {
			break
		}
	}
	if resp.Code != remoting.Success || err != nil || len(stats) != 2 {
		t.Fatalf("GET_TOPIC_STATS_INFO: %d %s %s: %v", resp.Code, resp.Remark, resp.Body, err)
	}
	for mq, o := range stats {
		if o.MinOffset != 0 || o.MaxOffset != 2 || o.LastUpdateTimestamp <= 0 {
			t.Fatalf("GET_TOPIC_STATS_INFO %+v: %+v\n%s", mq, o, resp.Body)
		}
	}
	if !strings.Contains(string(resp.Body), `"topicPutTps":`) {
		t.Fatalf("GET_TOPIC_STATS_INFO body without topicPutTps: %s", resp.Body)
	}
	// 315: the producer's sends are recorded under TOPIC_PUT_NUMS (its
	// windows fill at the next 10 s sample), none under another topic.
	if resp := rmqAdmin(t, rmqAddr, 315, map[string]string{"statsName": "TOPIC_PUT_NUMS", "statsKey": "adm"}); resp.Code != remoting.Success ||
		!strings.HasPrefix(string(resp.Body), `{"statsDay":{"avgpt":`) {
		t.Fatalf("VIEW_BROKER_STATS_DATA TOPIC_PUT_NUMS adm: %d %s %s", resp.Code, resp.Remark, resp.Body)
	}
	if resp := rmqAdmin(t, rmqAddr, 315, map[string]string{"statsName": "TOPIC_PUT_NUMS", "statsKey": "nope"}); resp.Code != remoting.SystemError {
		t.Fatalf("VIEW_BROKER_STATS_DATA of a topic never written: %d %s", resp.Code, resp.Remark)
	}
	if resp := rmqAdmin(t, rmqAddr, 202, map[string]string{"topic": "nope"}); resp.Code != remoting.TopicNotExist {
		t.Fatalf("GET_TOPIC_STATS_INFO of a missing topic: %d %s", resp.Code, resp.Remark)
	}
	if resp := rmqAdmin(t, rmqAddr, 203, map[string]string{"consumerGroup": "admcg"}); resp.Code != remoting.ConsumerNotOnline {
		t.Fatalf("GET_CONSUMER_CONNECTION_LIST before the consumer starts: %d %s", resp.Code, resp.Remark)
	}

	pc, err := rocketmq.NewPushConsumer(consumer.WithNsResolver(ns), consumer.WithInstance(t.Name()), consumer.WithGroupName("admcg"),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset))
	if err != nil {
		t.Fatal(err)
	}
	var got atomic.Int64
	err = pc.Subscribe("adm", consumer.MessageSelector{Type: consumer.TAG, Expression: "TagA || TagB"},
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
	defer func() { _ = pc.Shutdown() }()
	waitConsumed(t, rmqAddr, "admcg", "adm", 4)

	// 203: the Go client, its address and the subscription.
	resp = rmqAdmin(t, rmqAddr, 203, map[string]string{"consumerGroup": "admcg"})
	var cc remotingapi.ConsumerConnection
	if resp.Code != remoting.Success || json.Unmarshal(resp.Body, &cc) != nil {
		t.Fatalf("GET_CONSUMER_CONNECTION_LIST: %d %s %s", resp.Code, resp.Remark, resp.Body)
	}
	sub := cc.SubscriptionTable["adm"]
	if len(cc.ConnectionSet) != 1 || cc.ConnectionSet[0].Language != "GO" || cc.ConnectionSet[0].ClientAddr == "" ||
		!strings.Contains(cc.ConnectionSet[0].ClientID, t.Name()) || cc.MessageModel != "Clustering" && cc.MessageModel != "CLUSTERING" ||
		sub.SubString != "TagA || TagB" || !slices.Contains(sub.TagsSet, "TagA") || len(sub.CodeSet) != len(sub.TagsSet) {
		t.Fatalf("GET_CONSUMER_CONNECTION_LIST: %s", resp.Body)
	}
	// 307 and 309 relayed to the consumer on its connection: its running
	// info, and a direct consumption of one message.
	clientID := cc.ConnectionSet[0].ClientID
	// The client's answer comes back as it is: its running info, or
	// rocketmq-client-go's own remark when it cannot encode it (it answers
	// SUCCESS with "json marshal error: ... NaN" while its consume rates
	// are not yet computed).
	resp = rmqAdmin(t, rmqAddr, 307, map[string]string{"consumerGroup": "admcg", "clientId": clientID, "jstackEnable": "false"})
	if resp.Code != remoting.Success || resp.Language != "JAVA" ||
		!strings.Contains(string(resp.Body), `"properties"`) && !strings.Contains(resp.Remark, "json marshal error") {
		t.Fatalf("GET_CONSUMER_RUNNING_INFO: %d %q %s", resp.Code, resp.Remark, resp.Body)
	}
	if resp := rmqAdmin(t, rmqAddr, 307, map[string]string{"consumerGroup": "admcg", "clientId": "nobody"}); resp.Code != remoting.SystemError ||
		!strings.Contains(resp.Remark, "not online") {
		t.Fatalf("GET_CONSUMER_RUNNING_INFO of an unknown client: %d %s", resp.Code, resp.Remark)
	}
	before := got.Load()
	resp = rmqAdmin(t, rmqAddr, 309, map[string]string{"consumerGroup": "admcg", "clientId": clientID, "msgId": lastSent.OffsetMsgID})
	if resp.Code != remoting.Success || !strings.Contains(string(resp.Body), `"consumeResult":0`) || got.Load() != before+1 {
		t.Fatalf("CONSUME_MESSAGE_DIRECTLY: %d %s %s (consumed %d then %d)", resp.Code, resp.Remark, resp.Body, before, got.Load())
	}

	// 204: the producer group.
	resp = rmqAdmin(t, rmqAddr, 204, map[string]string{"producerGroup": "admpg"})
	var pcs struct{ ConnectionSet []remotingapi.Connection }
	if resp.Code != remoting.Success || json.Unmarshal(resp.Body, &pcs) != nil || len(pcs.ConnectionSet) != 1 ||
		pcs.ConnectionSet[0].Language != "GO" {
		t.Fatalf("GET_PRODUCER_CONNECTION_LIST: %d %s %s", resp.Code, resp.Remark, resp.Body)
	}
	if resp := rmqAdmin(t, rmqAddr, 204, map[string]string{"producerGroup": "nope"}); resp.Code != remoting.SystemError {
		t.Fatalf("GET_PRODUCER_CONNECTION_LIST of an unknown group: %d", resp.Code)
	}
	// 300: the group consumes the topic.
	resp = rmqAdmin(t, rmqAddr, 300, map[string]string{"topic": "adm"})
	var gl struct{ GroupList []string }
	if resp.Code != remoting.Success || json.Unmarshal(resp.Body, &gl) != nil || !slices.Contains(gl.GroupList, "admcg") {
		t.Fatalf("QUERY_TOPIC_CONSUME_BY_WHO: %d %s", resp.Code, resp.Body)
	}
	// 303: a span per queue, everything consumed so no delay.
	resp = rmqAdmin(t, rmqAddr, 303, map[string]string{"topic": "adm", "group": "admcg"})
	var spans struct{ ConsumeTimeSpanSet []remotingapi.QueueTimeSpan }
	if resp.Code != remoting.Success || json.Unmarshal(resp.Body, &spans) != nil || len(spans.ConsumeTimeSpanSet) != 2 {
		t.Fatalf("QUERY_CONSUME_TIME_SPAN: %d %s", resp.Code, resp.Body)
	}
	for _, s := range spans.ConsumeTimeSpanSet {
		if s.MinTimeStamp <= 0 || s.MaxTimeStamp < s.MinTimeStamp || s.ConsumeTimeStamp != s.MaxTimeStamp || s.DelayTime != 0 {
			t.Fatalf("QUERY_CONSUME_TIME_SPAN span %+v", s)
		}
	}
	// 43: topic@group -> queue -> offset.
	resp = rmqAdmin(t, rmqAddr, 43, nil)
	var all struct{ OffsetTable map[string]map[string]int64 }
	if resp.Code != remoting.Success || json.Unmarshal(resp.Body, &all) != nil || all.OffsetTable["adm@admcg"]["0"] != 2 {
		t.Fatalf("GET_ALL_CONSUMER_OFFSET: %d %s", resp.Code, resp.Body)
	}

	// 317: every group's stats, the total diff 0 (all consumed).
	resp = rmqAdmin(t, rmqAddr, 317, map[string]string{"isOrder": "false"})
	if b := string(resp.Body); resp.Code != remoting.Success || !strings.HasPrefix(b, `{"brokerAddr":"`+rmqAddr+`","consumeStatsList":[{"admcg":[`) ||
		!strings.Contains(b, `{"consumeTps":0.0,"offsetTable":{{"brokerName":"broker-a","queueId":0,"topic":"adm"}:{"brokerOffset":2,"consumerOffset":2,`) ||
		!strings.HasSuffix(b, `],"totalDiff":0,"totalInflightDiff":0}`) {
		t.Fatalf("GET_BROKER_CONSUME_STATS: %d %s", resp.Code, resp.Body)
	}

	// 222 as mqadmin resetOffsetByTime -t adm -g admcg -s 0 sends it: back
	// to the first message; the live consumer hears 220 and reads again
	// what it had read. Without 220 it would not: a running consumer pulls
	// from the offsets it holds and writes them back over the reset.
	// rocketmq-client-go waits 10 s, then drops its queues and takes them
	// again at the next rebalance, which can race with that wait: a queue
	// may come back at its old offset, so at least one message again is
	// what the test asks.
	before = got.Load()
	resp = rmqAdmin(t, rmqAddr, remotingapi.InvokeBrokerToResetOffset,
		map[string]string{"topic": "adm", "group": "admcg", "timestamp": "0", "isForce": "true"})
	reset, err := remotingapi.DecodeMQMap[int64](resp.Body, "offsetTable")
	if resp.Code != remoting.Success || err != nil || len(reset) != 2 {
		t.Fatalf("INVOKE_BROKER_TO_RESET_OFFSET: %d %s %s: %v", resp.Code, resp.Remark, resp.Body, err)
	}
	for mq, off := range reset {
		if off != 0 {
			t.Fatalf("reset %+v to %d, want 0", mq, off)
		}
	}
	for deadline := time.Now().Add(60 * time.Second); got.Load() <= before; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after the reset the consumer got nothing again (%d messages in all)", got.Load())
		}
	}
	waitConsumed(t, rmqAddr, "admcg", "adm", 4)

	// group seek --force with --broker-addr: committed, and the live
	// consumer told, so it reads again.
	before = got.Load()
	out, err := twinmqCmd(t, "group", "seek", "admcg", "--to", "start", "--force", "--broker-addr", rmqAddr, bs)
	if err != nil || !strings.Contains(out, "told the live RocketMQ consumers of group admcg") {
		t.Fatalf("seek --force: %v\n%s", err, out)
	}
	for deadline := time.Now().Add(60 * time.Second); got.Load() <= before; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after seek --force the consumer got nothing again (%d messages in all)", got.Load())
		}
	}
	waitConsumed(t, rmqAddr, "admcg", "adm", 4)

	// 207: without cleanOffset the offsets stay; with it they go. (A group
	// of its own, committed with UPDATE_CONSUMER_OFFSET: a stopping
	// consumer writes its offsets back one way, and those may land after.)
	for q := range 2 {
		resp := rmqAdmin(t, rmqAddr, remoting.UpdateConsumerOffset, map[string]string{"consumerGroup": "admdel", "topic": "adm",
			"queueId": strconv.Itoa(q), "commitOffset": "1"})
		if resp.Code != remoting.Success {
			t.Fatalf("UPDATE_CONSUMER_OFFSET: %d %s", resp.Code, resp.Remark)
		}
	}
	if resp := rmqAdmin(t, rmqAddr, 207, map[string]string{"groupName": "admdel"}); resp.Code != remoting.Success {
		t.Fatalf("DELETE_SUBSCRIPTIONGROUP: %d %s", resp.Code, resp.Remark)
	}
	if sum, _ := consumeStats(t, rmqAddr, "admdel", "adm"); sum != 2 {
		t.Fatalf("DELETE_SUBSCRIPTIONGROUP without cleanOffset left offsets summing to %d, want 2", sum)
	}
	if resp := rmqAdmin(t, rmqAddr, 207, map[string]string{"groupName": "admdel", "cleanOffset": "true"}); resp.Code != remoting.Success {
		t.Fatalf("DELETE_SUBSCRIPTIONGROUP: %d %s", resp.Code, resp.Remark)
	}
	if sum, n := consumeStats(t, rmqAddr, "admdel", "adm"); sum != 0 || n != 2 {
		t.Fatalf("after DELETE_SUBSCRIPTIONGROUP with cleanOffset: offsets sum %d over %d queues, want 0 over 2", sum, n)
	}
}
