package remotingapi

import (
	"context"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twinmq/twinmq/broker/offsets"
	"github.com/twinmq/twinmq/broker/topics"
	"github.com/twinmq/twinmq/nameserver"
	"github.com/twinmq/twinmq/netio"
	"github.com/twinmq/twinmq/storage"
	"github.com/twinmq/twinmq/wire/remoting"
)

// startBroker serves a fresh store on loopback with no name server.
func startBroker(t testing.TB) (*Broker, *storage.Store, string) {
	t.Helper()
	return startBrokerAs(t, func(b *Broker) netio.Handler { return b })
}

// startBrokerAs is startBroker with netio calling handler(b) instead of b.
func startBrokerAs(t testing.TB, handler func(*Broker) netio.Handler) (*Broker, *storage.Store, string) {
	t.Helper()
	return startBrokerWith(t, Config{}, handler)
}

// startBrokerWith is startBrokerAs with cfg (its listener address and
// MaxSuspend are the test's).
func startBrokerWith(t testing.TB, cfg Config, handler func(*Broker) netio.Handler) (*Broker, *storage.Store, string) {
	t.Helper()
	ctx := context.Background()
	store, err := storage.Open(ctx, storage.Config{Dir: t.TempDir(), SegmentSize: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := topics.Open(ctx, store, nil)
	if err != nil {
		t.Fatal(err)
	}
	offs, err := offsets.Open(ctx, store, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg.AdvertisedAddr, cfg.MaxSuspend = addr, 2*time.Second
	b, err := New(cfg, store, reg, offs)
	if err != nil {
		t.Fatal(err)
	}
	// The framing cmd/twinmq serves with: a whole frame, its length word
	// included, of at most 16 MiB (docs/rocketmq-protocol.md §1.1).
	srv, err := netio.New(netio.Config{Addr: addr, Framer: netio.LengthPrefixed{Max: remoting.MaxFrameSize - 4},
		Ordering: netio.Concurrent}, handler(b))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	b.Start()
	t.Cleanup(func() {
		b.Close(ctx)
		_ = srv.Shutdown(ctx)
		offs.Close()
		reg.Close()
		_ = store.Close()
	})
	return b, store, addr
}

func call(t *testing.T, c *nameserver.Client, code int32, ext map[string]string, body []byte) *remoting.Command {
	t.Helper()
	req := remoting.NewRequest(code, 0)
	for k, v := range ext {
		req.ExtFields[k] = v
	}
	req.Body = body
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := c.Invoke(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func sendOne(t *testing.T, c *nameserver.Client, topic, tags, body string) *remoting.Command {
	t.Helper()
	props := remoting.AppendProperty(nil, "TAGS", tags)
	return call(t, c, remoting.SendMessageV2, map[string]string{"a": "pg", "b": topic, "c": "TBW102", "d": "4",
		"e": "0", "f": "0", "g": "1", "h": "0", "i": string(props)}, []byte(body))
}

func pull(t *testing.T, c *nameserver.Client, topic string, offset int64, sub string) *remoting.Command {
	return call(t, c, remoting.PullMessage, map[string]string{"consumerGroup": "g", "topic": topic, "queueId": "0",
		"queueOffset": strconv.FormatInt(offset, 10), "maxMsgNums": "32", "sysFlag": "6",
		"suspendTimeoutMillis": "1500", "subscription": sub}, nil)
}

// TestSendPullLongPoll: a parked pull is answered by a later send, a tag
// mismatch answers PULL_RETRY_IMMEDIATELY past it, and PHYSICALOFFSET
// resolves with VIEW_MESSAGE_BY_ID.
func TestSendPullLongPoll(t *testing.T) {
	_, _, addr := startBroker(t)
	c, err := nameserver.Dial(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if r := sendOne(t, c, "T", "A", "first"); r.Code != remoting.Success || r.ExtFields["queueOffset"] != "0" {
		t.Fatalf("send: %d %s %v", r.Code, r.Remark, r.ExtFields)
	}
	r := pull(t, c, "T", 0, "A")
	if r.Code != remoting.Success {
		t.Fatalf("pull: %d %s", r.Code, r.Remark)
	}
	m, _, err := remoting.DecodeStoredMessage(r.Body)
	if err != nil || string(m.Body) != "first" || m.QueueOffset != 0 {
		t.Fatalf("pulled %+v, %v", m, err)
	}
	// The store publishes ConsumeQueue units a moment before it advances
	// the offset ReadAt checks, so poll.
	var v *remoting.Command
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		v = call(t, c, remoting.ViewMessageByID, map[string]string{"offset": strconv.FormatInt(m.CommitLogOffset, 10)}, nil)
		if v.Code == remoting.Success || time.Now().After(deadline) {
			break
		}
	}
	if v.Code != remoting.Success || string(v.Body) != string(r.Body) {
		t.Fatalf("view by id: %d %s", v.Code, v.Remark)
	}

	var wg sync.WaitGroup
	var parked *remoting.Command
	start := time.Now()
	wg.Go(func() { parked = pull(t, c, "T", 1, "A") })
	time.Sleep(200 * time.Millisecond)
	sendOne(t, c, "T", "A", "second")
	wg.Wait()
	if parked.Code != remoting.Success || time.Since(start) > time.Second {
		t.Fatalf("parked pull: %d %s after %v", parked.Code, parked.Remark, time.Since(start))
	}

	sendOne(t, c, "T", "B", "other tag")
	if r := pull(t, c, "T", 2, "A"); r.Code != remoting.PullRetryImmediately || r.ExtFields["nextBeginOffset"] != "3" {
		t.Fatalf("filtered pull: %d %v", r.Code, r.ExtFields)
	}
	start = time.Now()
	if r := pull(t, c, "T", 3, "A"); r.Code != remoting.PullNotFound || time.Since(start) < time.Second {
		t.Fatalf("idle pull: %d after %v", r.Code, time.Since(start))
	}
	if r := pull(t, c, "T", 9, "*"); r.Code != remoting.PullOffsetMoved || r.ExtFields["nextBeginOffset"] != "3" {
		t.Fatalf("overflow pull: %d %v", r.Code, r.ExtFields)
	}
}

func TestBadRequests(t *testing.T) {
	_, store, addr := startBroker(t)
	c, err := nameserver.Dial(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cases := []struct {
		name string
		code int32
		ext  map[string]string
		body []byte
		want int32
	}{
		{"unknown code", 9999, nil, nil, remoting.RequestCodeNotSupported},
		{"path traversal topic", remoting.SendMessage, map[string]string{"topic": "../etc", "defaultTopic": "TBW102"}, []byte("x"), remoting.InvalidParameter},
		{"no topic", remoting.SendMessage, map[string]string{}, []byte("x"), remoting.InvalidParameter},
		{"bad queue id", remoting.SendMessage, map[string]string{"topic": "T", "defaultTopic": "TBW102", "queueId": "x"}, nil, remoting.InvalidParameter},
		{"unknown topic, no default", remoting.SendMessage, map[string]string{"topic": "U"}, []byte("x"), remoting.TopicNotExist},
		{"bad batch", remoting.SendBatchMessage, map[string]string{"b": "T", "c": "TBW102"}, []byte{0, 0, 0, 9}, remoting.MessageIllegal},
		{"bad heartbeat", remoting.HeartBeat, nil, []byte("{"), remoting.InvalidParameter},
		{"pull unknown topic", remoting.PullMessage, map[string]string{"consumerGroup": "g", "topic": "Z", "queueId": "0", "queueOffset": "0"}, nil, remoting.TopicNotExist},
		{"no consumers", remoting.GetConsumerListByGroup, map[string]string{"consumerGroup": "none"}, nil, remoting.SystemError},
		{"offset not found", remoting.QueryConsumerOffset, map[string]string{"consumerGroup": "g", "topic": "T", "queueId": "0", "setZeroIfNotFound": "false"}, nil, remoting.QueryNotFound},
	}
	for _, tc := range cases {
		if r := call(t, c, tc.code, tc.ext, tc.body); r.Code != tc.want {
			t.Errorf("%s: code %d (%s), want %d", tc.name, r.Code, r.Remark, tc.want)
		}
	}
	if q := store.Queues(""); len(q) > 0 {
		for _, qi := range q {
			if qi.Topic[0] != '_' {
				t.Errorf("bad requests stored into %v", qi)
			}
		}
	}
}

func TestHeartbeatConsumerList(t *testing.T) {
	b, _, addr := startBroker(t)
	c, err := nameserver.Dial(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	hb := `{"clientID":"1.2.3.4@1","producerDataSet":[],"consumerDataSet":[{"groupName":"g","consumeType":"CONSUME_PASSIVELY",` +
		`"messageModel":"CLUSTERING","consumeFromWhere":"CONSUME_FROM_FIRST_OFFSET","subscriptionDataSet":[{"topic":"T","subString":"A || B","codeSet":["65",66]}]}]}`
	if r := call(t, c, remoting.HeartBeat, nil, []byte(hb)); r.Code != remoting.Success {
		t.Fatalf("heartbeat: %d %s", r.Code, r.Remark)
	}
	if _, ok := b.topics.Get("%RETRY%g"); !ok {
		t.Fatal("retry topic not created")
	}
	r := call(t, c, remoting.GetConsumerListByGroup, map[string]string{"consumerGroup": "g"}, nil)
	if string(r.Body) != `{"consumerIdList":["1.2.3.4@1"]}` {
		t.Fatalf("consumer list %s", r.Body)
	}
	if got := b.clients.subscription("g", "T"); got != "A || B" {
		t.Fatalf("subscription %q", got)
	}
	c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for len(b.clients.groupNames()) > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if g := b.clients.groupNames(); len(g) > 0 {
		t.Fatalf("groups after close: %v", g)
	}
}

func TestLockTable(t *testing.T) {
	lt := newLockTable()
	now := time.Unix(100, 0)
	mq := []MessageQueue{{"T", "b", 0}, {"T", "b", 1}}
	if got := lt.lock("g", "c1", mq, now, time.Minute); len(got) != 2 {
		t.Fatalf("c1 got %v", got)
	}
	if got := lt.lock("g", "c2", mq, now.Add(30*time.Second), time.Minute); len(got) != 0 {
		t.Fatalf("c2 got %v while c1 holds", got)
	}
	lt.unlock("g", "c1", mq[:1])
	if got := lt.lock("g", "c2", mq, now.Add(30*time.Second), time.Minute); len(got) != 1 || got[0].QueueID != 0 {
		t.Fatalf("c2 got %v after unlock", got)
	}
	if got := lt.lock("g", "c2", mq, now.Add(2*time.Minute), time.Minute); len(got) != 2 {
		t.Fatalf("c2 got %v after expiry", got)
	}
}

func FuzzDecodeHeartbeat(f *testing.F) {
	f.Add([]byte(`{"clientID":"192.0.2.2@30692","producerDataSet":[],"consumerDataSet":[{"groupName":"smoke_group","consumeType":"CONSUME_PASSIVELY","messageModel":"CLUSTERING","consumeFromWhere":"CONSUME_FROM_FIRST_OFFSET","subscriptionDataSet":[{"classFilterMode":false,"topic":"%RETRY%smoke_group","subString":"*","tagsSet":[],"codeSet":[],"subVersion":1795573623939213766,"expressionType":"TAG"}],"unitMode":false}]}`))
	f.Add([]byte(`{"clientID":"x","consumerDataSet":[{"subscriptionDataSet":[{"codeSet":["1",2]}]}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		hb, err := DecodeHeartbeat(b)
		if err != nil {
			return
		}
		tab := newClientTable()
		tab.heartbeat(nil, hb, time.Unix(0, 0))
		for _, cd := range hb.ConsumerDataSet {
			for _, s := range cd.SubscriptionDataSet {
				_ = tagCodes(tab.subscription(cd.GroupName, s.Topic))
			}
		}
	})
}

func FuzzDecodeLockBatch(f *testing.F) {
	f.Add([]byte(`{"consumerGroup":"ord_group","clientId":"192.0.2.2@31033","mqSet":[{"topic":"%RETRY%ord_group","brokerName":"broker-a","queueId":0}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		body, err := DecodeLockBatch(b)
		if err != nil {
			return
		}
		lt := newLockTable()
		got := lt.lock(body.ConsumerGroup, body.ClientID, body.MQSet, time.Unix(0, 0), time.Minute)
		if len(got) > len(body.MQSet) {
			t.Fatal("locked more than asked")
		}
	})
}

// TestAutoCreatedTopicRoutedBeforeReply: when a send creates its topic,
// the name server has the topic's route by the time the client has the
// reply, so a consumer started right after the first send finds it.
func TestAutoCreatedTopicRoutedBeforeReply(t *testing.T) {
	ctx := context.Background()
	ns := nameserver.New(nameserver.Config{})
	nsSrv, stop, err := nameserver.Listen(ctx, "127.0.0.1:0", ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stop(ctx) })
	nsAddr := nsSrv.Addr().String()
	_, _, addr := startBrokerWith(t, Config{NamesrvAddrs: []string{nsAddr}}, func(b *Broker) netio.Handler { return b })
	bc, err := nameserver.Dial(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer bc.Close()
	nc, err := nameserver.Dial(ctx, nsAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	for i := range 5 {
		topic := "Fresh" + strconv.Itoa(i)
		if r := sendOne(t, bc, topic, "A", "first"); r.Code != remoting.Success {
			t.Fatalf("send: %d %s", r.Code, r.Remark)
		}
		if r := call(t, nc, remoting.GetRouteinfoByTopic, map[string]string{"topic": topic}, nil); r.Code != remoting.Success {
			t.Fatalf("route of %s right after its first send: %d %s", topic, r.Code, r.Remark)
		}
	}
}

// TestGetBrokerConfig: GET_BROKER_CONFIG (26) answers "key=value" lines as
// mqadmin getBrokerConfig reads them; fileReservedTime is the store's
// retention, the same hours Kafka clients see as log.retention.hours.
func TestGetBrokerConfig(t *testing.T) {
	_, st, addr := startBroker(t)
	c, err := nameserver.Dial(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := call(t, c, remoting.GetBrokerConfig, nil, nil)
	if r.Code != remoting.Success || r.ExtFields["version"] == "" {
		t.Fatalf("code %d (%s), version %q", r.Code, r.Remark, r.ExtFields["version"])
	}
	props := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(r.Body)), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("line %q", line)
		}
		props[k] = v
	}
	want := map[string]string{"fileReservedTime": strconv.Itoa(st.RetentionHours()), "brokerName": DefaultBrokerName,
		"brokerClusterName": DefaultClusterName, "flushDiskType": "ASYNC_FLUSH", "brokerId": "0"}
	for k, v := range want {
		if props[k] != v {
			t.Errorf("%s=%q, want %q", k, props[k], v)
		}
	}
	if st.RetentionHours() != 72 {
		t.Fatalf("store retention %d h", st.RetentionHours())
	}
}
