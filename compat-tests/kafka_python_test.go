package compattests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The Python Kafka clients are Debian packages: they install for Debian's
// interpreter, not for a pyenv or virtualenv python3 first on PATH, so the
// tests run this one by its path.
const (
	pythonBin = "/usr/bin/python3"
	pythonFix = "apt-get install -y python3-kafka python3-confluent-kafka python3-snappy python3-lz4 python3-zstandard"
)

// pyClient is one Python client and the script that drives it.
type pyClient struct {
	name   string
	script string
	// createTime is the client's code for a CreateTime timestamp:
	// kafka-python reports the batch attribute bit (0), librdkafka its
	// own enum (RD_KAFKA_TIMESTAMP_CREATE_TIME, 1).
	createTime int
	// xCodec is the codec of the cross-protocol producer: each client
	// crosses with another compressed codec.
	xCodec string
}

var pyClients = []pyClient{
	{name: "kafka-python", script: "kafka_python_client.py", createTime: 0, xCodec: "lz4"},
	{name: "confluent", script: "confluent_client.py", createTime: 1, xCodec: "zstd"},
}

// pyCodecs are the codecs both clients produce: every codec Kafka has.
var pyCodecs = []string{"none", "gzip", "snappy", "lz4", "zstd"}

// pythonCheck imports every module the scripts need, and the codecs
// kafka-python loads lazily (it fails at send time without them), once
// per test binary; it answers the versions.
var pythonCheck = sync.OnceValues(func() (string, error) {
	out, err := exec.Command(pythonBin, "-E", "-B", "-c", `
import kafka, confluent_kafka, snappy, lz4.frame, zstandard
from kafka.codec import has_gzip, has_snappy, has_lz4, has_zstd
assert has_gzip() and has_snappy() and has_lz4() and has_zstd(), "kafka-python lacks a codec"
print("kafka-python %s, confluent-kafka-python %s over librdkafka %s" % (
    kafka.__version__, confluent_kafka.version()[0], confluent_kafka.libversion()[0]))
`).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s cannot load the Python Kafka clients: %v\n%s", pythonBin, err, out)
	}
	return strings.TrimSpace(string(out)), nil
})

// needPython fails the test with the command that installs the clients,
// or skips it when TWINMQ_COMPAT_SKIP_PYTHON=1: a missing package never
// passes silently.
func needPython(t *testing.T) {
	t.Helper()
	versions, err := pythonCheck()
	if err == nil {
		t.Log(versions)
		return
	}
	if os.Getenv("TWINMQ_COMPAT_SKIP_PYTHON") == "1" {
		t.Skipf("TWINMQ_COMPAT_SKIP_PYTHON=1: %v", err)
	}
	t.Fatalf("%v\ninstall them with:\n  %s\n(or set TWINMQ_COMPAT_SKIP_PYTHON=1 to skip the Python compat tests)", err, pythonFix)
}

// pyEvent is one JSON line of python/*.py (python/common.py describes
// them); each role fills its own fields.
type pyEvent struct {
	Event       string      `json:"event"`
	I           int         `json:"i"`
	Topic       string      `json:"topic"`
	Partition   int32       `json:"partition"`
	Offset      int64       `json:"offset"`
	Key         *string     `json:"key"`
	Value       string      `json:"value"`
	Headers     [][2]string `json:"headers"`
	TS          int64       `json:"ts"`
	TSType      int         `json:"tsType"`
	RecordTS    *int64      `json:"recordTs"`
	State       string      `json:"state"`
	Present     bool        `json:"present"`
	Error       int         `json:"error"`
	Partitions  int         `json:"partitions"`
	Leaders     []int32     `json:"leaders"`
	RetentionMs *string     `json:"retentionMs"`
}

// runPython runs one role of c's script against the Kafka listener at
// addr, writes input to its stdin as JSON, and returns its events. The
// script's own deadline (--timeout, 30 s) comes first; the context is a
// backstop for a hung interpreter.
func runPython(t *testing.T, c pyClient, addr, role string, input any, args ...string) []pyEvent {
	t.Helper()
	dir, err := filepath.Abs("python")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// -E: ignore PYTHON* variables (a PYTHONPATH or PYTHONHOME meant for
	// a pyenv or virtualenv interpreter would shadow Debian's modules);
	// -B: no __pycache__ in the source tree.
	cmd := exec.CommandContext(ctx, pythonBin, append([]string{"-E", "-B", c.script, role, "--bootstrap", addr}, args...)...)
	cmd.Dir = dir
	in, err := json.Marshal(input)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s %s: %v after %v\nstdout:\n%s\nstderr:\n%s", c.script, role, strings.Join(args, " "), err,
			time.Since(start).Round(time.Millisecond), out, stderr.Bytes())
	}
	if os.Getenv("TWINMQ_TEST_DEBUG") != "" {
		t.Logf("%s %s %s (%v):\n%s%s", c.script, role, strings.Join(args, " "), time.Since(start).Round(time.Millisecond),
			out, stderr.Bytes())
	}
	var evs []pyEvent
	for line := range bytes.Lines(out) {
		var e pyEvent
		if err := json.Unmarshal(line, &e); err != nil {
			t.Fatalf("%s %s: line %q: %v\nstderr:\n%s", c.script, role, line, err, stderr.Bytes())
		}
		evs = append(evs, e)
	}
	return evs
}

// only keeps the events of one kind.
func only(evs []pyEvent, event string) []pyEvent {
	var out []pyEvent
	for _, e := range evs {
		if e.Event == event {
			out = append(out, e)
		}
	}
	return out
}

// pyRecord is a record as the scripts produce it.
type pyRecord struct {
	Topic     string      `json:"topic"`
	Partition int32       `json:"partition"`
	Key       string      `json:"key"`
	Value     string      `json:"value"`
	Headers   [][2]string `json:"headers"`
	TS        int64       `json:"ts"`
}

// pyHeaders are the headers the scripts send with w: two, so that their
// order counts.
func pyHeaders(w kafkaRecord) [][2]string {
	return [][2]string{{"i", w.Header}, {"k", w.Key}}
}

// pyProduce produces want to topic with c and codec, and checks the
// acknowledged offsets: per partition 0, 1, 2, ... in produce order.
func pyProduce(t *testing.T, c pyClient, addr, topic, codec string, want []kafkaRecord) {
	t.Helper()
	recs := make([]pyRecord, len(want))
	for i, w := range want {
		recs[i] = pyRecord{Topic: topic, Partition: w.Partition, Key: w.Key, Value: w.Value, Headers: pyHeaders(w),
			TS: w.Timestamp.UnixMilli()}
	}
	sent := only(runPython(t, c, addr, "produce", map[string]any{"records": recs}, "--codec", codec), "sent")
	if len(sent) != len(want) {
		t.Fatalf("%d of %d records acknowledged", len(sent), len(want))
	}
	next := map[int32]int64{}
	for i, s := range sent {
		if s.I != i || s.Partition != want[i].Partition || s.Offset != next[s.Partition] {
			t.Fatalf("record %d acknowledged as %d at %d/%d; want partition %d offset %d", i, s.I, s.Partition, s.Offset,
				want[i].Partition, next[want[i].Partition])
		}
		next[s.Partition]++
	}
}

// pyConsume runs c's group consumer on topic until len(want) records
// arrived and it committed, checks the records against want (every one
// once, in order per partition, key, value, headers, CreateTime
// timestamps) and the commit (the end of every partition, in the client's
// and in the coordinator's view), and returns the records.
func pyConsume(t *testing.T, c pyClient, addr, topic, group string, want []kafkaRecord) []pyEvent {
	t.Helper()
	evs := runPython(t, c, addr, "consume", nil, "--topic", topic, "--group", group, "--want", strconv.Itoa(len(want)))
	msgs := only(evs, "msg")
	got := make([]gotRecord, len(msgs))
	for i, m := range msgs {
		key := "<null>"
		if m.Key != nil {
			key = *m.Key
		}
		got[i] = gotRecord{Partition: m.Partition, Offset: m.Offset, Key: key, Value: m.Value,
			Timestamp: time.UnixMilli(m.TS)}
		if len(m.Headers) > 0 {
			got[i].Header = m.Headers[0][1]
		}
	}
	checkRecords(t, want, got, true)
	// checkRecords matched got to want in order; the full header lists
	// and the timestamp type are checked here.
	byValue := map[string]kafkaRecord{}
	for _, w := range want {
		byValue[w.Value] = w
	}
	for _, m := range msgs {
		if w := byValue[m.Value]; !slices.Equal(m.Headers, pyHeaders(w)) || m.TSType != c.createTime {
			t.Fatalf("%s: headers %q timestamp type %d; want %q and CreateTime (%d)", m.Value, m.Headers, m.TSType,
				pyHeaders(w), c.createTime)
		}
	}
	end := endOffsets(msgs)
	clientView := map[int32]int64{}
	for _, e := range only(evs, "committed") {
		clientView[e.Partition] = e.Offset
	}
	if !maps.Equal(clientView, end) {
		t.Fatalf("%s committed %v (client's view); want the ends %v", c.name, clientView, end)
	}
	if got := groupOffsets(t, addr, group, topic); !maps.Equal(got, end) {
		t.Fatalf("coordinator has %v for %s; want the ends %v", got, group, end)
	}
	return msgs
}

// endOffsets is one past the last offset consumed per partition.
func endOffsets(msgs []pyEvent) map[int32]int64 {
	end := map[int32]int64{}
	for _, m := range msgs {
		end[m.Partition] = max(end[m.Partition], m.Offset+1)
	}
	return end
}

// groupOffsets reads group's committed offsets on topic with kadm
// (OffsetFetch): what the coordinator holds, whatever the client says.
func groupOffsets(t *testing.T, addr, group, topic string) map[int32]int64 {
	t.Helper()
	adm := kadm.NewClient(kgoClient(t, addr))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		t.Fatalf("fetch offsets of %s: %v", group, err)
	}
	out := map[int32]int64{}
	resp.Each(func(o kadm.OffsetResponse) {
		if o.Topic == topic {
			out[o.Partition] = o.At
		}
	})
	return out
}

// pyWaitEmpty waits until group has no member, as a user of
// kafka-consumer-groups waits for the consumers to stop before a reset:
// a closing consumer's last request is its LeaveGroup, and whether a
// client awaits the answer before its process exits is up to the client.
func pyWaitEmpty(t *testing.T, addr, group string) {
	t.Helper()
	adm := kadm.NewClient(kgoClient(t, addr))
	state := ""
	deadline := time.Now().Add(10 * time.Second)
	for state != "Empty" {
		if time.Now().After(deadline) {
			t.Fatalf("group %s is %q, not Empty, 10 s after its consumer closed", group, state)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		gs, err := adm.DescribeGroups(ctx, group)
		cancel()
		if err == nil {
			state = gs[group].State
		}
		if state != "Empty" {
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// pyOffsets is the offset of each of want's records in its partition,
// when want is produced in order to an empty topic.
func pyOffsets(want []kafkaRecord) []int64 {
	next := map[int32]int64{}
	out := make([]int64, len(want))
	for i, w := range want {
		out[i] = next[w.Partition]
		next[w.Partition]++
	}
	return out
}

// TestKafkaPythonProduceConsume runs each Python client with every codec
// on a two-partition topic: it produces with explicit timestamps, keys and
// two headers, reads back in a consumer group that commits, and looks
// offsets up by time (before the first record, on a record, between two,
// on the last, after the last). The broker is `twinmq serve`'s shape
// (startXBroker): the group coordinator is part of it.
func TestKafkaPythonProduceConsume(t *testing.T) {
	needPython(t)
	b := startXBroker(t)
	for _, c := range pyClients {
		t.Run(c.name, func(t *testing.T) {
			for _, codec := range pyCodecs {
				t.Run(codec, func(t *testing.T) {
					topic := kafkaTopicName(t, "py-"+c.name+"-"+codec)
					createTopic(t, b.kafkaAddr, topic, 2, nil)
					want := wantRecords(40, 2, c.name+"-"+codec)
					pyProduce(t, c, b.kafkaAddr, topic, codec, want)
					pyCheckCodec(t, b.kafkaAddr, topic, codec, want)
					pyConsume(t, c, b.kafkaAddr, topic, uniqueGroup(t, "py"), want)
					pyCheckTimes(t, c, b.kafkaAddr, topic, want)
				})
			}
		})
	}
}

// pyCodecIDs are the batch attribute's compression codes (KIP-110 for
// zstd).
var pyCodecIDs = map[string]uint8{"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}

// pyCheckCodec reads topic with franz-go, a client the Python producer
// did not choose: the records must match want as stored, and every batch
// must carry codec, so the client compressed (librdkafka sends a batch
// uncompressed when compressing does not shrink it; these do shrink).
func pyCheckCodec(t *testing.T, addr, topic, codec string, want []kafkaRecord) {
	t.Helper()
	rs := consumeKgo(t, addr, topic, map[int32]kgo.Offset{0: kgo.NewOffset().AtStart(), 1: kgo.NewOffset().AtStart()}, len(want))
	checkRecords(t, want, fromKgo(rs), true)
	for _, r := range rs {
		if got := r.Attrs.CompressionType(); got != pyCodecIDs[codec] {
			t.Fatalf("record %d/%d stored with codec %d; want %s (%d)", r.Partition, r.Offset, got, codec, pyCodecIDs[codec])
		}
	}
}

// pyCheckTimes looks offsets up by timestamp with c, as a "seek to time"
// does, and checks Kafka's answer: the first offset whose timestamp is at
// or after the time, or -1 when none is. want was produced in order with
// rising timestamps 1 ms apart over two partitions, so a timestamp of one
// partition falls between two records of the other.
func pyCheckTimes(t *testing.T, c pyClient, addr, topic string, want []kafkaRecord) {
	t.Helper()
	offs := pyOffsets(want)
	type query struct {
		Partition int32 `json:"partition"`
		TS        int64 `json:"ts"`
	}
	var qs []query
	var wantOff []int64
	var wantTS []int64
	for p := range int32(2) {
		var idx []int // want's records in partition p
		for i, w := range want {
			if w.Partition == p {
				idx = append(idx, i)
			}
		}
		ts := func(k int) int64 { return want[idx[k]].Timestamp.UnixMilli() }
		last := len(idx) - 1
		for _, q := range []struct {
			ts, off int64
			at      int // index in idx of the answer, -1 for none
		}{
			{ts(0) - time.Hour.Milliseconds(), 0, 0},
			{ts(7), 7, 7},
			{ts(7) + 1, 8, 8}, // between records 7 and 8
			{ts(last), int64(last), last},
			{ts(last) + 1, -1, -1},
		} {
			qs = append(qs, query{Partition: p, TS: q.ts})
			wantOff = append(wantOff, q.off)
			if q.at >= 0 {
				if offs[idx[q.at]] != q.off {
					t.Fatalf("test bug: record %d of partition %d is at %d", q.at, p, offs[idx[q.at]])
				}
				wantTS = append(wantTS, ts(q.at))
			} else {
				wantTS = append(wantTS, -1)
			}
		}
	}
	got := only(runPython(t, c, addr, "times", map[string]any{"queries": qs}, "--topic", topic), "offset")
	if len(got) != len(qs) {
		t.Fatalf("%d answers to %d queries", len(got), len(qs))
	}
	for i, g := range got {
		if g.Partition != qs[i].Partition || g.TS != qs[i].TS || g.Offset != wantOff[i] {
			t.Errorf("offsets_for_times(partition %d, %d) = %d; want %d", qs[i].Partition, qs[i].TS, g.Offset, wantOff[i])
		}
		// kafka-python reports the found record's timestamp too.
		if g.RecordTS != nil && *g.RecordTS != wantTS[i] {
			t.Errorf("offsets_for_times(partition %d, %d): timestamp %d; want %d", qs[i].Partition, qs[i].TS, *g.RecordTS, wantTS[i])
		}
	}
}

// TestKafkaPythonResetOffsets resets a consumer group's committed offsets
// as `kafka-consumer-groups --reset-offsets --execute` does, with each
// client: the group has consumed everything and has no member; the tool
// describes it (Empty), looks the new offsets up (by time, or the log
// start), and commits them from a consumer that is assigned the
// partitions without joining (generation -1, no member id, as the Java
// admin client's alterConsumerGroupOffsets). A group member started then
// must begin exactly where the reset put it.
func TestKafkaPythonResetOffsets(t *testing.T) {
	needPython(t)
	b := startXBroker(t)
	for _, c := range pyClients {
		t.Run(c.name, func(t *testing.T) {
			topic := kafkaTopicName(t, "py-reset-"+c.name)
			createTopic(t, b.kafkaAddr, topic, 2, nil)
			want := wantRecords(20, 2, "reset-"+c.name)
			offs := pyOffsets(want)
			pyProduce(t, c, b.kafkaAddr, topic, "gzip", want)
			group := uniqueGroup(t, "pyreset")
			pyConsume(t, c, b.kafkaAddr, topic, group, want)

			ends := map[int32]int64{0: 10, 1: 10}
			for _, step := range []struct {
				name  string
				args  []string
				from  int             // want[from:] are read after the reset
				reset map[int32]int64 // the offsets the reset commits
			}{
				// Record 11 is partition 1's sixth; partition 0's first
				// record at or after its time is record 12, its seventh.
				{name: "to-datetime", args: []string{"--to-datetime", strconv.FormatInt(want[11].Timestamp.UnixMilli(), 10)},
					from: 11, reset: map[int32]int64{0: offs[12], 1: offs[11]}},
				{name: "to-earliest", args: []string{"--to-earliest"}, from: 0, reset: map[int32]int64{0: 0, 1: 0}},
				// Later than every record: Kafka's ListOffsets answers -1
				// and the tool takes the log end.
				{name: "to-datetime-after-last", args: []string{"--to-datetime",
					strconv.FormatInt(want[len(want)-1].Timestamp.UnixMilli()+1, 10)}, from: len(want), reset: ends},
			} {
				t.Run(step.name, func(t *testing.T) {
					pyWaitEmpty(t, b.kafkaAddr, group)
					evs := runPython(t, c, b.kafkaAddr, "reset", nil,
						append([]string{"--topic", topic, "--group", group}, step.args...)...)
					if g := only(evs, "group"); len(g) != 1 || g[0].State != "Empty" {
						t.Fatalf("group before the reset: %+v; want one Empty group", g)
					}
					got := map[int32]int64{}
					for _, e := range only(evs, "reset") {
						got[e.Partition] = e.Offset
					}
					if !maps.Equal(got, step.reset) {
						t.Fatalf("reset to %v; want %v", got, step.reset)
					}
					if co := groupOffsets(t, b.kafkaAddr, group, topic); !maps.Equal(co, step.reset) {
						t.Fatalf("coordinator has %v after the reset; want %v", co, step.reset)
					}
					if step.from == len(want) {
						return // nothing left to read
					}
					msgs := pyConsume(t, c, b.kafkaAddr, topic, group, want[step.from:])
					first := map[int32]int64{}
					for _, m := range msgs {
						if _, ok := first[m.Partition]; !ok {
							first[m.Partition] = m.Offset
						}
					}
					if !maps.Equal(first, step.reset) {
						t.Fatalf("the group resumed at %v; want %v", first, step.reset)
					}
				})
			}
		})
	}
}

// TestKafkaPythonAdmin runs each client's admin round trip: create a
// three-partition topic with retention.ms, see it listed and described
// (no error, one leader), read retention.ms back, add a partition,
// delete the topic, and see it gone (also with kadm).
func TestKafkaPythonAdmin(t *testing.T) {
	needPython(t)
	b := startXBroker(t)
	for _, c := range pyClients {
		t.Run(c.name, func(t *testing.T) {
			topic := kafkaTopicName(t, "py-admin-"+c.name)
			evs := runPython(t, c, b.kafkaAddr, "admin", nil, "--topic", topic, "--partitions", "3")
			var steps []string
			for _, e := range evs {
				steps = append(steps, e.Event)
				switch e.Event {
				case "created", "deleted":
					if e.Topic != topic {
						t.Errorf("%s %q; want %q", e.Event, e.Topic, topic)
					}
				case "described":
					if e.Topic != topic || e.Error != 0 || e.Partitions != 3 || len(e.Leaders) != 1 || e.Leaders[0] < 0 {
						t.Errorf("described %+v; want %s, no error, 3 partitions, one leader", e, topic)
					}
				case "configs":
					if e.RetentionMs == nil || *e.RetentionMs != "3600000" {
						t.Errorf("retention.ms %v; want 3600000", e.RetentionMs)
					}
				case "grown":
					if e.Partitions != 4 {
						t.Errorf("%d partitions after adding one to 3", e.Partitions)
					}
				}
			}
			wantSteps := []string{"created", "listed", "described", "configs", "grown", "deleted", "listed"}
			if !slices.Equal(steps, wantSteps) {
				t.Fatalf("steps %v; want %v", steps, wantSteps)
			}
			if listed := only(evs, "listed"); !listed[0].Present || listed[1].Present {
				t.Errorf("listed after create %v, after delete %v; want true, false", listed[0].Present, listed[1].Present)
			}
			adm := kadm.NewClient(kgoClient(t, b.kafkaAddr))
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			tds, err := adm.ListTopics(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if tds.Has(topic) {
				t.Errorf("kadm still lists %s after the delete", topic)
			}
		})
	}
}

// TestKafkaPythonXProtoTags has each Python client produce the
// cross-protocol matrix's messages (key, header h, header TAGS = TagA for
// even, TagB for odd, explicit timestamps, compressed) and a
// rocketmq-client-go push consumer subscribed to TagA read them: the
// broker filters by the tag the TAGS header became, so every TagA message
// arrives once, with its key as KEYS and h as a user property, and no
// TagB message does (checkXMessages).
func TestKafkaPythonXProtoTags(t *testing.T) {
	needPython(t)
	b := startXBroker(t)
	for _, c := range pyClients {
		t.Run(c.name, func(t *testing.T) {
			topic := "xp-py-" + kafkaTopicName(t, c.xCodec)
			b.createXTopic(t, topic, 2)
			base := xBaseTS()
			recs := make([]pyRecord, xMatrixN)
			for i := range recs {
				recs[i] = pyRecord{Topic: topic, Partition: xPartition(i), Key: xKey(i), Value: xValue(c.name, i),
					Headers: [][2]string{{"h", xHeader(i)}, {"TAGS", xTag(i)}}, TS: base + int64(i)}
			}
			sent := only(runPython(t, c, b.kafkaAddr, "produce", map[string]any{"records": recs}, "--codec", c.xCodec), "sent")
			if len(sent) != xMatrixN {
				t.Fatalf("%s sent %d of %d", c.name, len(sent), xMatrixN)
			}
			got := xReadPush(t, b, topic, uniqueGroup(t, "xg_py"), (xMatrixN+1)/2)
			checkXMessages(t, c.name, kafkaSent(base), got, true, false)
		})
	}
}
