package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestDynamicBrokerConfig: the flush interval changes while serve runs,
// through `twinmq broker config set` (UPDATE_BROKER_CONFIG, RocketMQ's
// name flushIntervalCommitLog) and through franz-go's kadm
// (IncrementalAlterConfigs on the broker, Kafka's log.flush.interval.ms);
// both protocols read the new value back; a start-only key refuses the
// whole change; a restart on the same data directory keeps the last
// value over the static one, and Kafka's DELETE returns to it.
func TestDynamicBrokerConfig(t *testing.T) {
	cfg := testConfig(t, nil) // flushIntervalMs: 500
	start := func() (stop func(), kafka, rmq string) {
		logs := &syncBuffer{}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- run(ctx, cfg, slog.New(slog.NewTextHandler(logs, nil))) }()
		return func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("run: %v", err)
			}
		}, listenAddr(t, logs, "Kafka"), "--broker-addr=" + listenAddr(t, logs, "RocketMQ remoting")
	}
	kafkaFlush := func(adm *kadm.Client) string {
		t.Helper()
		rs, err := adm.DescribeBrokerConfigs(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			for _, c := range r.Configs {
				if c.Key == "log.flush.interval.ms" {
					return c.MaybeValue()
				}
			}
		}
		t.Fatal("no log.flush.interval.ms")
		return ""
	}
	stop, kafka, rmq := start()
	mustCmd(t, "broker", "config", "set", "flushIntervalCommitLog=250", "retentionBytes=1073741824", rmq)
	if out := mustCmd(t, "broker", "config", "get", "flushIntervalCommitLog", "retentionBytes", rmq); !hasRow(out, "flushIntervalCommitLog", "250") ||
		!hasRow(out, "retentionBytes", "1073741824") {
		t.Fatalf("after set:\n%s", out)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(kafka))
	if err != nil {
		t.Fatal(err)
	}
	adm := kadm.NewClient(cl)
	if v := kafkaFlush(adm); v != "250" {
		t.Fatalf("Kafka reads log.flush.interval.ms %s", v)
	}
	rs, err := adm.AlterBrokerConfigs(t.Context(), []kadm.AlterConfig{{Name: "log.flush.interval.ms", Value: kadm.StringPtr("300")}})
	if err != nil || rs[0].Err != nil {
		t.Fatalf("IncrementalAlterConfigs: %v %+v", err, rs)
	}
	// A start-only key refuses the whole request, over either protocol.
	rs, err = adm.AlterBrokerConfigs(t.Context(), []kadm.AlterConfig{{Name: "log.flush.interval.ms", Value: kadm.StringPtr("1")},
		{Name: "num.partitions", Value: kadm.StringPtr("9")}})
	if err != nil || len(rs) != 1 || !errors.Is(rs[0].Err, kerr.InvalidConfig) || !strings.Contains(rs[0].ErrMessage, "num.partitions") {
		t.Fatalf("IncrementalAlterConfigs with a static key: %v %+v", err, rs)
	}
	if _, err := twinmqCmd(t, "broker", "config", "set", "flushIntervalCommitLog=2", "fileReservedTime=1", rmq); err == nil {
		t.Fatal("a set with a start-only key ran")
	}
	if _, err := twinmqCmd(t, "broker", "config", "set", "flushIntervalCommitLog=0", rmq); err == nil {
		t.Fatal("a flush interval of 0 accepted")
	}
	if v := kafkaFlush(adm); v != "300" {
		t.Fatalf("after refused changes: %s", v)
	}
	cl.Close()
	stop()

	if b, err := os.ReadFile(filepath.Join(cfg.DataDir, dynamicConfigFile)); err != nil || !strings.Contains(string(b), `"flushIntervalMs": "300"`) {
		t.Fatalf("%s: %s %v", dynamicConfigFile, b, err)
	}
	stop, kafka, rmq = start()
	defer stop()
	if out := mustCmd(t, "broker", "config", "get", "flushIntervalCommitLog", "retentionBytes", rmq); !hasRow(out, "flushIntervalCommitLog", "300") ||
		!hasRow(out, "retentionBytes", "1073741824") {
		t.Fatalf("after a restart:\n%s", out)
	}
	cl, err = kgo.NewClient(kgo.SeedBrokers(kafka))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm = kadm.NewClient(cl)
	rs, err = adm.AlterBrokerConfigs(t.Context(), []kadm.AlterConfig{{Op: kadm.DeleteConfig, Name: "log.flush.interval.ms"}})
	if err != nil || rs[0].Err != nil {
		t.Fatalf("DELETE: %v %+v", err, rs)
	}
	if v := kafkaFlush(adm); v != "500" {
		t.Fatalf("after DELETE: %s, want the static 500", v)
	}
}
