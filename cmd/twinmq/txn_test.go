package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestTxnCommands leaves a franz-go transaction open (a hanging one, its
// producer gone quiet), finds it with `twinmq txn list`, `describe` and
// `producers`, aborts it with `twinmq txn abort`, and checks that a
// read_committed consumer then reads past it and its producer is fenced.
func TestTxnCommands(t *testing.T) {
	addr := listenAddr(t, serveForTest(t), "Kafka")
	bs := "--bootstrap-server=" + addr
	mustCmd(t, "topic", "create", "pay", "--partitions", "1", bs)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	p, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.TransactionalID("payments"), kgo.TransactionTimeout(10*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := p.ProduceSync(ctx, &kgo.Record{Topic: "pay", Value: []byte("hanging")}).FirstErr(); err != nil {
		t.Fatal(err)
	}

	out := mustCmd(t, "txn", "list", bs)
	if !strings.Contains(out, "payments") || !strings.Contains(out, "Ongoing") {
		t.Fatalf("txn list printed %q", out)
	}
	if out := mustCmd(t, "txn", "list", "--state", "CompleteCommit", bs); strings.Contains(out, "payments") {
		t.Fatalf("txn list --state CompleteCommit printed %q", out)
	}
	out = mustCmd(t, "txn", "describe", "payments", bs)
	if !strings.Contains(out, "Ongoing") || !strings.Contains(out, "pay-0") {
		t.Fatalf("txn describe printed %q", out)
	}
	out = mustCmd(t, "txn", "producers", "--topic", "pay", bs)
	if !hasRowPrefix(out, "pay", "0") || !strings.Contains(out, " 0\n") {
		t.Fatalf("txn producers printed %q (want the open transaction's start offset 0)", out)
	}
	out = mustCmd(t, "txn", "abort", "payments", bs)
	if !strings.Contains(out, "aborted the open transaction") {
		t.Fatalf("txn abort printed %q", out)
	}
	out = mustCmd(t, "txn", "describe", "payments", bs)
	if !strings.Contains(out, "Empty") {
		t.Fatalf("txn describe after abort printed %q", out)
	}
	if _, err := twinmqCmd(t, "txn", "abort", "nobody", bs); err == nil || !strings.Contains(err.Error(), "TRANSACTIONAL_ID_NOT_FOUND") {
		t.Fatalf("abort of an unknown id: %v", err)
	}
	if err := p.EndTransaction(ctx, kgo.TryCommit); err == nil {
		t.Fatal("the fenced producer committed")
	}

	// read_committed reads past the aborted transaction to a later record.
	w, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.ProduceSync(ctx, &kgo.Record{Topic: "pay", Value: []byte("after")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	c, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics("pay"), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fs := c.PollFetches(ctx)
	if err := fs.Err0(); err != nil {
		t.Fatal(err)
	}
	if rs := fs.Records(); len(rs) != 1 || string(rs[0].Value) != "after" {
		t.Fatalf("read_committed read %d records, first %q", len(rs), rs[0].Value)
	}
}
