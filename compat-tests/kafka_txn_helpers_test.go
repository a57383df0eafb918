package compattests

import (
	"context"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twinmq/twinmq/broker"
	"github.com/twinmq/twinmq/broker/groups"
	"github.com/twinmq/twinmq/broker/kafkaapi"
	"github.com/twinmq/twinmq/broker/offsets"
	"github.com/twinmq/twinmq/broker/topics"
	"github.com/twinmq/twinmq/broker/txn"
	"github.com/twinmq/twinmq/netio"
	"github.com/twinmq/twinmq/storage"
)

// txnBroker is an in-process twinmq serving Kafka with the group and the
// transaction coordinators, behind a proxy so that a restart keeps the
// address the clients know. Transaction timeouts are checked every 100 ms.
type txnBroker struct {
	t     testing.TB
	dir   string
	addr  string
	proxy *kafkaProxy
	txns  *txn.Coordinator
	stop  func()
}

func startTxnBroker(t *testing.T, dir string, proxy *kafkaProxy) *txnBroker {
	t.Helper()
	if proxy == nil {
		proxy = newKafkaProxy(t)
	}
	return startTxnBrokerTB(t, dir, proxy)
}

// startTxnBrokerTB is startTxnBroker for tests and benchmarks; a nil
// proxy advertises the listener itself (no restarts then).
func startTxnBrokerTB(t testing.TB, dir string, proxy *kafkaProxy) *txnBroker {
	t.Helper()
	ctx := context.Background()
	log := kafkaLogger()
	store, err := storage.Open(ctx, storage.Config{Dir: dir, SegmentSize: 64 << 20, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	id, stopID, err := broker.LoadIdentity(ctx, store, -1, log)
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
	coord, err := groups.Open(ctx, store, offs, groups.CoordinatorConfig{InitialRebalanceDelay: -1, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	txns, err := txn.Open(ctx, store, txn.Config{Logger: log, CheckInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	h, err := kafkaapi.New(kafkaapi.Config{NodeID: id.NodeID, ClusterID: id.ClusterID, Logger: log,
		Groups: coord, Transactions: txns}, store, reg)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := netio.New(kafkaapi.ServerConfig("127.0.0.1:0", log), h)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	advertise := srv.Addr().String()
	if proxy != nil {
		target := advertise
		proxy.target.Store(&target)
		advertise = proxy.ln.Addr().String()
	}
	host, port, _ := net.SplitHostPort(advertise)
	p, _ := strconv.Atoi(port)
	h.SetAdvertised(host, int32(p))
	var once sync.Once
	b := &txnBroker{t: t, dir: dir, addr: advertise, proxy: proxy, txns: txns}
	b.stop = func() {
		once.Do(func() {
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
			txns.Close()
			coord.Close()
			offs.Close()
			reg.Close()
			stopID()
			if err := store.Close(); err != nil {
				t.Errorf("close store: %v", err)
			}
		})
	}
	t.Cleanup(b.stop)
	return b
}

func (b *txnBroker) restart() *txnBroker {
	b.stop()
	return startTxnBrokerTB(b.t, b.dir, b.proxy)
}
