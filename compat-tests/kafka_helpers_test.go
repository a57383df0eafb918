package compattests

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twinmq/twinmq/broker"
	"github.com/twinmq/twinmq/broker/kafkaapi"
	"github.com/twinmq/twinmq/broker/topics"
	"github.com/twinmq/twinmq/netio"
	"github.com/twinmq/twinmq/storage"
)

// kafkaBroker is an in-process twinmq serving Kafka on loopback.
type kafkaBroker struct {
	t        *testing.T
	dir      string
	addr     string
	store    *storage.Store
	reg      *topics.Registry
	srv      *netio.Server
	stopID   func()
	stopOnce *sync.Once
	proxy    *kafkaProxy
}

func kafkaLogger() *slog.Logger {
	level := slog.LevelWarn
	if os.Getenv("TWINMQ_TEST_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// startKafka opens a store in dir and serves Kafka on addr ("127.0.0.1:0"
// for a fresh port); the broker stops at the end of the test.
func startKafka(t *testing.T, dir, addr string) *kafkaBroker {
	t.Helper()
	return startKafkaBehind(t, dir, addr, nil)
}

// startKafkaBehind starts a broker that advertises proxy's address, if
// proxy is not nil, so clients keep one address across restarts.
func startKafkaBehind(t *testing.T, dir, addr string, proxy *kafkaProxy) *kafkaBroker {
	t.Helper()
	return startKafkaStore(t, storage.Config{Dir: dir, SegmentSize: 64 << 20}, addr, proxy)
}

// startKafkaStore is startKafkaBehind over a store configured by cfg
// (its Logger is the test's); each tune, if any, adjusts the handler's
// and the listener's configuration.
func startKafkaStore(t *testing.T, cfg storage.Config, addr string, proxy *kafkaProxy,
	tune ...func(*kafkaapi.Config, *netio.Config)) *kafkaBroker {
	t.Helper()
	ctx := context.Background()
	log := kafkaLogger()
	dir := cfg.Dir
	cfg.Logger = log
	store, err := storage.Open(ctx, cfg)
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
	kcfg := kafkaapi.Config{NodeID: id.NodeID, ClusterID: id.ClusterID, Logger: log}
	ncfg := kafkaapi.ServerConfig(addr, log)
	for _, fn := range tune {
		fn(&kcfg, &ncfg)
	}
	h, err := kafkaapi.New(kcfg, store, reg)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := netio.New(ncfg, h)
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
	b := &kafkaBroker{t: t, dir: dir, addr: advertise, store: store, reg: reg, srv: srv,
		stopID: stopID, stopOnce: &sync.Once{}, proxy: proxy}
	t.Cleanup(b.stop)
	return b
}

// stop shuts the listener down and closes the store cleanly.
func (b *kafkaBroker) stop() {
	b.stopOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := b.srv.Shutdown(ctx); err != nil {
			b.t.Logf("shutdown: %v", err)
		}
		b.reg.Close()
		b.stopID()
		if err := b.store.Close(); err != nil {
			b.t.Errorf("close store: %v", err)
		}
	})
}

// restart stops the broker and starts it again on the same data. The
// listener's port cannot be bound again at once (the closed connections'
// TIME_WAIT without SO_REUSEADDR), so the new broker gets a fresh port
// behind the same proxy address, which is what the clients know.
func (b *kafkaBroker) restart() *kafkaBroker {
	b.stop()
	return startKafkaBehind(b.t, b.dir, "127.0.0.1:0", b.proxy)
}

// kafkaProxy forwards loopback connections to the current broker.
type kafkaProxy struct {
	ln     net.Listener
	target atomic.Pointer[string]
}

func newKafkaProxy(t *testing.T) *kafkaProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &kafkaProxy{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go p.serve()
	return p
}

func (p *kafkaProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			up, err := net.Dial("tcp", *p.target.Load())
			if err != nil {
				return
			}
			defer up.Close()
			go func() { _, _ = io.Copy(up, c); up.Close() }()
			_, _ = io.Copy(c, up)
		}()
	}
}

// kafkaTopicName is a topic name unique to the test.
func kafkaTopicName(t *testing.T, suffix string) string {
	return fmt.Sprintf("t-%d-%s", time.Now().UnixNano()%1_000_000_000, suffix)
}
