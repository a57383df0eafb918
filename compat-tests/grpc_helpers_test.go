package compattests

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	rmq5 "github.com/apache/rocketmq-clients/golang/v5"
	"github.com/apache/rocketmq-clients/golang/v5/credentials"

	"github.com/twinmq/twinmq/broker"
	"github.com/twinmq/twinmq/broker/delay"
	"github.com/twinmq/twinmq/broker/groups"
	"github.com/twinmq/twinmq/broker/grpcapi"
	"github.com/twinmq/twinmq/broker/kafkaapi"
	"github.com/twinmq/twinmq/broker/log"
	"github.com/twinmq/twinmq/broker/offsets"
	"github.com/twinmq/twinmq/broker/pop"
	"github.com/twinmq/twinmq/broker/remotingapi"
	"github.com/twinmq/twinmq/broker/timer"
	"github.com/twinmq/twinmq/broker/topics"
	"github.com/twinmq/twinmq/nameserver"
	"github.com/twinmq/twinmq/netio"
	"github.com/twinmq/twinmq/storage"
	"github.com/twinmq/twinmq/wire/remoting"
)

// grpcCluster is `twinmq serve` in process on loopback with the RocketMQ
// 5 gRPC listener: a name server, and one broker serving remoting, Kafka
// and gRPC over one store, with the delay services and the POP engine.
// The broker restarts on the same addresses and data.
type grpcCluster struct {
	t                               *testing.T
	dir                             string
	nsAddr                          string
	ns                              *nameserver.Server
	brokerAddr, kafkaAddr, grpcAddr string
	maxAttempts                     int32
	stopNS                          func()

	mu  sync.Mutex // guards run across restart
	run *grpcRun
}

type grpcRun struct {
	store  *storage.Store
	reg    *topics.Registry
	engine *pop.Engine
	closer []func()
}

var rmq5LogOnce sync.Once

// quietRMQ5 sends the v5 client's log to a file under the temp dir at
// warn level (it writes to /logs/rocketmqlogs by default).
func quietRMQ5() {
	rmq5LogOnce.Do(func() {
		os.Setenv(rmq5.CLIENT_LOG_ROOT, filepath.Join(os.TempDir(), "twinmq-rmq5-logs"))
		os.Setenv(rmq5.CLIENT_LOG_LEVEL, "warn")
		rmq5.ResetLogger()
	})
}

func startGRPCCluster(t *testing.T, maxAttempts int32) *grpcCluster {
	t.Helper()
	quietRMQ5()
	ns := nameserver.New(nameserver.Config{Logger: testLogger()})
	nsSrv, nsStop, err := nameserver.Listen(context.Background(), "127.0.0.1:0", ns)
	if err != nil {
		t.Fatal(err)
	}
	c := &grpcCluster{t: t, dir: t.TempDir(), nsAddr: nsSrv.Addr().String(), ns: ns, maxAttempts: maxAttempts,
		brokerAddr: freeAddr(t), kafkaAddr: freeAddr(t), grpcAddr: freeAddr(t)}
	c.stopNS = func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = nsStop(ctx)
	}
	c.run = c.start()
	t.Cleanup(func() {
		c.mu.Lock()
		c.run.stop()
		c.mu.Unlock()
		c.stopNS()
	})
	return c
}

// start runs the broker as cmd/twinmq wires it.
func (c *grpcCluster) start() *grpcRun {
	t := c.t
	t.Helper()
	ctx, lg := context.Background(), testLogger()
	r := &grpcRun{}
	must := func(err error) {
		if err != nil {
			r.stop()
			t.Fatal(err)
		}
	}
	var err error
	r.store, err = storage.Open(ctx, storage.Config{Dir: c.dir, SegmentSize: 32 << 20, Logger: lg})
	must(err)
	r.closer = append(r.closer, func() { _ = r.store.Close() })
	r.reg, err = topics.Open(ctx, r.store, lg)
	must(err)
	r.closer = append(r.closer, r.reg.Close)
	offs, err := offsets.Open(ctx, r.store, lg)
	must(err)
	r.closer = append(r.closer, offs.Close)
	policy := delay.Policy{}
	b, err := remotingapi.New(remotingapi.Config{AdvertisedAddr: c.brokerAddr, NamesrvAddrs: []string{c.nsAddr}, Logger: lg},
		r.store, r.reg, offs)
	must(err)
	b.EnableDelay(policy)
	id, stopID, err := broker.LoadIdentity(ctx, r.store, -1, lg)
	must(err)
	r.closer = append(r.closer, stopID)
	// One POP engine under the gRPC consumers and the Kafka share groups,
	// as cmd/twinmq wires it.
	r.engine, err = pop.Open(ctx, r.store, pop.Options{Logger: lg, MaxAttempts: c.maxAttempts})
	must(err)
	r.closer = append(r.closer, r.engine.Close)
	coord, err := groups.Open(ctx, r.store, offs, groups.CoordinatorConfig{InitialRebalanceDelay: -1, Logger: lg})
	must(err)
	r.closer = append(r.closer, coord.Close)
	h, err := kafkaapi.New(kafkaapi.Config{NodeID: id.NodeID, ClusterID: id.ClusterID, Logger: lg, Groups: coord, Pop: r.engine},
		r.store, r.reg)
	must(err)
	h.EnableDelay(policy)
	builds := delay.Builds{storage.KindRocketMQ: b.DelayBuild, storage.KindKafka: h.DelayBuild}
	svc, err := timer.StartServices(ctx, r.store, policy, builds.Build, lg)
	must(err)
	r.closer = append(r.closer, svc.Close)
	rsrv, err := netio.New(netio.Config{Addr: c.brokerAddr, Framer: netio.LengthPrefixed{Max: remoting.MaxFrameSize - 4},
		Ordering: netio.Concurrent, Logger: lg}, b)
	must(err)
	must(rsrv.Start(ctx))
	b.Start()
	r.closer = append(r.closer, func() { _ = rsrv.Shutdown(ctx); b.Close(ctx) })
	ksrv, err := netio.New(kafkaapi.ServerConfig(c.kafkaAddr, lg), h)
	must(err)
	must(ksrv.Start(ctx))
	host, port, _ := net.SplitHostPort(c.kafkaAddr)
	h.SetAdvertised(host, int32(mustAtoi(t, port)))
	r.closer = append(r.closer, func() { _ = ksrv.Shutdown(ctx) })

	gs, err := grpcapi.New(grpcapi.Config{Endpoint: c.grpcAddr, StoreHost: c.brokerAddr, AutoCreateTopics: true,
		Delay: &policy, Logger: lg}, log.New(r.store), r.reg, r.engine)
	must(err)
	ln, err := net.Listen("tcp", c.grpcAddr)
	must(err)
	g := gs.GRPCServer()
	done := make(chan error, 1)
	go func() { done <- grpcapi.Serve(g, ln) }()
	r.closer = append(r.closer, func() {
		gs.Close()
		g.Stop()
		if err := <-done; err != nil {
			t.Errorf("grpc serve: %v", err)
		}
	})
	waitFor(t, 5*time.Second, func() bool {
		rt, ok := c.ns.Table().Route("TBW102")
		return ok && len(rt.BrokerDatas) > 0
	})
	return r
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	var n int
	for _, c := range s {
		if c < '0' || c > '9' {
			t.Fatalf("port %q", s)
		}
		n = n*10 + int(c-'0')
	}
	return n
}

func (r *grpcRun) stop() {
	for i := len(r.closer) - 1; i >= 0; i-- {
		r.closer[i]()
	}
	r.closer = nil
}

// restart stops the broker and starts it again on the same data.
func (c *grpcCluster) restart() {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.run.stop()
	waitFor(c.t, 10*time.Second, func() bool { _, ok := c.ns.Table().Route("TBW102"); return !ok })
	c.run = c.start()
}

func (c *grpcCluster) current() *grpcRun {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.run
}

// rmq gives the rocketmq-client-go helpers of rocketmq_helpers_test.go.
func (c *grpcCluster) rmq() *rmqCluster {
	return &rmqCluster{nsAddr: c.nsAddr, ns: c.ns, brokerAddr: c.brokerAddr}
}

// createTopic creates topic with queues and waits until the name server
// routes it.
func (c *grpcCluster) createTopic(t *testing.T, topic string, queues int32) {
	t.Helper()
	if _, err := c.current().reg.Create(context.Background(), topics.Config{Name: topic, Queues: queues, Perm: topics.DefaultPerm}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, func() bool { r, ok := c.ns.Table().Route(topic); return ok && len(r.QueueDatas) > 0 })
}

func (c *grpcCluster) config(group string) *rmq5.Config {
	return &rmq5.Config{Endpoint: c.grpcAddr, ConsumerGroup: group, Credentials: &credentials.SessionCredentials{}}
}

// producer5 starts a v5 producer for topics.
func (c *grpcCluster) producer5(t *testing.T, topics ...string) rmq5.Producer {
	t.Helper()
	p, err := rmq5.NewProducer(c.config(""), rmq5.WithTopics(topics...))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.GracefulStop() })
	return p
}

// simpleConsumer starts a v5 SimpleConsumer of group on topic with a
// TAG expression.
func (c *grpcCluster) simpleConsumer(t *testing.T, group, topic, expr string, await time.Duration) rmq5.SimpleConsumer {
	t.Helper()
	sc, err := rmq5.NewSimpleConsumer(c.config(group), rmq5.WithAwaitDuration(await),
		rmq5.WithSubscriptionExpressions(map[string]*rmq5.FilterExpression{topic: rmq5.NewFilterExpression(expr)}))
	if err != nil {
		t.Fatal(err)
	}
	if err := sc.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sc.GracefulStop() })
	return sc
}

// receive5 receives until n messages came or d passed; a receive that
// finds nothing (MESSAGE_NOT_FOUND) is not an error.
func receive5(t *testing.T, sc rmq5.SimpleConsumer, n int, invisible, d time.Duration) []*rmq5.MessageView {
	t.Helper()
	var out []*rmq5.MessageView
	deadline := time.Now().Add(d)
	for len(out) < n && time.Now().Before(deadline) {
		mvs, err := sc.Receive(context.Background(), int32(min(32, n-len(out))), invisible)
		var st *rmq5.ErrRpcStatus
		if errors.As(err, &st) && st.GetCode() == 40401 {
			continue
		}
		if err != nil {
			t.Fatalf("receive: %v", err)
		}
		out = append(out, mvs...)
	}
	return out
}
