package console

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/twinmq/twinmq/broker/groups"
	"github.com/twinmq/twinmq/broker/kafkaapi"
	"github.com/twinmq/twinmq/broker/log"
	"github.com/twinmq/twinmq/broker/offsets"
	"github.com/twinmq/twinmq/broker/remotingapi"
	"github.com/twinmq/twinmq/broker/topics"
	"github.com/twinmq/twinmq/storage"
	"github.com/twinmq/twinmq/wire/remoting"
)

// testEnv is a console over a real store, topic registry and offset
// table, with the real Kafka and RocketMQ adapters for its admin requests
// (not listening: the console calls them in process).
type testEnv struct {
	srv   *Server
	store *storage.Store
	reg   *topics.Registry
	offs  *offsets.Table
	logs  *log.Log
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func newTestEnv(tb testing.TB, cfg Config) *testEnv {
	tb.Helper()
	ctx := context.Background()
	store, err := storage.Open(ctx, storage.Config{Dir: tb.TempDir(), SegmentSize: 64 << 20, Logger: quiet})
	if err != nil {
		tb.Fatal(err)
	}
	reg, err := topics.Open(ctx, store, quiet)
	if err != nil {
		tb.Fatal(err)
	}
	offs, err := offsets.Open(ctx, store, quiet)
	if err != nil {
		tb.Fatal(err)
	}
	coord, err := groups.Open(ctx, store, offs, groups.CoordinatorConfig{InitialRebalanceDelay: -1, Logger: quiet})
	if err != nil {
		tb.Fatal(err)
	}
	h, err := kafkaapi.New(kafkaapi.Config{NodeID: 1, ClusterID: "test", Groups: coord, Logger: quiet}, store, reg)
	if err != nil {
		tb.Fatal(err)
	}
	rb, err := remotingapi.New(remotingapi.Config{AdvertisedAddr: "127.0.0.1:10911", Logger: quiet}, store, reg, offs)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		rb.Close(context.Background())
		coord.Close()
		offs.Close()
		reg.Close()
		_ = store.Close()
	})
	cfg.Store, cfg.Topics, cfg.Offsets, cfg.Logger = store, reg, offs, quiet
	if cfg.Gatherer == nil {
		cfg.Gatherer = prometheus.NewRegistry()
	}
	cfg.StoreHost = func() netip.AddrPort { return rb.StoreHost() }
	srv, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	srv.SetKafka(h)
	srv.SetRocketMQ(rb)
	return &testEnv{srv: srv, store: store, reg: reg, offs: offs, logs: log.New(store)}
}

// send appends n RocketMQ messages to (topic, queue), key k<i>, tag T.
func (e *testEnv) send(tb testing.TB, topic string, queue int32, n int) {
	tb.Helper()
	var msgs []log.Message
	for i := range n {
		props := remoting.AppendProperties(nil, map[string]string{"KEYS": "k" + strconv.Itoa(i), "TAGS": "T",
			"UNIQ_KEY": fmt.Sprintf("%032X", i)})
		m := remoting.MessageExt{QueueID: queue, BornTimestamp: time.Now().UnixMilli(),
			BornHost: netip.MustParseAddrPort("127.0.0.1:1"), StoreHost: netip.MustParseAddrPort("127.0.0.1:10911"),
			Body: []byte("body " + strconv.Itoa(i)), Topic: topic, Properties: props}
		m.SysFlag = remoting.HostSysFlags(m.BornHost, m.StoreHost)
		payload, tags, keys := remoting.StoreParts(&m)
		msgs = append(msgs, log.Message{Kind: log.KindRocketMQ, Topic: topic, QueueID: queue, Count: 1,
			TagsCodes: tags, Keys: keys, Payload: payload,
			Encode: func(p []byte, phys, qoff, st int64) { _ = remoting.PatchStored(p, qoff, phys, st) }})
	}
	pos, err := e.logs.Append(context.Background(), msgs)
	if err != nil {
		tb.Fatal(err)
	}
	// Readable once dispatched into the ConsumeQueue.
	if err := e.logs.WaitVisible(context.Background(), topic, queue, pos[len(pos)-1].QueueOffset); err != nil {
		tb.Fatal(err)
	}
}

// do serves one request and returns the status and body.
func (e *testEnv) do(tb testing.TB, req *http.Request) (int, string) {
	tb.Helper()
	rec := httptest.NewRecorder()
	e.srv.Handler().ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}
