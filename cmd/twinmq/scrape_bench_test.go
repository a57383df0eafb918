package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twinmq/twinmq/broker/topics"
)

// BenchmarkScrape1000Topics is one Prometheus scrape (GET /metrics, gzip
// as Prometheus asks) of a broker with 1,000 topics of 4 queues, each with
// traffic from both protocols: about 30,000 series. cpu-ms/op is the
// process's user and system CPU time per scrape (the client's reading is
// in it too), the figure the 50 ms budget of issue #16 is about.
//
//	go test ./cmd/twinmq -run '^$' -bench Scrape1000Topics -benchtime 20x
func BenchmarkScrape1000Topics(b *testing.B) {
	ctx := context.Background()
	cfg := defaultConfig()
	cfg.DataDir = filepath.Join(b.TempDir(), "data")
	cfg.SegmentSize = 64 << 20
	cfg.HTTPAddr = "127.0.0.1:0"
	if err := cfg.validate(); err != nil {
		b.Fatal(err)
	}
	logger := slog.New(slog.DiscardHandler)
	bs, err := openBroker(ctx, cfg, logger)
	if err != nil {
		b.Fatal(err)
	}
	defer bs.close()
	mon, err := listenHTTP(cfg, logger)
	if err != nil {
		b.Fatal(err)
	}
	defer mon.Shutdown(ctx)
	if err := brokerMetrics(mon, bs); err != nil {
		b.Fatal(err)
	}
	underReplicatedMetrics(mon, bs)
	kafka, rocketmq := protoMeter{bs.traffic, protoKafka}, protoMeter{bs.traffic, protoRocketMQ}
	for i := range 1000 {
		name := fmt.Sprintf("topic-%04d", i)
		if _, err := bs.reg.Create(ctx, topics.Config{Name: name, Queues: 4, Perm: topics.DefaultPerm}); err != nil {
			b.Fatal(err)
		}
		kafka.In(name, 10, 10_000)
		kafka.Out(name, 0, 20_000)
		rocketmq.In(name, 5, 5_000)
		rocketmq.Out(name, 5, 5_000)
	}
	url := "http://" + mon.Addr().String() + "/metrics"
	scrape := func() int {
		resp, err := http.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != 200 {
			b.Fatalf("scrape: %d %v", resp.StatusCode, err)
		}
		return strings.Count(string(body), "\n")
	}
	lines := scrape()
	var before, after syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &before); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		scrape()
	}
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &after); err != nil {
		b.Fatal(err)
	}
	cpu := time.Duration(after.Utime.Nano() - before.Utime.Nano() + after.Stime.Nano() - before.Stime.Nano())
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op")
	b.ReportMetric(float64(lines), "lines")
}
