package compattests

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/admin"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/twinmq/twinmq/broker/remotingapi"
	"github.com/twinmq/twinmq/wire/remoting"
)

// TestRocketMQAdminCreateDeleteTopic: the Go admin client creates a topic
// (UPDATE_AND_CREATE_TOPIC 17) that the name server routes at once with
// its queue count, lists it (206), and deletes it from broker and name
// server (215, 216).
func TestRocketMQAdminCreateDeleteTopic(t *testing.T) {
	c := startRocketMQ(t, t.TempDir())
	adm, err := admin.NewAdmin(admin.WithResolver(c.resolver()))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	ctx := context.Background()
	const topic = "RmqAdminTopic"
	err = adm.CreateTopic(ctx, admin.WithTopicCreate(topic), admin.WithBrokerAddrCreate(c.brokerAddr),
		admin.WithReadQueueNums(6), admin.WithWriteQueueNums(6))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, func() bool {
		r, ok := c.ns.Table().Route(topic)
		return ok && len(r.QueueDatas) == 1 && r.QueueDatas[0].WriteQueueNums == 6 && r.QueueDatas[0].Perm == 6
	})
	list, err := adm.FetchAllTopicList(ctx)
	if err != nil || !slices.Contains(list.TopicList, topic) {
		t.Fatalf("topic list %v, %v", list, err)
	}
	mqs, err := adm.FetchPublishMessageQueues(ctx, topic)
	if err != nil || len(mqs) != 6 {
		t.Fatalf("publish queues %v, %v", mqs, err)
	}
	p := c.producer(t)
	sent := sendResults(t, p, topic, "TagT", 0, 6)
	col := newCollector()
	pc := c.pushConsumer(t, "cg_admin")
	if err := pc.Subscribe(topic, consumer.MessageSelector{}, col.handler); err != nil {
		t.Fatal(err)
	}
	if err := pc.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, func() bool { return col.n.Load() >= 6 })
	checkAll(t, col, topic, "TagT", sent)
	_ = pc.Shutdown()

	err = adm.DeleteTopic(ctx, admin.WithTopicDelete(topic), admin.WithBrokerAddrDelete(c.brokerAddr),
		admin.WithNameSrvAddr([]string{c.nsAddr}))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.current().topics.Get(topic); ok {
		t.Fatal("topic still on the broker")
	}
	// The name server dropped the route at once, and the broker's next
	// registration does not bring it back.
	if _, ok := c.ns.Table().Route(topic); ok {
		t.Fatal("route still on the name server")
	}
	if r := rawCall(t, c.nsAddr, remoting.GetRouteinfoByTopic, map[string]string{"topic": topic}, nil); r.Code != remoting.TopicNotExist {
		t.Fatalf("route of a deleted topic: code %d", r.Code)
	}
	list, err = adm.FetchAllTopicList(ctx)
	if err != nil || slices.Contains(list.TopicList, topic) {
		t.Fatalf("topic list after delete %v, %v", list, err)
	}
}

// TestRocketMQQueryMessage: QUERY_MESSAGE (12) by key and by UNIQ_KEY and
// VIEW_MESSAGE_BY_ID (33) by offsetMsgId return records the Go client's
// decoder reads back field for field; unknown keys answer QUERY_NOT_FOUND.
func TestRocketMQQueryMessage(t *testing.T) {
	c := startRocketMQ(t, t.TempDir())
	p := c.producer(t)
	const topic = "RmqQueryTopic"
	sent := sendResults(t, p, topic, "TagQ", 0, 8)
	// The index is built by dispatch, after the send is acknowledged.
	now := strconv.FormatInt(time.Now().Add(time.Minute).UnixMilli(), 10)
	query := func(key string, uniq bool) *remoting.Command {
		ext := map[string]string{"topic": topic, "key": key, "maxNum": "32", "beginTimestamp": "0", "endTimestamp": now}
		if uniq {
			ext["_UNIQUE_KEY_QUERY"] = "true"
		}
		return brokerCall(t, c, remoting.QueryMessage, ext, nil)
	}
	var r *remoting.Command
	waitFor(t, 5*time.Second, func() bool { r = query("k7", false); return r.Code == remoting.Success })
	for _, s := range sent {
		for _, uniq := range []bool{false, true} {
			key := fmt.Sprint("k", s.i)
			if uniq {
				key = s.uniqID
			}
			r := query(key, uniq)
			msgs := primitive.DecodeMessage(r.Body)
			if r.Code != remoting.Success || len(msgs) != 1 {
				t.Fatalf("query %s: code %d, %d messages", key, r.Code, len(msgs))
			}
			checkMsg(t, msgs[0], topic, "TagQ", s)
		}
		id, err := primitive.UnmarshalMsgID([]byte(s.offID))
		if err != nil || fmt.Sprintf("%s:%d", id.Addr, id.Port) != c.brokerAddr {
			t.Fatalf("offsetMsgId %s: %+v %v", s.offID, id, err)
		}
		v := brokerCall(t, c, remoting.ViewMessageByID, map[string]string{"offset": strconv.FormatInt(id.Offset, 10)}, nil)
		msgs := primitive.DecodeMessage(v.Body)
		if v.Code != remoting.Success || len(msgs) != 1 {
			t.Fatalf("view %s: code %d, %d messages", s.offID, v.Code, len(msgs))
		}
		checkMsg(t, msgs[0], topic, "TagQ", s)
	}
	if r := query("no-such-key", false); r.Code != remoting.QueryNotFound {
		t.Fatalf("unknown key: code %d", r.Code)
	}
	if r := brokerCall(t, c, remoting.ViewMessageByID, map[string]string{"offset": "99999999"}, nil); r.Code != remoting.SystemError {
		t.Fatalf("view of a bad offset: code %d", r.Code)
	}
}

// TestRocketMQBrokerToClientRequests: the broker asks a live push consumer
// for its running info (307) and has it consume one stored message
// directly (309), on the consumer's own connection.
func TestRocketMQBrokerToClientRequests(t *testing.T) {
	c := startRocketMQ(t, t.TempDir())
	p := c.producer(t)
	const topic, group = "RmqDirectTopic", "cg_direct"
	sent := sendResults(t, p, topic, "TagX", 0, 3)
	col := newCollector()
	pc := c.pushConsumer(t, group)
	if err := pc.Subscribe(topic, consumer.MessageSelector{}, col.handler); err != nil {
		t.Fatal(err)
	}
	if err := pc.Start(); err != nil {
		t.Fatal(err)
	}
	defer pc.Shutdown()
	waitFor(t, 20*time.Second, func() bool { return col.n.Load() >= 3 })
	ids := consumerIDs(t, c, group)
	if len(ids) != 1 {
		t.Fatalf("consumer ids %v", ids)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	b := c.current().broker

	info, err := b.ConsumerRunningInfo(ctx, group, ids[0], false)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"PROP_CONSUME_TYPE":"CONSUME_PASSIVELY"`, `"topic":"` + topic + `"`, `"subString":"*"`} {
		if !bytes.Contains(info, []byte(want)) {
			t.Fatalf("running info lacks %s: %s", want, info)
		}
	}
	if len(runningQueues(t, c, group, ids[0], topic)) != 4 {
		t.Fatalf("running info queues: %s", info)
	}

	res, err := b.ConsumeMessageDirectly(ctx, group, ids[0], sent[1].offID)
	if err != nil {
		t.Fatal(err)
	}
	var direct struct {
		ConsumeResult int  `json:"consumeResult"`
		AutoCommit    bool `json:"autoCommit"`
	}
	if err := json.Unmarshal(res, &direct); err != nil || direct.ConsumeResult != 0 || !direct.AutoCommit {
		t.Fatalf("consume directly: %s, %v", res, err)
	}
	col.mu.Lock()
	got := col.msgs["body-1"]
	col.mu.Unlock()
	if len(got) != 2 {
		t.Fatalf("body-1 delivered %d times, want the normal delivery and the direct one", len(got))
	}
	checkMsg(t, got[1], topic, "TagX", sent[1])

	if _, err := b.ConsumerRunningInfo(ctx, group, "10.9.9.9@nobody", false); !errors.Is(err, remotingapi.ErrConsumerNotOnline) {
		t.Fatalf("unknown client: %v", err)
	}
	if _, err := b.ConsumeMessageDirectly(ctx, group, ids[0], "not-an-id"); err == nil {
		t.Fatal("bad message id accepted")
	}
}
