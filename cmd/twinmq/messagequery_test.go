package main

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/apache/rocketmq-client-go/v2/rlog"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestMessageQueryAndTrim: a key given to a franz-go record and to a
// rocketmq-client-go message finds both with `message query --key`
// through the name server's route; the RocketMQ message's msgId and
// offsetMsgId find it alone; a time window and a missing key find
// nothing. `message trim` then deletes the records before an offset on
// one partition and, by time, everything on the other, as both protocols'
// start offsets show.
func TestMessageQueryAndTrim(t *testing.T) {
	rlog.SetLogLevel("fatal")
	logs := serveForTest(t)
	kafka, nsAddr := listenAddr(t, logs, "Kafka"), listenAddr(t, logs, "name server")
	bs, ns := "--bootstrap-server="+kafka, "--namesrv-addr="+nsAddr
	mustCmd(t, "topic", "create", "mq", "--partitions", "2", bs)
	waitRoute(t, nsAddr, "mq", 2)

	kc, err := kgo.NewClient(kgo.SeedBrokers(kafka), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	var recs []*kgo.Record
	for i := range 3 {
		recs = append(recs, &kgo.Record{Topic: "mq", Partition: int32(i % 2), Key: []byte("order-" + strconv.Itoa(i)), Value: []byte("from kafka")})
	}
	if err := kc.ProduceSync(t.Context(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	p, err := rocketmq.NewProducer(producer.WithNsResolver(primitive.NewPassthroughResolver([]string{nsAddr})), producer.WithGroupName("mqp"))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = p.Shutdown() }()
	sent, err := p.SendSync(t.Context(), primitive.NewMessage("mq", []byte("from rocketmq")).WithKeys([]string{"order-0", "other"}).WithTag("TagA"))
	if err != nil {
		t.Fatal(err)
	}

	query := func(args ...string) []queriedMessage {
		t.Helper()
		var ms []queriedMessage
		out := mustCmd(t, append([]string{"message", "query", "--topic", "mq", "--format", "json", ns}, args...)...)
		if err := json.Unmarshal([]byte(out), &ms); err != nil {
			t.Fatalf("query %v printed %q: %v", args, out, err)
		}
		return ms
	}
	// The IndexFile is built as the store dispatches: poll.
	var ms []queriedMessage
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if ms = query("--key", "order-0"); len(ms) == 2 || time.Now().After(deadline) {
			break
		}
	}
	if len(ms) != 2 {
		t.Fatalf("--key order-0 found %+v, want the Kafka record and the RocketMQ message", ms)
	}
	var bodies []string
	for _, m := range ms {
		bodies = append(bodies, m.Body)
		if !strings.Contains(" "+m.Keys+" ", " order-0 ") || m.Topic != "mq" || m.StoreTime.IsZero() {
			t.Fatalf("found %+v", m)
		}
	}
	if !strings.Contains(strings.Join(bodies, "|"), "from kafka") || !strings.Contains(strings.Join(bodies, "|"), "from rocketmq") {
		t.Fatalf("bodies %q", bodies)
	}
	if ms := query("--id", sent.MsgID); len(ms) != 1 || ms[0].Body != "from rocketmq" || ms[0].Tags != "TagA" || ms[0].MsgID != sent.MsgID {
		t.Fatalf("--id %s found %+v", sent.MsgID, ms)
	}
	if ms := query("--offset-id", sent.OffsetMsgID); len(ms) != 1 || ms[0].MsgID != sent.MsgID || ms[0].OffsetMsgID != sent.OffsetMsgID {
		t.Fatalf("--offset-id %s found %+v", sent.OffsetMsgID, ms)
	}
	if ms := query("--key", "order-1"); len(ms) != 1 || ms[0].Body != "from kafka" || ms[0].QueueID != 1 {
		t.Fatalf("--key order-1 found %+v", ms)
	}
	if ms := query("--key", "nope"); len(ms) != 0 {
		t.Fatalf("--key nope found %+v", ms)
	}
	if ms := query("--key", "order-0", "--begin", strconv.FormatInt(time.Now().Add(time.Hour).UnixMilli(), 10)); len(ms) != 0 {
		t.Fatalf("--begin in an hour found %+v", ms)
	}
	if out := mustCmd(t, "message", "query", "--topic", "mq", "--key", "order-1", ns); !strings.Contains(out, "from kafka") && !strings.Contains(out, "10 B") {
		t.Fatalf("text query:\n%s", out)
	}
	if _, err := twinmqCmd(t, "message", "query", "--key", "order-1", ns); err == nil {
		t.Fatal("query by key without --topic ran")
	}

	// Trim: partition 0 before offset 1; then everything older than now
	// on partition 1, after a dry run that deletes nothing.
	starts := func() map[int32]int64 {
		t.Helper()
		var desc []struct {
			Partitions []struct{ Partition, Start int64 }
		}
		if out := mustCmd(t, "topic", "describe", "mq", "--format", "json", bs); json.Unmarshal([]byte(out), &desc) != nil || len(desc) != 1 {
			t.Fatalf("describe: %s", out)
		}
		m := map[int32]int64{}
		for _, p := range desc[0].Partitions {
			m[int32(p.Partition)] = p.Start
		}
		return m
	}
	var rows []trimRow
	out := mustCmd(t, "message", "trim", "--topics", "mq:0", "--before-offset", "1", "--format", "json", bs)
	if json.Unmarshal([]byte(out), &rows) != nil || len(rows) != 1 || rows[0].NewStart != 1 || rows[0].Trimmed != 1 {
		t.Fatalf("trim mq:0 before 1: %s", out)
	}
	now := strconv.FormatInt(time.Now().UnixMilli()+1, 10)
	out = mustCmd(t, "message", "trim", "--topics", "mq:1", "--before-time", now, "--dry-run", bs)
	if !strings.Contains(out, "dry run: nothing deleted") || starts()[1] != 0 {
		t.Fatalf("dry run:\n%s\nstarts %v", out, starts())
	}
	rows = nil
	out = mustCmd(t, "message", "trim", "--topics", "mq:1", "--before-time", now, "--format", "json", bs)
	if json.Unmarshal([]byte(out), &rows) != nil || len(rows) != 1 || rows[0].NewStart != rows[0].End || rows[0].End == 0 {
		t.Fatalf("trim mq:1 before now: %s", out)
	}
	if s := starts(); s[0] != 1 || s[1] != rows[0].End {
		t.Fatalf("starts after trim %v", s)
	}
	if _, err := twinmqCmd(t, "message", "trim", "--topics", "mq", bs); err == nil {
		t.Fatal("trim without --before-offset or --before-time ran")
	}
}
