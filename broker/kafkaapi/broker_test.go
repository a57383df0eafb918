package kafkaapi_test

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/broker/auth"
	"github.com/twinmq/twinmq/broker/cluster"
	"github.com/twinmq/twinmq/broker/groups"
	"github.com/twinmq/twinmq/broker/kafkaapi"
	"github.com/twinmq/twinmq/broker/offsets"
	"github.com/twinmq/twinmq/broker/pop"
	"github.com/twinmq/twinmq/broker/quota"
	"github.com/twinmq/twinmq/broker/topics"
	"github.com/twinmq/twinmq/broker/txn"
	"github.com/twinmq/twinmq/netio"
	"github.com/twinmq/twinmq/storage"
)

// testBroker is a store, a registry and a Kafka listener on loopback.
type testBroker struct {
	addr  string
	store *storage.Store
	reg   *topics.Registry
	h     *kafkaapi.Handler
	srv   *netio.Server
}

func testLogger() *slog.Logger {
	level := slog.LevelError
	if os.Getenv("TWINMQ_TEST_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// brokerOpts varies startBrokerWith's broker.
type brokerOpts struct {
	groups bool         // serve the consumer-group and transaction keys
	log    *slog.Logger // testLogger() when nil
	// retentionHours is the store's (0: its default).
	retentionHours int
	// groupSize is the broker group's size (0: no replication).
	groupSize int
	// epoch and epochs, if set, are Config.LeaderEpoch and Config.Epochs.
	epoch  func() int32
	epochs func() []kafkaapi.EpochStart
	// level, if set, is the logger's level and Config.LogLevel.
	level *slog.LevelVar
	// proto, if set, serves the handler as a listener with this security
	// protocol (TLS, if it needs it, from tls), with users' credentials,
	// mechanisms (nil: the default) and reauthMs.
	proto      kafkaapi.SecurityProtocol
	tls        *tls.Config
	users      *auth.Users
	mechanisms []string
	reauthMs   int64
	// now, if set, is Config.Now.
	now func() time.Time
	// authz, if set, is Config.Authorizer; principals gives connections
	// from an IP (127.0.0.N) a principal (authz_test.go).
	authz      *auth.Authorizer
	principals map[string]auth.Principal
	quotas     *quota.Store // Config.Quotas (quotas_test.go)
	// cluster, if set, is Config.Cluster.
	cluster func() *cluster.View
}

// startBroker serves Kafka without the consumer-group keys.
func startBroker(t testing.TB) *testBroker { return startBrokerWith(t, brokerOpts{}) }

// startBrokerWith serves Kafka over a fresh store.
func startBrokerWith(t testing.TB, opts brokerOpts) *testBroker {
	t.Helper()
	ctx := context.Background()
	log := opts.log
	if log == nil {
		log = testLogger()
	}
	if opts.level != nil {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: opts.level}))
	}
	store, err := storage.Open(ctx, storage.Config{Dir: t.TempDir(), SegmentSize: 16 << 20, Logger: log,
		RetentionHours: opts.retentionHours})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := topics.Open(ctx, store, log)
	if err != nil {
		t.Fatal(err)
	}
	cfg := kafkaapi.Config{NodeID: 1, ClusterID: "test", Logger: log}
	if opts.groupSize > 0 {
		cfg.GroupSize = func() int { return opts.groupSize }
	}
	cfg.LeaderEpoch, cfg.Epochs, cfg.LogLevel = opts.epoch, opts.epochs, opts.level
	cfg.Users, cfg.SASLMechanisms, cfg.ReauthMs, cfg.Now = opts.users, opts.mechanisms, opts.reauthMs, opts.now
	cfg.Authorizer, cfg.Quotas = opts.authz, opts.quotas
	cfg.Cluster = opts.cluster
	closeGroups := func() {}
	if opts.groups {
		offs, err := offsets.Open(ctx, store, log)
		if err != nil {
			t.Fatal(err)
		}
		coord, err := groups.Open(ctx, store, offs, groups.CoordinatorConfig{InitialRebalanceDelay: -1, Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		txns, err := txn.Open(ctx, store, txn.Config{Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		engine, err := pop.Open(ctx, store, pop.Options{Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		closeGroups = func() { txns.Close(); coord.Close(); offs.Close(); engine.Close() }
		cfg.Groups, cfg.Transactions, cfg.Pop = coord, txns, engine
	}
	h, err := kafkaapi.New(cfg, store, reg)
	if err != nil {
		t.Fatal(err)
	}
	var nh netio.Handler = h
	var l *kafkaapi.Listener
	ncfg := kafkaapi.ServerConfig("127.0.0.1:0", log)
	if opts.proto != "" {
		l = h.Listener(string(opts.proto), opts.proto)
		nh = l
		if opts.proto.TLS() {
			ncfg.TLS = opts.tls
		}
	}
	if opts.principals != nil {
		nh = principalsByHost{h, opts.principals}
	}
	srv, err := netio.New(ncfg, nh)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if l != nil {
		l.SetAdvertised("127.0.0.1", int32(srv.Addr().(*net.TCPAddr).Port))
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		closeGroups()
		reg.Close()
		_ = store.Close()
	})
	return &testBroker{addr: srv.Addr().String(), store: store, reg: reg, h: h, srv: srv}
}

func (b *testBroker) createTopic(t testing.TB, name string, parts int32) topics.Config {
	t.Helper()
	cfg, err := b.reg.Create(context.Background(), topics.Config{Name: name, Queues: parts})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// rawConn is a Kafka connection that writes and reads frames by hand.
type rawConn struct {
	t    testing.TB
	c    net.Conn
	fmt  *kmsg.RequestFormatter
	corr int32
}

func dial(t testing.TB, addr string) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, c: c, fmt: kmsg.NewRequestFormatter(kmsg.FormatterClientID("raw"))}
}

// frame encodes req with the next correlation id.
func (r *rawConn) frame(req kmsg.Request) ([]byte, int32) {
	r.corr++
	return r.fmt.AppendRequest(nil, req, r.corr), r.corr
}

func (r *rawConn) write(b []byte) {
	r.t.Helper()
	if _, err := r.c.Write(b); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

// readFrame reads one response frame (after the size prefix), or an error
// (io.EOF once the broker closed).
func (r *rawConn) readFrame(timeout time.Duration) ([]byte, error) {
	_ = r.c.SetReadDeadline(time.Now().Add(timeout))
	var size [4]byte
	if _, err := io.ReadFull(r.c, size[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(size[:])
	if n > 64<<20 {
		return nil, fmt.Errorf("response of %d bytes", n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r.c, b); err != nil {
		return nil, err
	}
	return b, nil
}

// readResponse reads the response to req with correlation id corr.
func (r *rawConn) readResponse(req kmsg.Request, corr int32) kmsg.Response {
	r.t.Helper()
	b, err := r.readFrame(10 * time.Second)
	if err != nil {
		r.t.Fatalf("read response to key %d: %v", req.Key(), err)
	}
	resp, got, err := decodeResponse(req, b)
	if err != nil {
		r.t.Fatal(err)
	}
	if got != corr {
		r.t.Fatalf("correlation id %d, want %d", got, corr)
	}
	return resp
}

// roundTrip writes req and reads its response.
func (r *rawConn) roundTrip(req kmsg.Request) kmsg.Response {
	r.t.Helper()
	b, corr := r.frame(req)
	r.write(b)
	return r.readResponse(req, corr)
}

// decodeResponse parses a response frame to req.
func decodeResponse(req kmsg.Request, b []byte) (kmsg.Response, int32, error) {
	if len(b) < 4 {
		return nil, 0, fmt.Errorf("%d-byte response", len(b))
	}
	corr := int32(binary.BigEndian.Uint32(b))
	b = b[4:]
	// Response header v1 (flexible, except ApiVersions) has tagged fields;
	// we never send any, so it is one zero byte.
	if req.IsFlexible() && req.Key() != 18 {
		if len(b) == 0 || b[0] != 0 {
			return nil, corr, fmt.Errorf("response header tags % x", b[:min(len(b), 1)])
		}
		b = b[1:]
	}
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	if err := resp.ReadFrom(b); err != nil {
		return nil, corr, fmt.Errorf("decode key %d v%d response: %w", req.Key(), req.GetVersion(), err)
	}
	return resp, corr, nil
}
