package main

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// committedOffsets returns group's committed offsets on topic's
// partitions 0 and 1 (-1: none), read with kadm as a user would check.
func committedOffsets(t *testing.T, addr, group, topic string) [2]int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	os, err := kadm.NewClient(cl).FetchOffsets(t.Context(), group)
	if err != nil {
		t.Fatal(err)
	}
	got := [2]int64{-1, -1}
	for p := range int32(2) {
		if o, ok := os.Lookup(topic, p); ok && o.Err == nil {
			got[p] = o.At
		}
	}
	return got
}

// TestGroupSeek: a franz-go consumer group consumes and commits 5
// records on each of 2 partitions; `group seek` refuses while it is a
// member, then, once it left, moves its offsets to the start, to an
// offset (clamped to the end), by a shift (clamped to the start) and to
// a time, each as its table said; --dry-run commits nothing;
// `group offset-delete` deletes one partition's offset.
func TestGroupSeek(t *testing.T) {
	addr := listenAddr(t, serveForTest(t), "Kafka")
	bs := "--bootstrap-server=" + addr
	mustCmd(t, "topic", "create", "seek", "--partitions", "2", bs)
	prod, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	// Records 0-2 of each partition an hour before records 3-4.
	t0 := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	var recs []*kgo.Record
	for i := range 10 {
		ts := t0
		if i >= 6 {
			ts = t0.Add(time.Hour)
		}
		recs = append(recs, &kgo.Record{Topic: "seek", Partition: int32(i % 2), Value: []byte("v"), Timestamp: ts})
	}
	if err := prod.ProduceSync(t.Context(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	cons, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumerGroup("g"), kgo.ConsumeTopics("seek"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for got := 0; got < 10; {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of 10", got)
		}
		got += fs.NumRecords()
	}
	if err := cons.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatal(err)
	}
	if got := committedOffsets(t, addr, "g", "seek"); got != [2]int64{5, 5} {
		t.Fatalf("committed %v, want [5 5]", got)
	}

	// A live member: refused, unless it is a dry run.
	_, err = twinmqCmd(t, "group", "seek", "g", "--to", "start", bs)
	if err == nil || !strings.Contains(err.Error(), "1 member (Kafka)") || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("seek of a group with a live member: %v, want a refusal naming --force", err)
	}
	if out := mustCmd(t, "group", "seek", "g", "--to", "start", "--dry-run", bs); !hasRow(out, "seek", "0", "5", "0", "5") {
		t.Fatalf("dry run on the live group:\n%s", out)
	}
	// --force passes the check, but the coordinator takes no commit from
	// outside the group while it has Kafka members (Kafka's neither).
	if _, err := twinmqCmd(t, "group", "seek", "g", "--to", "start", "--force", bs); err == nil ||
		!strings.Contains(err.Error(), "UNKNOWN_MEMBER_ID") || !strings.Contains(err.Error(), "stop them") {
		t.Fatalf("forced seek of a group with a live member: %v, want UNKNOWN_MEMBER_ID explained", err)
	}
	if got := committedOffsets(t, addr, "g", "seek"); got != [2]int64{5, 5} {
		t.Fatalf("after the refused seeks: committed %v, want [5 5]", got)
	}
	cons.Close() // leaves the group

	out := mustCmd(t, "group", "seek", "g", "--to", "start", "--dry-run", bs)
	if !hasRow(out, "TOPIC", "PARTITION", "CURRENT", "NEW", "LAG", "AFTER") || !hasRow(out, "seek", "0", "5", "0", "5") ||
		!hasRow(out, "seek", "1", "5", "0", "5") || !strings.Contains(out, "dry run: nothing committed") {
		t.Fatalf("dry run printed:\n%s", out)
	}
	if got := committedOffsets(t, addr, "g", "seek"); got != [2]int64{5, 5} {
		t.Fatalf("after the dry run: committed %v, want [5 5]", got)
	}
	var view seekView
	out = mustCmd(t, "group", "seek", "g", "--to", "start", "--dry-run", "--format", "json", bs)
	if err := json.Unmarshal([]byte(out), &view); err != nil || view.Group != "g" || !view.DryRun || view.Committed != 0 ||
		len(view.Plan) != 2 || *view.Plan[0].Current != 5 || view.Plan[0].New != 0 || view.Plan[1].LagAfter != 5 {
		t.Fatalf("dry run --format json printed %s: %v", out, err)
	}

	rfc := t0.Add(30 * time.Minute).Format(time.RFC3339)
	ms := strconv.FormatInt(t0.Add(-time.Minute).UnixMilli(), 10)
	for _, tc := range []struct {
		args []string
		rows [][]string // the plan's rows
		want [2]int64
	}{
		{[]string{"--to", "start"}, [][]string{{"seek", "0", "5", "0", "5"}, {"seek", "1", "5", "0", "5"}}, [2]int64{0, 0}},
		{[]string{"--to-offset", "4", "--topics", "seek:1"}, [][]string{{"seek", "1", "0", "4", "1"}}, [2]int64{0, 4}},
		{[]string{"--to-offset", "99"}, [][]string{{"seek", "0", "0", "5", "0"}, {"seek", "1", "4", "5", "0"}}, [2]int64{5, 5}},
		{[]string{"--shift-by", "-2"}, [][]string{{"seek", "0", "5", "3", "2"}, {"seek", "1", "5", "3", "2"}}, [2]int64{3, 3}},
		{[]string{"--shift-by=-4", "--topics", "seek:0"}, [][]string{{"seek", "0", "3", "0", "5"}}, [2]int64{0, 3}},
		{[]string{"--to", "end", "--topics", "seek"}, [][]string{{"seek", "0", "0", "5", "0"}, {"seek", "1", "3", "5", "0"}}, [2]int64{5, 5}},
		{[]string{"--to", rfc}, [][]string{{"seek", "0", "5", "3", "2"}, {"seek", "1", "5", "3", "2"}}, [2]int64{3, 3}},
		{[]string{"--to", ms}, [][]string{{"seek", "0", "3", "0", "5"}, {"seek", "1", "3", "0", "5"}}, [2]int64{0, 0}},
	} {
		args := append([]string{"group", "seek", "g", bs}, tc.args...)
		out := mustCmd(t, args...)
		for _, row := range tc.rows {
			if !hasRow(out, row...) {
				t.Errorf("seek %q: no row %q in\n%s", tc.args, row, out)
			}
		}
		if !strings.Contains(out, "committed "+plural(len(tc.rows), "offset")+" of group g") {
			t.Errorf("seek %q printed\n%s", tc.args, out)
		}
		if got := committedOffsets(t, addr, "g", "seek"); got != tc.want {
			t.Fatalf("seek %q: committed %v, want %v", tc.args, got, tc.want)
		}
	}

	for _, bad := range [][]string{
		{"group", "seek", "g", bs},                                      // no target
		{"group", "seek", "g", "--to", "yesterday", bs},                 // not a time
		{"group", "seek", "g", "--to", "start", "--to-offset", "1", bs}, // two targets
		{"group", "seek", "nobody", "--to", "start", bs},                // nothing committed
	} {
		if out, err := twinmqCmd(t, bad...); err == nil {
			t.Errorf("twinmq %q succeeded:\n%s", bad, out)
		}
	}

	if out := mustCmd(t, "group", "offset-delete", "g", "--topics", "seek:0", bs); !strings.Contains(out, "deleted the offsets of group g on seek/0") {
		t.Fatalf("offset-delete printed %q", out)
	}
	if got := committedOffsets(t, addr, "g", "seek"); got != [2]int64{-1, 0} {
		t.Fatalf("after offset-delete: committed %v, want [-1 0]", got)
	}
}

// TestSeekFlags: what --to and --topics accept.
func TestSeekFlags(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want seekTarget
		err  bool
	}{
		{in: "start", want: seekTarget{mode: "start"}},
		{in: "end", want: seekTarget{mode: "end"}},
		{in: "1767322800000", want: seekTarget{mode: "time", value: 1767322800000}},
		{in: "2026-01-02T03:00:00Z", want: seekTarget{mode: "time", value: 1767322800000}},
		{in: "2026-01-02T04:00:00.5+01:00", want: seekTarget{mode: "time", value: 1767322800500}},
		{in: "-5", err: true},
		{in: "2026-01-02", err: true},
		{in: "", err: true},
	} {
		got, err := parseSeekTo(tc.in)
		if (err != nil) != tc.err || (!tc.err && got != tc.want) {
			t.Errorf("parseSeekTo(%q) = %+v, %v; want %+v, error %v", tc.in, got, err, tc.want, tc.err)
		}
	}
	for _, tc := range []struct {
		in   []string
		want topicSpec
		err  bool
	}{
		{in: []string{"a"}, want: topicSpec{"a": nil}},
		{in: []string{"a:0,2", "b"}, want: topicSpec{"a": {0, 2}, "b": nil}},
		{in: []string{"a", "a:1"}, want: topicSpec{"a": nil}},
		{in: []string{"a:1", "a"}, want: topicSpec{"a": nil}},
		{in: []string{"a:"}, err: true},
		{in: []string{":1"}, err: true},
		{in: []string{"a:x"}, err: true},
		{in: []string{"a:-1"}, err: true},
	} {
		got, err := parseTopicSpecs(tc.in)
		if (err != nil) != tc.err || (!tc.err && !maps.EqualFunc(got, tc.want, slices.Equal)) {
			t.Errorf("parseTopicSpecs(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}
