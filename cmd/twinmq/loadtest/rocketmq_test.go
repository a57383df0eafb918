package loadtest

import (
	"context"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twinmq/twinmq/broker/offsets"
	"github.com/twinmq/twinmq/broker/remotingapi"
	"github.com/twinmq/twinmq/broker/topics"
	"github.com/twinmq/twinmq/nameserver"
	"github.com/twinmq/twinmq/netio"
	"github.com/twinmq/twinmq/storage"
	"github.com/twinmq/twinmq/wire/remoting"
)

// startRocketMQ serves an in-process name server and broker on loopback
// and returns the name server's address.
func startRocketMQ(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	ns := nameserver.New(nameserver.Config{})
	nsSrv, nsStop, err := nameserver.Listen(ctx, "127.0.0.1:0", ns)
	if err != nil {
		t.Fatal(err)
	}
	store, err := storage.Open(ctx, storage.Config{Dir: t.TempDir(), SegmentSize: 16 << 20})
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
	b, err := remotingapi.New(remotingapi.Config{AdvertisedAddr: addr, NamesrvAddrs: []string{nsSrv.Addr().String()}}, store, reg, offs)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := netio.New(netio.Config{Addr: addr, Framer: netio.LengthPrefixed{Max: remoting.MaxFrameSize - 4},
		Ordering: netio.Concurrent}, b)
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
		_ = nsStop(ctx)
		offs.Close()
		reg.Close()
		_ = store.Close()
	})
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, ok := ns.Table().Route("TBW102"); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("broker did not register")
		}
	}
	return nsSrv.Addr().String()
}

func TestRunRocketMQ(t *testing.T) {
	ns := startRocketMQ(t)
	res, err := RunRocketMQ(context.Background(), "in-process", RocketMQConfig{
		NamesrvAddrs: []string{ns}, Messages: 600, Size: 128, Producers: 3, Timeout: time.Minute,
		CPU: ProcessCPU(os.Getpid()),
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Lost != 0 || res.Duplicates != 0 || res.Records != 600 || res.E2EP50 <= 0 || res.SendsPerSec() <= 0 {
		t.Fatalf("result %v", res)
	}
	t.Log(res)
}

// TestRunRocketMQProgressAndCleanup: a run reports progress (at least
// the final report, with every message sent and consumed) and deletes
// the topic it created from the name server's routes.
func TestRunRocketMQProgressAndCleanup(t *testing.T) {
	ns := startRocketMQ(t)
	var mu sync.Mutex
	var reports []Progress
	res, err := RunRocketMQ(context.Background(), "in-process", RocketMQConfig{
		NamesrvAddrs: []string{ns}, Messages: 300, Size: 64, Producers: 2, Timeout: time.Minute,
		Progress: func(p Progress) { mu.Lock(); reports = append(reports, p); mu.Unlock() },
	})
	if err != nil || res.Lost != 0 {
		t.Fatalf("run: %v %v", res, err)
	}
	mu.Lock()
	last := reports[len(reports)-1]
	mu.Unlock()
	if !last.Final || last.Produced != 300 || last.Consumed != 300 || last.E2EP99 <= 0 || last.MsgsPerSec <= 0 {
		t.Fatalf("last progress %+v", last)
	}
	c, err := nameserver.Dial(context.Background(), ns)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	resp, err := c.Invoke(context.Background(), remoting.NewRequest(remoting.GetAllTopicListFromNameserver, 0))
	if err != nil || strings.Contains(string(resp.Body), "twinmq-bench-") || strings.Contains(string(resp.Body), "bench_cg_") {
		t.Fatalf("topics after the run: %s %v", resp.Body, err)
	}
}
