package main

import (
	"encoding/json"
	"log/slog"
	"net"
	"strings"
	"testing"
)

// TestGroupCommandsFail: a command that only holds subcommands fails with
// an unknown or a missing subcommand (cobra printed help and exit 0, so
// `twinmq topic lst` looked like success to a script), suggesting the
// near miss.
func TestGroupCommandsFail(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"topic", "lst"}, `topic: unknown subcommand "lst" (one of: alter, consume, create, delete, describe, list, produce); did you mean list?`},
		{[]string{"group", "lst"}, `group: unknown subcommand "lst"`},
		{[]string{"message"}, "message: a subcommand is required (one of: query, resend-dlq, trim)"},
		{[]string{"topic"}, "topic: a subcommand is required"},
		{[]string{"bench", "kafak"}, "did you mean kafka or kfake?"},
	} {
		_, err := twinmqCmd(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("twinmq %s: %v, want an error with %q", strings.Join(c.args, " "), err, c.want)
		}
	}
}

// TestAdminMessages: one partition is "1 partition"; an error names the
// command once (main adds "twinmq: "); a Kafka admin command pointed at
// the RocketMQ ports says so instead of franz-go's guess at TLS.
func TestAdminMessages(t *testing.T) {
	logs := serveForTest(t)
	kafka := "--bootstrap-server=" + listenAddr(t, logs, "Kafka")
	if out := mustCmd(t, "topic", "create", "logs", kafka); !strings.Contains(out, "created logs (1 partition)") {
		t.Fatalf("create printed %q", out)
	}
	_, err := twinmqCmd(t, "topic", "create", "logs", kafka)
	if err == nil || !strings.HasPrefix(err.Error(), "topic create: logs: TOPIC_ALREADY_EXISTS") {
		t.Fatalf("second create: %v", err)
	}
	for _, what := range []string{"RocketMQ remoting", "name server"} {
		addr := listenAddr(t, logs, what)
		_, err := twinmqCmd(t, "topic", "list", "--bootstrap-server="+addr)
		if err == nil || !strings.Contains(err.Error(), addr+" is a RocketMQ remoting port") {
			t.Errorf("topic list against the %s port: %v", what, err)
		}
	}
}

// TestPortInUse: a listener whose address is taken fails serve with the
// setting and the flag that change it.
func TestPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	busy := ln.Addr().String()
	for _, c := range []struct {
		key  string
		edit func(*Config)
	}{
		{"kafkaAddr", func(c *Config) { c.KafkaAddr = busy }},
		{"remotingAddr", func(c *Config) { c.RemotingAddr = busy }},
		{"namesrvListen", func(c *Config) { c.NamesrvListen = busy }},
		{"httpAddr", func(c *Config) { c.HTTPAddr = busy }},
	} {
		cfg := testConfig(t, c.edit)
		err := run(t.Context(), cfg, slog.New(slog.DiscardHandler))
		want := c.key + " " + busy + " is in use (set another with --" + kebab(c.key) + ")"
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s taken: %v, want %q", c.key, err, want)
		}
	}
}

// TestServingSummary: once everything runs, one line says where Kafka
// clients, RocketMQ clients, the metrics and the console connect.
func TestServingSummary(t *testing.T) {
	logs := serveForTest(t)
	kafka, namesrv := listenAddr(t, logs, "Kafka"), listenAddr(t, logs, "name server")
	line := ""
	for l := range strings.Lines(logs.String()) {
		if strings.Contains(l, "msg=serving") {
			line = l
		}
	}
	for _, want := range []string{"kafkaBootstrap=" + kafka, "rocketmqNamesrv=" + namesrv, "metrics=http://", "console=http://"} {
		if !strings.Contains(line, want) {
			t.Errorf("serving line %q lacks %q", line, want)
		}
	}
}

// TestBenchKafka: `bench kafka --format json` against a `twinmq serve`
// prints its results as JSON (every record once), progress lines on
// stderr, and deletes the topic it created.
func TestBenchKafka(t *testing.T) {
	kafka := listenAddr(t, serveForTest(t), "Kafka")
	bs := "--bootstrap-server=" + kafka
	out, errOut, err := twinmqStdin(t, "", "bench", "kafka", "--brokers", kafka, "--records", "3000", "--size", "100",
		"--partitions", "2", "--topic", "benched", "--format", "json")
	if err != nil {
		t.Fatalf("bench: %v\n%s\n%s", err, out, errOut)
	}
	var res []benchResultJSON
	if err := json.Unmarshal([]byte(out), &res); err != nil || len(res) != 1 || res[0].Records != 3000 || res[0].Lost != 0 ||
		res[0].Duplicates != 0 || res[0].MsgsPerSec <= 0 || res[0].E2EP99Ms < res[0].E2EP50Ms {
		t.Fatalf("bench printed %q: %v", out, err)
	}
	if !strings.Contains(errOut, "done: produced 3000 consumed 3000") {
		t.Fatalf("no final progress line on stderr:\n%s", errOut)
	}
	if out := mustCmd(t, "topic", "list", bs); strings.Contains(out, "benched") {
		t.Fatalf("the bench topic is still there:\n%s", out)
	}
}

// TestBenchKafkaPartitionSweep: `bench kafka --partitions 2,5` runs a
// round per partition count against every target (kfake and the broker)
// and prints each target's rate at each count against the first.
func TestBenchKafkaPartitionSweep(t *testing.T) {
	kafka := listenAddr(t, serveForTest(t), "Kafka")
	out, errOut, err := twinmqStdin(t, "", "bench", "kafka", "--brokers", kafka, "--kfake", "--records", "500", "--size", "100",
		"--partitions", "2,5", "--progress=false")
	if err != nil {
		t.Fatalf("bench: %v\n%s\n%s", err, out, errOut)
	}
	_, sweep, ok := strings.Cut(out, "partition sweep (rate against the first count):\n")
	if !ok || strings.Count(out, "ratio to kfake") != 2 {
		t.Fatalf("no sweep, or not two rounds:\n%s", out)
	}
	var rows []string
	for _, l := range strings.Split(strings.TrimSpace(sweep), "\n") {
		f := strings.Fields(l)
		rows = append(rows, f[0]+" "+f[1]+" "+f[len(f)-1])
	}
	want := []string{"kfake 2 1.00x", "kfake 5", kafka + " 2 1.00x", kafka + " 5"}
	for i, w := range want {
		if i >= len(rows) || !strings.HasPrefix(rows[i], w) {
			t.Fatalf("sweep rows %q, want them to start %q", rows, want)
		}
	}
}

// TestBrokerConfig: `broker config get` prints GET_BROKER_CONFIG's
// settings (all, or the keys asked, as text or JSON); `broker config set`
// sends UPDATE_BROKER_CONFIG, which twinmq refuses naming how to change
// each key, and changes nothing.
func TestBrokerConfig(t *testing.T) {
	rmq := "--broker-addr=" + listenAddr(t, serveForTest(t), "RocketMQ remoting")
	var all map[string]string
	if out := mustCmd(t, "broker", "config", "get", "--format", "json", rmq); json.Unmarshal([]byte(out), &all) != nil ||
		all["brokerName"] != "broker-a" || all["fileReservedTime"] != "72" {
		t.Fatalf("config get --format json:\n%s", out)
	}
	if out := mustCmd(t, "broker", "config", "get", "brokerName", "flushDiskType", rmq); !hasRow(out, "brokerName", "broker-a") ||
		!hasRow(out, "flushDiskType", "ASYNC_FLUSH") || strings.Contains(out, "fileReservedTime") {
		t.Fatalf("config get of two keys:\n%s", out)
	}
	if _, err := twinmqCmd(t, "broker", "config", "get", "nope", rmq); err == nil || !strings.Contains(err.Error(), "reports no nope") {
		t.Fatalf("get of an unknown key: %v", err)
	}
	_, err := twinmqCmd(t, "broker", "config", "set", "fileReservedTime=48", "nope=1", rmq)
	if err == nil || !strings.Contains(err.Error(), "fileReservedTime cannot change while the broker runs: restart with --retention-hours") ||
		!strings.Contains(err.Error(), "nope is not a twinmq broker setting") {
		t.Fatalf("set: %v", err)
	}
	if out := mustCmd(t, "broker", "config", "get", "fileReservedTime", rmq); !hasRow(out, "fileReservedTime", "72") {
		t.Fatalf("the refused set changed the setting:\n%s", out)
	}
	if _, err := twinmqCmd(t, "broker", "config", "set", "novalue", rmq); err == nil {
		t.Fatal("set of a bare key ran")
	}
}
