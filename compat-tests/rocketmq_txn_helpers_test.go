package compattests

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"

	"github.com/twinmq/twinmq/broker"
	"github.com/twinmq/twinmq/broker/halfmsg"
	"github.com/twinmq/twinmq/broker/kafkaapi"
	"github.com/twinmq/twinmq/broker/offsets"
	"github.com/twinmq/twinmq/broker/remotingapi"
	"github.com/twinmq/twinmq/broker/topics"
	"github.com/twinmq/twinmq/nameserver"
	"github.com/twinmq/twinmq/storage"
)

// txnCluster is what `twinmq serve` runs for transactions, in process on
// loopback: a name server, and one broker serving RocketMQ (with the
// half-message service) and Kafka over one store. The broker restarts on
// the same addresses and data while the name server and clients run.
type txnCluster struct {
	t                    testing.TB
	dir                  string
	nsAddr               string
	ns                   *nameserver.Server
	brokerAddr, kafkaURL string
	timing               halfmsg.Config // Timeout, Interval, MaxChecks
	stopNS               func()

	mu  sync.Mutex // guards run across restart
	run *txnRun
}

// txnRun is one run of the broker.
type txnRun struct {
	store  *storage.Store
	b      *remotingapi.Broker
	svc    *halfmsg.Service
	closer []func()
}

func startTxnCluster(t testing.TB, timing halfmsg.Config) *txnCluster {
	t.Helper()
	ns := nameserver.New(nameserver.Config{Logger: testLogger()})
	nsSrv, nsStop, err := nameserver.Listen(context.Background(), "127.0.0.1:0", ns)
	if err != nil {
		t.Fatal(err)
	}
	c := &txnCluster{t: t, dir: t.TempDir(), nsAddr: nsSrv.Addr().String(), ns: ns,
		brokerAddr: freeAddrTB(t), kafkaURL: freeAddrTB(t), timing: timing}
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

// start runs the broker as cmd/twinmq wires it: the half-message service
// is enabled before the RocketMQ listener serves.
func (c *txnCluster) start() *txnRun {
	t := c.t
	t.Helper()
	ctx, log := context.Background(), testLogger()
	r := &txnRun{}
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
	reg, err := topics.Open(ctx, r.store, log)
	must(err)
	r.closer = append(r.closer, reg.Close)
	offs, err := offsets.Open(ctx, r.store, log)
	must(err)
	r.closer = append(r.closer, offs.Close)
	r.b, err = remotingapi.New(remotingapi.Config{AdvertisedAddr: c.brokerAddr, NamesrvAddrs: []string{c.nsAddr}, Logger: log},
		r.store, reg, offs)
	must(err)
	cfg := c.timing
	cfg.Store, cfg.Check, cfg.Discarded, cfg.Logger = r.store, r.b.CheckTransaction, r.b.TransactionDiscarded, log
	r.svc, err = halfmsg.Start(ctx, cfg)
	must(err)
	r.closer = append(r.closer, r.svc.Close)
	r.b.EnableTransactions(r.svc)
	id, stopID, err := broker.LoadIdentity(ctx, r.store, -1, log)
	must(err)
	r.closer = append(r.closer, stopID)
	h, err := kafkaapi.New(kafkaapi.Config{NodeID: id.NodeID, ClusterID: id.ClusterID, Logger: log}, r.store, reg)
	must(err)
	r.closer = append(r.closer, serveBoth(t, c.brokerAddr, c.kafkaURL, r.b, h, log)...)
	waitForTB(t, 5*time.Second, func() bool {
		rt, ok := c.ns.Table().Route("TBW102")
		return ok && len(rt.BrokerDatas) > 0
	})
	return r
}

// stop closes what start opened, in reverse order.
func (r *txnRun) stop() {
	for i := len(r.closer) - 1; i >= 0; i-- {
		r.closer[i]()
	}
	r.closer = nil
}

// restart stops the broker and starts it again on the same data.
func (c *txnCluster) restart() {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.run.stop()
	waitForTB(c.t, 10*time.Second, func() bool { _, ok := c.ns.Table().Route("TBW102"); return !ok })
	c.run = c.start()
}

func (c *txnCluster) current() *txnRun {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.run
}

// rmq gives the rocketmq-client-go helpers of rocketmq_helpers_test.go.
func (c *txnCluster) rmq() *rmqCluster {
	return &rmqCluster{nsAddr: c.nsAddr, ns: c.ns, brokerAddr: c.brokerAddr}
}

// stored returns the number of messages in topic's queues.
func (c *txnCluster) stored(topic string) int64 {
	n := int64(0)
	for _, q := range c.current().store.Queues(topic) {
		n += q.Max - q.Min
	}
	return n
}

// freeAddrTB and waitForTB are freeAddr and waitFor for benchmarks too.
func freeAddrTB(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func waitForTB(t testing.TB, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// txnListener is a producer's local transactions: execute[body] is the
// state a transaction's local branch ends in, check(body) the state a
// check-back finds. It counts the check-backs of each body.
type txnListener struct {
	execute map[string]primitive.LocalTransactionState
	check   func(body string) primitive.LocalTransactionState
	// onExecute, if set, runs first in ExecuteLocalTransaction (a local
	// transaction that blocks).
	onExecute func(body string)

	mu     sync.Mutex
	checks map[string]int
	any    atomic.Int64
}

func newTxnListener(execute map[string]primitive.LocalTransactionState, check func(string) primitive.LocalTransactionState) *txnListener {
	return &txnListener{execute: execute, check: check, checks: map[string]int{}}
}

func (l *txnListener) ExecuteLocalTransaction(m *primitive.Message) primitive.LocalTransactionState {
	if l.onExecute != nil {
		l.onExecute(string(m.Body))
	}
	return l.execute[string(m.Body)]
}

func (l *txnListener) CheckLocalTransaction(m *primitive.MessageExt) primitive.LocalTransactionState {
	l.mu.Lock()
	l.checks[string(m.Body)]++
	l.mu.Unlock()
	l.any.Add(1)
	return l.check(string(m.Body))
}

func (l *txnListener) checked(body string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.checks[body]
}

// txnProducer starts a rocketmq-client-go transaction producer of group
// with listener l; its own instance name.
func (c *txnCluster) txnProducer(t *testing.T, group string, l primitive.TransactionListener) rocketmq.TransactionProducer {
	t.Helper()
	p, err := rocketmq.NewTransactionProducer(l, producer.WithNsResolver(c.rmq().resolver()),
		producer.WithInstanceName(instance(t)), producer.WithGroupName(group), producer.WithRetry(2))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	return p
}

// sendTxn sends body to topic in a transaction and checks the send.
func sendTxn(t *testing.T, p rocketmq.TransactionProducer, topic, body string) *primitive.TransactionSendResult {
	t.Helper()
	m := primitive.NewMessage(topic, []byte(body)).WithTag("TagTx").WithKeys([]string{"k-" + body})
	m.WithProperty("p", body)
	r, err := p.SendMessageInTransaction(context.Background(), m)
	if err != nil {
		t.Fatalf("transactional send of %s: %v", body, err)
	}
	if r.Status != primitive.SendOK {
		t.Fatalf("transactional send of %s: status %v", body, r.Status)
	}
	return r
}
