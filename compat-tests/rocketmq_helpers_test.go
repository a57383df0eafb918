package compattests

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/apache/rocketmq-client-go/v2/rlog"

	"github.com/twinmq/twinmq/broker/offsets"
	"github.com/twinmq/twinmq/broker/remotingapi"
	"github.com/twinmq/twinmq/broker/topics"
	"github.com/twinmq/twinmq/nameserver"
	"github.com/twinmq/twinmq/netio"
	"github.com/twinmq/twinmq/storage"
	"github.com/twinmq/twinmq/wire/remoting"
)

func init() {
	rlog.SetLogger(clientLog{debug: os.Getenv("TWINMQ_TEST_DEBUG") != ""})
}

// clientLog is rocketmq-client-go's logger in the tests: its errors on
// stderr, except those every run prints and that are not failures: the
// calls a client's goroutines make after Shutdown ("service close is not
// running", "use of closed network connection") and a new group's first
// offset query (QUERY_NOT_FOUND, as from a Java broker). With
// TWINMQ_TEST_DEBUG set it prints everything.
type clientLog struct{ debug bool }

var clientLogNoise = []string{"service close is not running", "use of closed network connection",
	"fetch offset of mq from broker error"}

func (l clientLog) print(level, msg string, fields map[string]any) {
	line := fmt.Sprintf("rocketmq-client-go %s: %s %v", level, msg, fields)
	if !l.debug && level != "fatal" {
		if level != "error" {
			return
		}
		for _, n := range clientLogNoise {
			if strings.Contains(line, n) {
				return
			}
		}
	}
	fmt.Fprintln(os.Stderr, line)
}

func (l clientLog) Debug(msg string, f map[string]any)   { l.print("debug", msg, f) }
func (l clientLog) Info(msg string, f map[string]any)    { l.print("info", msg, f) }
func (l clientLog) Warning(msg string, f map[string]any) { l.print("warning", msg, f) }
func (l clientLog) Error(msg string, f map[string]any)   { l.print("error", msg, f) }
func (l clientLog) Fatal(msg string, f map[string]any)   { l.print("fatal", msg, f) }
func (clientLog) Level(string)                           {}
func (clientLog) OutputPath(string) error                { return nil }

// rmqCluster is an in-process name server and broker on loopback.
type rmqCluster struct {
	nsAddr     string
	ns         *nameserver.Server
	brokerAddr string
	dir        string
	stopOnce   sync.Once
	stopNS     func()
	secret     string // the registration secret of the name server and the broker
	// tuneStore, if set, adjusts the broker's store configuration.
	tuneStore func(*storage.Config)

	mu sync.Mutex // guards the broker fields across restartBroker
	rmqBroker
}

// rmqBroker is one run of the broker over the cluster's directory.
type rmqBroker struct {
	store   *storage.Store
	topics  *topics.Registry
	offsets *offsets.Table
	broker  *remotingapi.Broker
	stopFn  func()
}

var instanceSeq atomic.Int64

// instance names a client uniquely: rocketmq-client-go shares one client
// (and its route cache) per ip@instance in a process.
func instance(t *testing.T) string {
	return fmt.Sprintf("%s-%d", t.Name(), instanceSeq.Add(1))
}

func testLogger() *slog.Logger {
	level := slog.LevelWarn
	if os.Getenv("TWINMQ_TEST_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// startRocketMQ opens a store in dir and serves it; stop closes all.
func startRocketMQ(t *testing.T, dir string) *rmqCluster {
	t.Helper()
	return startRocketMQOpts(t, dir, "", nil)
}

// startRocketMQWithSecret is startRocketMQ with a registration secret
// ("": none) on the name server and the broker.
func startRocketMQWithSecret(t *testing.T, dir, secret string) *rmqCluster {
	t.Helper()
	return startRocketMQOpts(t, dir, secret, nil)
}

// startRocketMQWith is startRocketMQ with tune adjusting the store's
// configuration (nil: none).
func startRocketMQWith(t *testing.T, dir string, tune func(*storage.Config)) *rmqCluster {
	t.Helper()
	return startRocketMQOpts(t, dir, "", tune)
}

// startRocketMQOpts is startRocketMQ with a registration secret and a
// store configuration tweak.
func startRocketMQOpts(t *testing.T, dir, secret string, tune func(*storage.Config)) *rmqCluster {
	t.Helper()
	ctx := context.Background()
	ns := nameserver.New(nameserver.Config{Logger: testLogger(), RegistrationSecret: secret})
	nsSrv, nsStop, err := nameserver.Listen(ctx, "127.0.0.1:0", ns)
	if err != nil {
		t.Fatal(err)
	}
	// Bind first to learn the port the broker advertises.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c := &rmqCluster{nsAddr: nsSrv.Addr().String(), ns: ns, brokerAddr: addr, dir: dir, secret: secret, tuneStore: tune}
	c.stopNS = func() {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_ = nsStop(sctx)
	}
	c.rmqBroker = c.startBroker(t)
	t.Cleanup(c.stop)
	return c
}

// startBroker runs the broker on the cluster's address and directory and
// waits until it is registered (TBW102 is routable).
func (c *rmqCluster) startBroker(t *testing.T) rmqBroker {
	t.Helper()
	ctx := context.Background()
	log := testLogger()
	cfg := storage.Config{Dir: c.dir, SegmentSize: 8 << 20, Logger: log}
	if c.tuneStore != nil {
		c.tuneStore(&cfg)
	}
	store, err := storage.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := topics.Open(ctx, store, log)
	if err != nil {
		t.Fatal(err)
	}
	offs, err := offsets.Open(ctx, store, log)
	if err != nil {
		t.Fatal(err)
	}
	b, err := remotingapi.New(remotingapi.Config{AdvertisedAddr: c.brokerAddr, NamesrvAddrs: []string{c.nsAddr},
		RegistrationSecret: c.secret, Logger: log},
		store, reg, offs)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := netio.New(netio.Config{Addr: c.brokerAddr, Framer: netio.LengthPrefixed{Max: remoting.MaxFrameSize - 4},
		Ordering: netio.Concurrent, Logger: log}, b)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	b.Start()
	rb := rmqBroker{store: store, topics: reg, offsets: offs, broker: b}
	rb.stopFn = func() {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx) // as cmd/twinmq: requests already read finish first
		b.Close(sctx)
		offs.Close()
		reg.Close()
		if err := store.Close(); err != nil {
			t.Error(err)
		}
	}
	waitFor(t, 5*time.Second, func() bool {
		r, ok := c.ns.Table().Route("TBW102")
		return ok && len(r.BrokerDatas) > 0
	})
	return rb
}

// restartBroker stops the broker and starts it again on the same address
// and data, while the name server and the clients keep running.
func (c *rmqCluster) restartBroker(t *testing.T) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rmqBroker.stopFn()
	waitFor(t, 10*time.Second, func() bool { _, ok := c.ns.Table().Route("TBW102"); return !ok })
	c.rmqBroker = c.startBroker(t)
}

// current returns the running broker's parts.
func (c *rmqCluster) current() rmqBroker {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rmqBroker
}

func (c *rmqCluster) stop() {
	c.stopOnce.Do(func() {
		c.mu.Lock()
		c.rmqBroker.stopFn()
		c.mu.Unlock()
		c.stopNS()
	})
}

func waitFor(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (c *rmqCluster) resolver() primitive.NsResolver {
	return primitive.NewPassthroughResolver([]string{c.nsAddr})
}

func (c *rmqCluster) producer(t *testing.T, opts ...producer.Option) rocketmq.Producer {
	t.Helper()
	opts = append([]producer.Option{producer.WithNsResolver(c.resolver()), producer.WithInstanceName(instance(t)),
		producer.WithGroupName("pg_" + t.Name()), producer.WithRetry(2)}, opts...)
	p, err := rocketmq.NewProducer(opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown() })
	return p
}

func (c *rmqCluster) pushConsumer(t *testing.T, group string, opts ...consumer.Option) rocketmq.PushConsumer {
	t.Helper()
	opts = append([]consumer.Option{consumer.WithNsResolver(c.resolver()), consumer.WithInstance(instance(t)),
		consumer.WithGroupName(group), consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset)}, opts...)
	pc, err := rocketmq.NewPushConsumer(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return pc
}

// sendN sends n messages to topic with tag, key k<i> and property p=i.
func sendN(t *testing.T, p rocketmq.Producer, topic, tag string, from, n int) []*primitive.SendResult {
	t.Helper()
	var out []*primitive.SendResult
	for i := from; i < from+n; i++ {
		m := primitive.NewMessage(topic, fmt.Appendf(nil, "body-%d", i)).WithTag(tag).WithKeys([]string{fmt.Sprint("k", i)})
		m.WithProperty("p", fmt.Sprint(i))
		r, err := p.SendSync(context.Background(), m)
		if err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		if r.Status != primitive.SendOK {
			t.Fatalf("send %d: status %v", i, r.Status)
		}
		out = append(out, r)
	}
	return out
}

// collector gathers consumed messages by body.
type collector struct {
	mu   sync.Mutex
	msgs map[string][]*primitive.MessageExt
	n    atomic.Int64
}

func newCollector() *collector { return &collector{msgs: make(map[string][]*primitive.MessageExt)} }

func (c *collector) add(msgs ...*primitive.MessageExt) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range msgs {
		c.msgs[string(m.Body)] = append(c.msgs[string(m.Body)], m)
		c.n.Add(1)
	}
}

func (c *collector) handler(ctx context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
	c.add(msgs...)
	return consumer.ConsumeSuccess, nil
}

// sentMsg is what a producer sent and what the send acknowledged.
type sentMsg struct {
	i      int
	uniqID string // UNIQ_KEY: the consumer's MsgId
	offID  string // offsetMsgId from the send response ("" for oneway)
	queue  int
	offset int64
	born   time.Time // before the send
}

// newMsg is message i of topic: body-<i>, the tag, key k<i>, property p=i.
func newMsg(topic, tag string, i int) *primitive.Message {
	m := primitive.NewMessage(topic, fmt.Appendf(nil, "body-%d", i)).WithTag(tag).WithKeys([]string{fmt.Sprint("k", i)})
	m.WithProperty("p", fmt.Sprint(i))
	return m
}

// checkMsg asserts that a consumed message is message i as sent: body,
// tag, key, property, both ids, queue and offset, and timestamps (born at
// send time, stored after born and not in the future).
func checkMsg(t *testing.T, m *primitive.MessageExt, topic, tag string, s sentMsg) {
	t.Helper()
	i := s.i
	if string(m.Body) != fmt.Sprint("body-", i) || m.Topic != topic {
		t.Errorf("msg %d: topic %q body %q", i, m.Topic, m.Body)
	}
	if m.GetTags() != tag || m.GetKeys() != fmt.Sprint("k", i) || m.GetProperty("p") != fmt.Sprint(i) {
		t.Errorf("msg %d: tags %q keys %q p %q", i, m.GetTags(), m.GetKeys(), m.GetProperty("p"))
	}
	if s.uniqID != "" && m.MsgId != s.uniqID {
		t.Errorf("msg %d: MsgId %s, sent UNIQ_KEY %s", i, m.MsgId, s.uniqID)
	}
	if s.offID != "" && (m.OffsetMsgId != s.offID || m.Queue.QueueId != s.queue || m.QueueOffset != s.offset) {
		t.Errorf("msg %d: %s q%d@%d, send said %s q%d@%d", i, m.OffsetMsgId, m.Queue.QueueId, m.QueueOffset, s.offID, s.queue, s.offset)
	}
	if id, err := primitive.UnmarshalMsgID([]byte(m.OffsetMsgId)); err != nil || id.Offset != m.CommitLogOffset {
		t.Errorf("msg %d: offsetMsgId %s does not name commit-log offset %d: %v", i, m.OffsetMsgId, m.CommitLogOffset, err)
	}
	born, stored := time.UnixMilli(m.BornTimestamp), time.UnixMilli(m.StoreTimestamp)
	if !s.born.IsZero() && (born.Before(s.born.Truncate(time.Millisecond)) || born.After(stored)) {
		t.Errorf("msg %d: sent at %v, born %v, stored %v", i, s.born, born, stored)
	}
	if stored.After(time.Now()) || stored.Before(born) {
		t.Errorf("msg %d: born %v stored %v", i, born, stored)
	}
}

// checkAll asserts that col holds exactly the sent messages, once each.
func checkAll(t *testing.T, col *collector, topic, tag string, sent []sentMsg) {
	t.Helper()
	col.mu.Lock()
	defer col.mu.Unlock()
	if len(col.msgs) != len(sent) || col.n.Load() != int64(len(sent)) {
		t.Fatalf("got %d distinct, %d total; want %d once each", len(col.msgs), col.n.Load(), len(sent))
	}
	for _, s := range sent {
		ms := col.msgs[fmt.Sprint("body-", s.i)]
		if len(ms) != 1 {
			t.Fatalf("body-%d delivered %d times", s.i, len(ms))
		}
		checkMsg(t, ms[0], topic, tag, s)
	}
}

// sentFrom records a sync or async send's result.
func sentFrom(i int, m *primitive.Message, r *primitive.SendResult, born time.Time) sentMsg {
	s := sentMsg{i: i, uniqID: r.MsgID, offID: r.OffsetMsgID, queue: r.MessageQueue.QueueId, offset: r.QueueOffset, born: born}
	return s.withUniq(m) // the producer stamps UNIQ_KEY into the message it sent
}

func (s sentMsg) withUniq(m *primitive.Message) sentMsg {
	if u := m.GetProperty(primitive.PropertyUniqueClientMessageIdKeyIndex); u != "" {
		s.uniqID = u
	}
	return s
}

// uniqueGroup is a consumer group name no earlier run used: broadcasting
// consumers keep offsets in files under $HOME that outlive a test.
func uniqueGroup(t *testing.T, prefix string) string {
	g := fmt.Sprintf("%s_%d_%d", prefix, os.Getpid(), time.Now().UnixNano()%1_000_000)
	t.Cleanup(func() {
		if home, err := os.UserHomeDir(); err == nil {
			_ = os.RemoveAll(filepath.Join(home, ".rocketmq_client_go", g))
		}
	})
	return g
}

// brokerCall sends one raw remoting request to the broker and returns the
// response.
func brokerCall(t *testing.T, c *rmqCluster, code int32, ext map[string]string, body []byte) *remoting.Command {
	t.Helper()
	return rawCall(t, c.brokerAddr, code, ext, body)
}

func rawCall(t *testing.T, addr string, code int32, ext map[string]string, body []byte) *remoting.Command {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl, err := nameserver.Dial(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := remoting.NewRequest(code, 0)
	for k, v := range ext {
		req.ExtFields[k] = v
	}
	req.Body = body
	resp, err := cl.Invoke(ctx, req)
	if err != nil {
		t.Fatalf("code %d to %s: %v", code, addr, err)
	}
	return resp
}
