package compattests

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
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
	rlog.SetLogLevel("error")
}

// rmqCluster is an in-process name server and broker on loopback.
type rmqCluster struct {
	nsAddr     string
	brokerAddr string
	store      *storage.Store
	topics     *topics.Registry
	stopOnce   sync.Once
	stopFn     func()
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
	ctx := context.Background()
	log := testLogger()
	ns := nameserver.New(nameserver.Config{Logger: log})
	nsSrv, nsStop, err := nameserver.Listen(ctx, "127.0.0.1:0", ns)
	if err != nil {
		t.Fatal(err)
	}
	store, err := storage.Open(ctx, storage.Config{Dir: dir, SegmentSize: 8 << 20, Logger: log})
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
	// Bind first to learn the port the broker advertises.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	b, err := remotingapi.New(remotingapi.Config{AdvertisedAddr: addr, NamesrvAddrs: []string{nsSrv.Addr().String()}, Logger: log},
		store, reg, offs)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := netio.New(netio.Config{Addr: addr, Framer: netio.LengthPrefixed{Max: remoting.MaxFrameSize - 4},
		Ordering: netio.Concurrent, Logger: log}, b)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	b.Start()
	c := &rmqCluster{nsAddr: nsSrv.Addr().String(), brokerAddr: addr, store: store, topics: reg}
	c.stopFn = func() {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		b.Close(sctx)
		_ = srv.Shutdown(sctx)
		_ = nsStop(sctx)
		offs.Close()
		reg.Close()
		if err := store.Close(); err != nil {
			t.Error(err)
		}
	}
	t.Cleanup(c.stop)
	// Wait until the broker is registered (TBW102 is routable).
	waitFor(t, 5*time.Second, func() bool { _, ok := ns.Table().Route("TBW102"); return ok })
	return c
}

func (c *rmqCluster) stop() { c.stopOnce.Do(c.stopFn) }

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
