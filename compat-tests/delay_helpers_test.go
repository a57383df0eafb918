package compattests

import (
	"context"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twinmq/twinmq/broker"
	"github.com/twinmq/twinmq/broker/delay"
	"github.com/twinmq/twinmq/broker/kafkaapi"
	"github.com/twinmq/twinmq/broker/offsets"
	"github.com/twinmq/twinmq/broker/remotingapi"
	"github.com/twinmq/twinmq/broker/timer"
	"github.com/twinmq/twinmq/broker/topics"
	"github.com/twinmq/twinmq/nameserver"
	"github.com/twinmq/twinmq/netio"
	"github.com/twinmq/twinmq/storage"
	"github.com/twinmq/twinmq/wire/remoting"
)

// delayCluster is what `twinmq serve` runs, in process on loopback: a
// name server, and one broker serving RocketMQ and Kafka over one store
// with the delay-level scheduler and the timer wheel. The broker restarts
// on the same addresses and data while the name server and clients run.
type delayCluster struct {
	t                    *testing.T
	dir                  string
	nsAddr               string
	ns                   *nameserver.Server
	brokerAddr, kafkaURL string
	stopNS               func()

	mu  sync.Mutex // guards run across restart
	run *delayRun
}

// delayRun is one run of the broker.
type delayRun struct {
	store  *storage.Store
	reg    *topics.Registry
	offs   *offsets.Table
	b      *remotingapi.Broker
	svc    *timer.Services
	closer []func()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func startDelayCluster(t *testing.T) *delayCluster {
	t.Helper()
	ns := nameserver.New(nameserver.Config{Logger: testLogger()})
	nsSrv, nsStop, err := nameserver.Listen(context.Background(), "127.0.0.1:0", ns)
	if err != nil {
		t.Fatal(err)
	}
	c := &delayCluster{t: t, dir: t.TempDir(), nsAddr: nsSrv.Addr().String(), ns: ns,
		brokerAddr: freeAddr(t), kafkaURL: freeAddr(t)}
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
func (c *delayCluster) start() *delayRun {
	t := c.t
	t.Helper()
	ctx, log := context.Background(), testLogger()
	r := &delayRun{}
	var err error
	must := func(err error) {
		if err != nil {
			r.stop()
			t.Fatal(err)
		}
	}
	r.store, err = storage.Open(ctx, storage.Config{Dir: c.dir, SegmentSize: 8 << 20, Logger: log})
	must(err)
	r.closer = append(r.closer, func() { _ = r.store.Close() })
	r.reg, err = topics.Open(ctx, r.store, log)
	must(err)
	r.closer = append(r.closer, r.reg.Close)
	r.offs, err = offsets.Open(ctx, r.store, log)
	must(err)
	r.closer = append(r.closer, r.offs.Close)
	policy := delay.Policy{}
	r.b, err = remotingapi.New(remotingapi.Config{AdvertisedAddr: c.brokerAddr, NamesrvAddrs: []string{c.nsAddr}, Logger: log},
		r.store, r.reg, r.offs)
	must(err)
	r.b.EnableDelay(policy)
	id, stopID, err := broker.LoadIdentity(ctx, r.store, -1, log)
	must(err)
	r.closer = append(r.closer, stopID)
	h, err := kafkaapi.New(kafkaapi.Config{NodeID: id.NodeID, ClusterID: id.ClusterID, Logger: log}, r.store, r.reg)
	must(err)
	h.EnableDelay(policy)
	builds := delay.Builds{storage.KindRocketMQ: r.b.DelayBuild, storage.KindKafka: h.DelayBuild}
	r.svc, err = timer.StartServices(ctx, r.store, policy, builds.Build, log)
	must(err)
	r.closer = append(r.closer, r.svc.Close)
	r.closer = append(r.closer, serveBoth(t, c.brokerAddr, c.kafkaURL, r.b, h, log)...)
	waitFor(t, 5*time.Second, func() bool {
		rt, ok := c.ns.Table().Route("TBW102")
		return ok && len(rt.BrokerDatas) > 0
	})
	return r
}

// stop closes what start opened, in reverse order.
func (r *delayRun) stop() {
	for i := len(r.closer) - 1; i >= 0; i-- {
		r.closer[i]()
	}
	r.closer = nil
}

// restart stops the broker and starts it again on the same data.
func (c *delayCluster) restart() {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.run.stop()
	waitFor(c.t, 10*time.Second, func() bool { _, ok := c.ns.Table().Route("TBW102"); return !ok })
	c.run = c.start()
}

func (c *delayCluster) current() *delayRun {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.run
}

// rmq gives the rocketmq-client-go helpers of rocketmq_helpers_test.go.
func (c *delayCluster) rmq() *rmqCluster {
	return &rmqCluster{nsAddr: c.nsAddr, ns: c.ns, brokerAddr: c.brokerAddr}
}

// serveBoth serves b's RocketMQ remoting on remotingAddr and h's Kafka on
// kafkaAddr (advertised as such) as cmd/twinmq does, and returns what
// stops them, in the order they were started.
func serveBoth(t testing.TB, remotingAddr, kafkaAddr string, b *remotingapi.Broker, h *kafkaapi.Handler, log *slog.Logger) []func() {
	t.Helper()
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	rsrv, err := netio.New(netio.Config{Addr: remotingAddr, Framer: netio.LengthPrefixed{Max: remoting.MaxFrameSize - 4},
		Ordering: netio.Concurrent, Logger: log}, b)
	must(err)
	must(rsrv.Start(ctx))
	b.Start()
	stops := []func(){func() { _ = rsrv.Shutdown(ctx); b.Close(ctx) }} // as cmd/twinmq
	ksrv, err := netio.New(kafkaapi.ServerConfig(kafkaAddr, log), h)
	must(err)
	must(ksrv.Start(ctx))
	host, port, _ := net.SplitHostPort(kafkaAddr)
	p, _ := strconv.Atoi(port)
	h.SetAdvertised(host, int32(p))
	return append(stops, func() { _ = ksrv.Shutdown(ctx) })
}
