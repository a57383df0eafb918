package main

import (
	"context"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestKafkaBrokerLoggerLevel: `twinmq serve` logs at info; a Kafka admin
// client sets the root broker logger to DEBUG (as kafka-configs
// --entity-type broker-loggers --add-config root=DEBUG does) and the
// process logs debug lines from then on; DELETE brings info back.
func TestKafkaBrokerLoggerLevel(t *testing.T) {
	cfg := testConfig(t, nil)
	cfg.levelVar = new(slog.LevelVar)
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- run(ctx, cfg, newLogger(logs, cfg)) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	addr := listenAddr(t, logs, "Kafka")
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	meta, err := kadm.NewClient(cl).BrokerMetadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	id := strconv.Itoa(int(meta.Brokers[0].NodeID))
	alter := func(op kmsg.IncrementalAlterConfigOp, value *string) {
		t.Helper()
		req := kmsg.NewPtrIncrementalAlterConfigsRequest()
		res := kmsg.NewIncrementalAlterConfigsRequestResource()
		res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeBrokerLogger, id
		res.Configs = append(res.Configs, kmsg.IncrementalAlterConfigsRequestResourceConfig{Name: "root", Op: op, Value: value})
		req.Resources = append(req.Resources, res)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil || resp.Resources[0].ErrorCode != 0 {
			t.Fatalf("alter root logger: %v %+v", err, resp)
		}
	}
	// closeConn opens and closes a Kafka connection, which the broker logs
	// at debug.
	closeConn := func() {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.Close()
	}
	const debugLine = `level=DEBUG msg="kafkaapi: connection closed"`
	if strings.Contains(logs.String(), "level=DEBUG") {
		t.Fatal("a debug line at the info level")
	}
	alter(kmsg.IncrementalAlterConfigOpSet, kmsg.StringPtr("DEBUG"))
	closeConn()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(logs.String(), debugLine); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no debug line after root=DEBUG:\n%s", logs)
		}
	}
	alter(kmsg.IncrementalAlterConfigOpDelete, nil)
	if got := cfg.levelVar.Level(); got != slog.LevelInfo {
		t.Errorf("level after DELETE: %v, want the configured info", got)
	}
}
