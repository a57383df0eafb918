package compattests

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/admin"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/twinmq/twinmq/wire/remoting"
)

// routeQueues is the queue count the name server gives RocketMQ clients.
func (b *xBroker) routeQueues(topic string) int {
	r, ok := b.rmq.ns.Table().Route(topic)
	if !ok || len(r.QueueDatas) != 1 {
		return -1
	}
	return int(r.QueueDatas[0].ReadQueueNums)
}

// kafkaPartitions is the partition count Kafka Metadata reports (-1: not
// listed).
func (b *xBroker) kafkaPartitions(t *testing.T, topic string) int {
	t.Helper()
	adm := kadm.NewClient(kgoClient(t, b.kafkaAddr))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	td, err := adm.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	d, ok := td[topic]
	if !ok || d.Err != nil {
		return -1
	}
	return len(d.Partitions)
}

func (b *xBroker) rmqAdmin(t *testing.T) admin.Admin {
	t.Helper()
	adm, err := admin.NewAdmin(admin.WithResolver(b.rmq.resolver()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { adm.Close() })
	return adm
}

// TestXProtoTopicNamesAndConfig: a topic created from either side is seen
// by the other under the same name with the same queue count, and queue
// count changes from either side show on the other. A name with '.'
// (Kafka's, refused by RocketMQ's Java client) works on Kafka and on
// rocketmq-client-go, which does not check topic names; a name with '%'
// and '|' (RocketMQ's, refused by Kafka's CreateTopics) is listed by
// Kafka Metadata verbatim and works fully on RocketMQ.
func TestXProtoTopicNamesAndConfig(t *testing.T) {
	b := startXBroker(t)
	ctx := context.Background()
	n := time.Now().UnixNano() % 1_000_000
	dotted := fmt.Sprintf("xp.orders.v%d", n)
	ret := "3600000"
	createTopic(t, b.kafkaAddr, dotted, 3, map[string]*string{"retention.ms": &ret})
	waitFor(t, 10*time.Second, func() bool { return b.routeQueues(dotted) == 3 })
	if c, ok := b.reg.Get(dotted); !ok || c.RetentionMs != 3_600_000 {
		t.Fatalf("registry after Kafka create: %+v", c)
	}
	kadmc := kadm.NewClient(kgoClient(t, b.kafkaAddr))
	if _, err := kadmc.UpdatePartitions(ctx, 5, dotted); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, func() bool { return b.routeQueues(dotted) == 5 })
	cl := kgoClient(t, b.kafkaAddr)
	for i := range 5 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: dotted, Partition: int32(i), Value: fmt.Append(nil, "dot-", i)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	got := xPush(t, b, dotted, uniqueGroup(t, "xg_dotted"), "*", 5)
	if len(got) != 5 {
		t.Fatalf("rocketmq-client-go read %d of the dotted topic's 5 records", len(got))
	}

	odd := fmt.Sprintf("%%xp|pipe-%d", n)
	adm := b.rmqAdmin(t)
	if err := adm.CreateTopic(ctx, admin.WithTopicCreate(odd), admin.WithBrokerAddrCreate(b.rmq.brokerAddr),
		admin.WithReadQueueNums(5), admin.WithWriteQueueNums(5)); err != nil {
		t.Fatal(err)
	}
	b.waitRoute(t, odd)
	if p := b.kafkaPartitions(t, odd); p != 5 {
		t.Fatalf("Kafka Metadata lists %q with %d partitions, want 5", odd, p)
	}
	if r, err := kadmc.CreateTopic(ctx, 1, 1, nil, "xp%bad"); err == nil && r.Err == nil {
		t.Fatal("Kafka CreateTopics accepted a name with '%'")
	}
	p := b.rmq.producer(t)
	for i := range 4 {
		if r, err := p.SendSync(ctx, primitive.NewMessage(odd, fmt.Append(nil, "odd-", i))); err != nil || r.Status != primitive.SendOK {
			t.Fatalf("send to %q: %v %v", odd, r, err)
		}
	}
	if got := xPush(t, b, odd, uniqueGroup(t, "xg_odd"), "*", 4); len(got) != 4 {
		t.Fatalf("RocketMQ read %d of 4 on %q", len(got), odd)
	}
	if err := adm.CreateTopic(ctx, admin.WithTopicCreate(odd), admin.WithBrokerAddrCreate(b.rmq.brokerAddr),
		admin.WithReadQueueNums(7), admin.WithWriteQueueNums(7)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, func() bool { return b.kafkaPartitions(t, odd) == 7 })
}

// TestXProtoQueryKafkaRecords: records produced by a Kafka client are
// found by RocketMQ QUERY_MESSAGE by key and by the UNIQ_KEY a RocketMQ
// consumer saw as their MsgId, and VIEW_MESSAGE_BY_ID on their offset
// message id returns them, converted as the consumer saw them.
func TestXProtoQueryKafkaRecords(t *testing.T) {
	b := startXBroker(t)
	topic := kafkaTopicName(t, "query")
	b.createXTopic(t, topic, 1)
	cl := kgoClient(t, b.kafkaAddr)
	ctx := context.Background()
	for i := range 3 {
		r := &kgo.Record{Topic: topic, Key: fmt.Append(nil, "qk-", i), Value: fmt.Append(nil, "qv-", i),
			Headers: []kgo.RecordHeader{{Key: "TAGS", Value: []byte("TagQ")}}}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	seen := xPush(t, b, topic, uniqueGroup(t, "xg_query"), "TagQ", 3)
	now := strconv.FormatInt(time.Now().Add(time.Minute).UnixMilli(), 10)
	query := func(key string, uniq bool) []*primitive.MessageExt {
		ext := map[string]string{"topic": topic, "key": key, "maxNum": "32", "beginTimestamp": "0", "endTimestamp": now}
		if uniq {
			ext["_UNIQUE_KEY_QUERY"] = "true"
		}
		r := brokerCall(t, b.rmq, remoting.QueryMessage, ext, nil)
		if r.Code != remoting.Success {
			t.Logf("query %q: code %d %s", key, r.Code, r.Remark)
			return nil
		}
		return primitive.DecodeMessage(r.Body)
	}
	for _, m := range seen {
		i := m.value[len(m.value)-1] - '0'
		byKey := query(fmt.Sprint("qk-", i), false)
		if len(byKey) != 1 || string(byKey[0].Body) != m.value || byKey[0].MsgId != m.msgID {
			t.Fatalf("query by key qk-%d: %d messages", i, len(byKey))
		}
		byID := query(m.msgID, true)
		if len(byID) != 1 || string(byID[0].Body) != m.value || byID[0].GetTags() != "TagQ" {
			t.Fatalf("query by UNIQ_KEY %s: %d messages", m.msgID, len(byID))
		}
		v := brokerCall(t, b.rmq, remoting.ViewMessageByID, map[string]string{"offset": strconv.FormatInt(m.phys, 10)}, nil)
		vs := primitive.DecodeMessage(v.Body)
		if v.Code != remoting.Success || len(vs) != 1 || vs[0].OffsetMsgId != m.offsetMsgID {
			t.Fatalf("view %s: code %d, %d messages", m.offsetMsgID, v.Code, len(vs))
		}
	}
	// KEYS and UNIQ_KEY set as headers by the Kafka producer are indexed.
	r := &kgo.Record{Topic: topic, Value: []byte("with-headers"),
		Headers: []kgo.RecordHeader{{Key: "KEYS", Value: []byte("alpha beta")}, {Key: "UNIQ_KEY", Value: []byte("PRODUCERSETID01")}}}
	if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"beta", "PRODUCERSETID01"} {
		var ms []*primitive.MessageExt
		waitFor(t, 5*time.Second, func() bool { ms = query(k, k != "beta"); return len(ms) == 1 })
		if string(ms[0].Body) != "with-headers" || ms[0].MsgId != "PRODUCERSETID01" || ms[0].GetKeys() != "alpha beta" {
			t.Fatalf("query %s: %s %s %q", k, ms[0].Body, ms[0].MsgId, ms[0].GetKeys())
		}
	}
}
