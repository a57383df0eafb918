package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/apache/rocketmq-client-go/v2/rlog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// twinmqStdin runs the twinmq command line args with stdin and returns
// its stdout, its stderr and its error.
func twinmqStdin(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	return twinmqEnvStdin(t, nil, stdin, args...)
}

// twinmqEnvStdin is twinmqStdin with environ as the process environment.
func twinmqEnvStdin(t *testing.T, environ []string, stdin string, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := newRootCommand(environ)
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(t.Context())
	return out.String(), errOut.String(), err
}

func TestOffsetSpec(t *testing.T) {
	// A partition holding offsets 10..19; the first record at the time is 14.
	for _, c := range []struct {
		spec string
		want int64
	}{
		{"start", 10}, {"end", 20}, {"+3", 13}, {"+30", 20}, {"-3", 17}, {"-30", 10},
		{"15", 15}, {"0", 10}, {"99", 20}, {"@1700000000000", 14}, {"@2023-11-14T22:13:20Z", 14},
	} {
		o, err := parseOffsetSpec(c.spec)
		if err != nil {
			t.Errorf("-o %s: %v", c.spec, err)
			continue
		}
		if got := o.resolve(10, 20, 14); got != c.want {
			t.Errorf("-o %s: offset %d, want %d", c.spec, got, c.want)
		}
	}
	for _, bad := range []string{"", "x", "@yesterday", "+x"} {
		if _, err := parseOffsetSpec(bad); err == nil {
			t.Errorf("-o %q accepted", bad)
		}
	}
}

func TestInputFormat(t *testing.T) {
	for _, c := range []struct {
		format, in string
		want       []string // key|value, or "-|value" without %k
	}{
		{`%v\n`, "a\nb c\n\nd", []string{"-|a", "-|b c", "-|d"}},
		{`%v`, "a\nb", []string{"-|a", "-|b"}},
		{`%k %v`, "k1 v 1\nk2 v2\n", []string{"k1|v 1", "k2|v2"}},
		{`%k=%v;`, "a=1;b=2;", []string{"a|1", "b|2"}},
		{`key:%k\tval:%v\n`, "key:x\tval:y\n", []string{"x|y"}},
	} {
		in, err := parseInputFormat(c.format)
		if err != nil {
			t.Fatalf("%q: %v", c.format, err)
		}
		sc := bufio.NewScanner(strings.NewReader(c.in))
		sc.Split(in.split)
		var got []string
		for sc.Scan() {
			if len(sc.Bytes()) == 0 {
				continue
			}
			k, v, hasKey, err := in.parse(sc.Bytes())
			if err != nil {
				t.Fatalf("%q: %v", c.format, err)
			}
			if !hasKey {
				k = []byte("-")
			}
			got = append(got, string(k)+"|"+string(v))
		}
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("%q on %q: %q, want %q", c.format, c.in, got, c.want)
		}
	}
	if _, err := parseInputFormat("abc"); err == nil {
		t.Error("a format without verbs accepted")
	}
	if _, err := parseInputFormat("%x"); err == nil {
		t.Error("verb x accepted in an input format")
	}
	in, _ := parseInputFormat("%k %v")
	if _, _, _, err := in.parse([]byte("nospace")); err == nil {
		t.Error("a record without the separator parsed")
	}
}

func TestOutputFormat(t *testing.T) {
	r := &kgo.Record{Topic: "t", Partition: 2, Offset: 7, Key: []byte("k"), Value: []byte("value"),
		Headers:   []kgo.RecordHeader{{Key: "a", Value: []byte("1")}, {Key: "b", Value: []byte("2")}},
		Timestamp: time.UnixMilli(1700000000123)}
	ps, err := parseFormat(unescape(`%t|%p|%o|%k|%v|%h|%T|%s|%K|%%\t.\n`), consumeVerbs)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	w := bufio.NewWriter(&b)
	writeRecord(w, ps, r)
	w.Flush()
	if want := "t|2|7|k|value|a=1,b=2|1700000000123|5|1|%\t.\n"; b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
	if _, err := parseFormat("%q", consumeVerbs); err == nil {
		t.Error("verb q accepted")
	}
}

// TestTopicProduceConsume produces lines with keys and headers with
// `topic produce` and reads them back with `topic consume`: the exact
// output for a format, the -o variants, -p, -n and a group's commits.
func TestTopicProduceConsume(t *testing.T) {
	addr := listenAddr(t, serveForTest(t), "Kafka")
	bs := "--bootstrap-server=" + addr
	mustCmd(t, "topic", "create", "lines", "--partitions", "2", bs)

	_, summary, err := twinmqStdin(t, "a 1\nb 2\nc 3\n", "topic", "produce", "lines", "-f", "%k %v", "-H", "h1=x", "-H", "h2=y", "-p", "0", bs)
	if err != nil || summary != "produced 3 records to lines (partition 0: 3)\n" {
		t.Fatalf("produce: %v, printed %q", err, summary)
	}
	_, summary, err = twinmqStdin(t, "d\ne\n", "topic", "produce", "lines", "-k", "kk", "-p", "1", bs)
	if err != nil || summary != "produced 2 records to lines (partition 1: 2)\n" {
		t.Fatalf("produce: %v, printed %q", err, summary)
	}

	consume := func(args ...string) string {
		t.Helper()
		return mustCmd(t, append([]string{"topic", "consume", "lines", bs, "-f", `%t %p %o %k %v %h\n`}, args...)...)
	}
	if got, want := consume("-p", "0"), "lines 0 0 a 1 h1=x,h2=y\nlines 0 1 b 2 h1=x,h2=y\nlines 0 2 c 3 h1=x,h2=y\n"; got != want {
		t.Errorf("consume -p 0:\n%s\nwant:\n%s", got, want)
	}
	if got, want := consume("-p", "1"), "lines 1 0 kk d \nlines 1 1 kk e \n"; got != want {
		t.Errorf("consume -p 1:\n%s\nwant:\n%s", got, want)
	}
	for _, c := range []struct {
		o    string
		want string // per partition 0 then 1, the offsets printed
	}{
		{"start", "0 1 2 | 0 1"}, {"end", " | "}, {"+1", "1 2 | 1"}, {"-1", "2 | 1"}, {"2", "2 | "},
		{"@" + time.Now().Add(-time.Hour).Format(time.RFC3339), "0 1 2 | 0 1"},
		{"@" + fmt.Sprint(time.Now().Add(time.Hour).UnixMilli()), " | "},
	} {
		var got []string
		for _, p := range []string{"0", "1"} {
			got = append(got, strings.Join(strings.Fields(mustCmd(t, "topic", "consume", "lines", bs, "-p", p, "-o", c.o, "-f", `%o\n`)), " "))
		}
		if g := strings.Join(got, " | "); g != c.want {
			t.Errorf("-o %s: offsets %q, want %q", c.o, g, c.want)
		}
	}
	if got := mustCmd(t, "topic", "consume", "lines", bs, "-p", "0", "-n", "2", "-f", `%v,`); got != "1,2," {
		t.Errorf("-n 2: %q", got)
	}
	if got := mustCmd(t, "topic", "consume", "lines", bs, "-p", "0", "-f", `%s %K %T\n`); !strings.HasPrefix(got, "1 1 ") {
		t.Errorf("%%s %%K %%T: %q", got)
	}

	// A group: the first run reads 3 and commits them, the second the rest.
	got := mustCmd(t, "topic", "consume", "lines", bs, "-g", "reader", "-n", "3", "-f", `%p/%o\n`)
	if n := strings.Count(got, "\n"); n != 3 {
		t.Fatalf("-g -n 3 printed %q", got)
	}
	rest := mustCmd(t, "topic", "consume", "lines", bs, "-g", "reader", "-f", `%p/%o\n`)
	all := strings.Fields(got + rest)
	if len(all) != 5 || strings.Count(rest, "\n") != 2 {
		t.Fatalf("group runs printed %q then %q, want 5 records in all", got, rest)
	}
	if out := mustCmd(t, "group", "describe", "reader", bs); !strings.Contains(out, "total lag 0") {
		t.Fatalf("group after consume:\n%s", out)
	}

	// Failures: an unknown topic, a bad -H, a line without the separator.
	if _, err := twinmqCmd(t, "topic", "consume", "nope", bs); err == nil {
		t.Error("consume of an unknown topic succeeded")
	}
	if _, _, err := twinmqStdin(t, "x\n", "topic", "produce", "lines", "-H", "novalue", bs); err == nil {
		t.Error("-H without '=' accepted")
	}
	if _, _, err := twinmqStdin(t, "nospace\n", "topic", "produce", "lines", "-f", "%k %v", bs); err == nil {
		t.Error("a line without the separator accepted")
	}
	if _, _, err := twinmqStdin(t, "x\n", "topic", "produce", "lines", "-p", "9", bs); err == nil {
		t.Error("produce to a missing partition succeeded")
	}
}

// TestTopicConsumeRocketMQ: a message sent by rocketmq-client-go with a
// tag and keys shows, to `topic consume`, its keys as the record key and
// its tag and keys as the TAGS and KEYS headers; `topic produce --tag`
// sets the TAGS header.
func TestTopicConsumeRocketMQ(t *testing.T) {
	logs := serveForTest(t)
	bs := "--bootstrap-server=" + listenAddr(t, logs, "Kafka")
	mustCmd(t, "topic", "create", "mixed", bs)
	rlog.SetLogLevel("error")
	p, err := rocketmq.NewProducer(producer.WithNsResolver(primitive.NewPassthroughResolver([]string{listenAddr(t, logs, "name server")})),
		producer.WithGroupName("pc_test_pg"), producer.WithRetry(2))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown()
	msg := primitive.NewMessage("mixed", []byte("from rocketmq"))
	msg.WithTag("TagA")
	msg.WithKeys([]string{"order-1"})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if _, err := p.SendSync(ctx, msg); err != nil {
		t.Fatal(err)
	}
	if _, _, err := twinmqStdin(t, "from kafka\n", "topic", "produce", "mixed", "--tag", "TagB", bs); err != nil {
		t.Fatal(err)
	}
	out := mustCmd(t, "topic", "consume", "mixed", bs, "-f", `%o %k %v|%h\n`)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "0 order-1 from rocketmq|") || lines[1] != "1  from kafka|TAGS=TagB" {
		t.Fatalf("consumed:\n%s", out)
	}
	hs := strings.Split(strings.TrimPrefix(lines[0], "0 order-1 from rocketmq|"), ",")
	for _, want := range []string{"TAGS=TagA", "KEYS=order-1"} {
		if !contains(hs, want) {
			t.Errorf("headers %q lack %s", hs, want)
		}
	}
	for tag, want := range map[string]string{"TagA": "0\n", "TagB": "1\n", "TagA || TagB": "0\n1\n", "*": "0\n1\n", "TagC": ""} {
		if got := mustCmd(t, "topic", "consume", "mixed", bs, "--tag", tag, "-f", `%o\n`); got != want {
			t.Errorf("--tag %q: offsets %q, want %q", tag, got, want)
		}
	}
}

func TestProduceHeaders(t *testing.T) {
	f := produceFlags{headers: []string{"a=1", "b="}, tag: "T", deliverAt: "2026-01-02T03:04:05Z"}
	hs, err := f.recordHeaders()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, h := range hs {
		got = append(got, h.Key+"="+string(h.Value))
	}
	if want := "[a=1 b= TAGS=T TIMER_DELIVER_MS=1767323045000]"; fmt.Sprint(got) != want {
		t.Errorf("headers %v, want %s", got, want)
	}
	f = produceFlags{delayLevel: 3, deliverAt: ""}
	if hs, err := f.recordHeaders(); err != nil || len(hs) != 1 || hs[0].Key != "DELAY" || string(hs[0].Value) != "3" {
		t.Errorf("--delay-level 3: %v %v", hs, err)
	}
	for _, bad := range []produceFlags{{delayLevel: -1}, {deliverAt: "tomorrow"}, {headers: []string{"=x"}}} {
		if _, err := bad.recordHeaders(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestTopicProduceDelay: a record produced with --delay-level 1 is not in
// the partition when produce returns (its end offset stays 0), and is
// there, and consumed, once it is due (1 s).
func TestTopicProduceDelay(t *testing.T) {
	addr := listenAddr(t, serveForTest(t), "Kafka")
	bs := "--bootstrap-server=" + addr
	mustCmd(t, "topic", "create", "later", bs)
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	end := func() int64 {
		t.Helper()
		ends, err := adm.ListEndOffsets(t.Context(), "later")
		if err != nil {
			t.Fatal(err)
		}
		o, _ := ends.Lookup("later", 0)
		return o.Offset
	}
	sent := time.Now()
	if _, _, err := twinmqStdin(t, "soon\n", "topic", "produce", "later", "--delay-level", "1", bs); err != nil {
		t.Fatal(err)
	}
	if e := end(); e != 0 && time.Since(sent) < time.Second {
		t.Fatalf("end offset %d right after a delayed produce, want 0", e)
	}
	for deadline := time.Now().Add(15 * time.Second); end() != 1; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the delayed record did not arrive in 15 s")
		}
	}
	if waited := time.Since(sent); waited < 900*time.Millisecond {
		t.Errorf("delivered after %v, want about 1 s", waited)
	}
	// Delivered as RocketMQ delivers: without DELAY, with REAL_TOPIC and REAL_QID.
	if out := mustCmd(t, "topic", "consume", "later", bs, "-f", `%v %h\n`); !strings.HasPrefix(out, "soon ") || strings.Contains(out, "DELAY") {
		t.Errorf("consumed %q, want the record without DELAY", out)
	}
	if _, _, err := twinmqStdin(t, "x\n", "topic", "produce", "later", "--delay-level", "1", "--deliver-at", "0", bs); err == nil {
		t.Error("--delay-level with --deliver-at accepted")
	}
}

// TestTopicConsumeFollow: --follow waits at the end of an empty topic for
// records produced once its group is Stable, commits them and stops at
// -n; TWINMQ_BOOTSTRAP_SERVER stands in for --bootstrap-server.
func TestTopicConsumeFollow(t *testing.T) {
	addr := listenAddr(t, serveForTest(t), "Kafka")
	bs := "--bootstrap-server=" + addr
	env := []string{envBootstrap + "=" + addr}
	mustCmd(t, "topic", "create", "tail", bs)
	type result struct {
		out string
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, _, err := twinmqEnvStdin(t, env, "", "topic", "consume", "tail", "--follow", "-g", "tailer", "-n", "2", "-f", `%o:%v\n`)
		done <- result{out, err}
	}()
	for deadline := time.Now().Add(15 * time.Second); !hasRow(mustCmd(t, "group", "list", bs), "tailer", "Stable", "consumer"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the --follow consumer's group is not Stable after 15 s")
		}
	}
	if _, _, err := twinmqEnvStdin(t, env, "x\ny\n", "topic", "produce", "tail"); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-done:
		if r.err != nil || r.out != "0:x\n1:y\n" {
			t.Fatalf("consume --follow: %v, printed %q", r.err, r.out)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("consume --follow -n 2 did not stop after 2 records")
	}
	if out := mustCmd(t, "group", "describe", "tailer", bs); !hasRow(out, "tail", "0", "2", "2", "0", "-", "-", "-") {
		t.Fatalf("the group did not commit what it printed:\n%s", out)
	}
}
