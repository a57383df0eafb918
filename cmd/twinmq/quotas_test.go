package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestServeClientQuotas: `twinmq serve` stores AlterClientQuotas in its
// data directory and answers DescribeClientQuotas from it.
func TestServeClientQuotas(t *testing.T) {
	cfg := testConfig(t, nil)
	logs := serveConfigForTest(t, cfg)
	cl, err := kgo.NewClient(kgo.SeedBrokers(listenAddr(t, logs, "Kafka")))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	adm := kadm.NewClient(cl)
	res, err := adm.AlterClientQuotas(ctx, []kadm.AlterClientQuotaEntry{{
		Entity: []kadm.ClientQuotaEntityComponent{{Type: "client-id"}},
		Ops:    []kadm.AlterClientQuotaOp{{Key: "consumer_byte_rate", Value: 4096}},
	}})
	if err != nil || len(res) != 1 || res[0].Err != nil {
		t.Fatalf("alter: %v %+v", err, res)
	}
	desc, err := adm.DescribeClientQuotas(ctx, true, []kadm.DescribeClientQuotaComponent{{Type: "client-id", MatchType: 1}})
	if err != nil || len(desc) != 1 || desc[0].Values[0].Value != 4096 {
		t.Fatalf("describe: %v %+v", err, desc)
	}
	b, err := os.ReadFile(filepath.Join(cfg.DataDir, "quotas.json"))
	if err != nil || !strings.Contains(string(b), `"consumer_byte_rate":4096`) {
		t.Errorf("quotas.json: %s %v", b, err)
	}
}
