package main

import (
	"bytes"
	"context"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// serveForTest runs `twinmq serve` on free ports with its data in a
// temporary directory until the test ends, and returns its logs once it
// has started everything.
func serveForTest(t *testing.T) *syncBuffer {
	t.Helper()
	cfg := testConfig(t, func(c *Config) { c.GroupInitialRebalanceDelayMs = 0 }) // the group forms at once
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- run(ctx, cfg, slog.New(slog.NewTextHandler(logs, nil))) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	// Logged once every listener and service runs.
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(logs.String(), "msg=serving"); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start in 10 s:\n%s", logs)
		}
	}
	return logs
}

// listenAddr waits for logs to show the listener what ("Kafka",
// "RocketMQ remoting") and returns its address.
func listenAddr(t *testing.T, logs *syncBuffer, what string) string {
	t.Helper()
	re := regexp.MustCompile(`msg="` + regexp.QuoteMeta(what) + ` listening" addr=(\S+)`)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if m := re.FindStringSubmatch(logs.String()); m != nil {
			return m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s listener in 10 s:\n%s", what, logs)
		}
	}
}

// twinmqCmd runs the twinmq command line args and returns its output and
// error.
func twinmqCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	cmd := newRootCommand(nil)
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(t.Context())
	return out.String(), err
}

// mustCmd is twinmqCmd failing the test on an error.
func mustCmd(t *testing.T, args ...string) string {
	t.Helper()
	out, err := twinmqCmd(t, args...)
	if err != nil {
		t.Fatalf("twinmq %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// hasRow reports whether out has a line whose fields are fields.
func hasRow(out string, fields ...string) bool {
	for line := range strings.Lines(out) {
		if slices.Equal(strings.Fields(line), fields) {
			return true
		}
	}
	return false
}

// TestTopicCommands creates, lists, describes, alters and deletes a topic
// with `twinmq topic` against a running broker, with records produced by
// franz-go in between, and checks what each command prints.
func TestTopicCommands(t *testing.T) {
	addr := listenAddr(t, serveForTest(t), "Kafka")
	bs := "--bootstrap-server=" + addr
	out := mustCmd(t, "topic", "create", "orders", "--partitions", "3", "--config", "retention.ms=600000", bs)
	if !strings.Contains(out, "created orders (3 partitions)") {
		t.Fatalf("create printed %q", out)
	}
	if _, err := twinmqCmd(t, "topic", "create", "orders", bs); err == nil || !strings.Contains(err.Error(), "TOPIC_ALREADY_EXISTS") {
		t.Fatalf("creating orders again: %v, want TOPIC_ALREADY_EXISTS", err)
	}
	if out := mustCmd(t, "topic", "list", bs); !hasRow(out, "orders", "3") {
		t.Fatalf("list lacks orders with 3 partitions:\n%s", out)
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for i := range 7 {
		recs = append(recs, &kgo.Record{Topic: "orders", Partition: int32(i % 2 * 2), Value: []byte("v")})
	}
	if err := cl.ProduceSync(t.Context(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	out = mustCmd(t, "topic", "describe", "orders", bs)
	for _, row := range [][]string{{"0", "0", "4", "4"}, {"1", "0", "0", "0"}, {"2", "0", "3", "3"}, {"retention.ms", "600000"}} {
		if !hasRow(out, row...) {
			t.Errorf("describe lacks the row %q:\n%s", row, out)
		}
	}

	out = mustCmd(t, "topic", "alter", "orders", "--partitions", "4", "--config", "retention.ms=", bs)
	if !strings.Contains(out, "orders: 4 partitions") || !strings.Contains(out, "orders: configs altered (retention.ms)") {
		t.Fatalf("alter printed %q", out)
	}
	out = mustCmd(t, "topic", "describe", "orders", bs)
	if !strings.Contains(out, "topic orders: 4 partitions") || !hasRow(out, "3", "0", "0", "0") || strings.Contains(out, "retention.ms") {
		t.Fatalf("describe after alter:\n%s", out)
	}
	if _, err := twinmqCmd(t, "topic", "alter", "orders", bs); err == nil {
		t.Fatal("alter with nothing to alter succeeded")
	}
	if _, err := twinmqCmd(t, "topic", "create", "x", "--config", "novalue", bs); err == nil {
		t.Fatal("--config without '=' accepted")
	}

	if out := mustCmd(t, "topic", "delete", "orders", bs); !strings.Contains(out, "deleted orders") {
		t.Fatalf("delete printed %q", out)
	}
	if out := mustCmd(t, "topic", "list", bs); strings.Contains(out, "orders") {
		t.Fatalf("list after delete:\n%s", out)
	}
	if _, err := twinmqCmd(t, "topic", "describe", "orders", bs); err == nil {
		t.Fatal("describe of a deleted topic succeeded")
	}
}

// TestGroupCommands: `twinmq group` lists and describes a franz-go
// consumer group while it runs (one member, its partitions, committed
// offsets, lag), after it left (Empty, the lag of new records), and
// deletes it.
func TestGroupCommands(t *testing.T) {
	addr := listenAddr(t, serveForTest(t), "Kafka")
	bs := "--bootstrap-server=" + addr
	mustCmd(t, "topic", "create", "events", "--partitions", "2", bs)
	prod, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	produce := func(n int) {
		t.Helper()
		var recs []*kgo.Record
		for i := range n {
			recs = append(recs, &kgo.Record{Topic: "events", Partition: int32(i % 2), Value: []byte("v")})
		}
		if err := prod.ProduceSync(t.Context(), recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	produce(6)

	cons, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumerGroup("billing"), kgo.ConsumeTopics("events"),
		kgo.ClientID("billing-1"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for got := 0; got < 6; {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of 6", got)
		}
		got += fs.NumRecords()
	}
	if err := cons.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatal(err)
	}
	if out := mustCmd(t, "group", "list", bs); !hasRow(out, "billing", "Stable", "consumer") {
		t.Fatalf("list lacks billing, Stable:\n%s", out)
	}
	out := mustCmd(t, "group", "describe", "billing", bs)
	member := regexp.MustCompile(`(?m)^events\s+0\s+3\s+3\s+0\s+(\S+)\s+billing-1\s`).FindStringSubmatch(out)
	if !strings.Contains(out, "group billing: Stable, 1 members") || !strings.Contains(out, "total lag 0") || member == nil ||
		!regexp.MustCompile(`(?m)^events\s+1\s+3\s+3\s+0\s+`+regexp.QuoteMeta(member[1])+`\s+billing-1\s`).MatchString(out) {
		t.Fatalf("describe of the running group:\n%s", out)
	}

	cons.Close() // leaves the group
	produce(4)
	out = mustCmd(t, "group", "describe", "billing", bs)
	if !strings.Contains(out, "group billing: Empty, 0 members") || !strings.Contains(out, "total lag 4") ||
		!hasRow(out, "events", "0", "3", "5", "2", "-", "-", "-") || !hasRow(out, "events", "1", "3", "5", "2", "-", "-", "-") {
		t.Fatalf("describe of the group after it left:\n%s", out)
	}
	if _, err := twinmqCmd(t, "group", "describe", "nobody-here", bs); err == nil || !strings.Contains(err.Error(), "GROUP_ID_NOT_FOUND") {
		t.Fatalf("describe of an unknown group: %v, want GROUP_ID_NOT_FOUND", err)
	}
	if out := mustCmd(t, "group", "delete", "billing", bs); !strings.Contains(out, "deleted billing") {
		t.Fatalf("delete printed %q", out)
	}
	if out := mustCmd(t, "group", "list", bs); strings.Contains(out, "billing") {
		t.Fatalf("list after delete:\n%s", out)
	}
}
