package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/nameserver"
	"github.com/twinmq/twinmq/wire/remoting"
)

// TestHTTPEndpoints: serve answers /healthz and /readyz, and /metrics
// reports what a user checks after producing: the queue's end offset, the
// open Kafka connection, a writable store that has written bytes.
func TestHTTPEndpoints(t *testing.T) {
	logs := serveForTest(t)
	base := "http://" + listenAddr(t, logs, "HTTP")
	kafka := listenAddr(t, logs, "Kafka")
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(b)
	}
	if code, body := get("/healthz"); code != 200 || body != "ok\n" {
		t.Fatalf("/healthz: %d %q", code, body)
	}
	if code, body := get("/readyz"); code != 200 || body != "ready\n" {
		t.Fatalf("/readyz: %d %q", code, body)
	}

	mustCmd(t, "topic", "create", "metered", "--partitions", "2", "--bootstrap-server", kafka)
	cl, err := kgo.NewClient(kgo.SeedBrokers(kafka), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	recs := []*kgo.Record{{Topic: "metered", Value: []byte("a")}, {Topic: "metered", Value: []byte("b")}, {Topic: "metered", Value: []byte("c")}}
	if err := cl.ProduceSync(t.Context(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	// A RocketMQ request of a code the broker does not serve, and one it
	// serves (GET_MAX_OFFSET).
	rc, err := nameserver.Dial(t.Context(), listenAddr(t, logs, "RocketMQ remoting"))
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	for code, ext := range map[int32]map[string]string{9999: nil, 30: {"topic": "metered", "queueId": "0"}} {
		req := remoting.NewRequest(code, 0)
		maps.Copy(req.ExtFields, ext)
		resp, err := rc.Invoke(t.Context(), req)
		if err != nil {
			t.Fatal(err)
		}
		if want := map[int32]int32{9999: remoting.RequestCodeNotSupported, 30: remoting.Success}[code]; resp.Code != want {
			t.Fatalf("code %d answered %d %q", code, resp.Code, resp.Remark)
		}
	}
	// A transactional send nobody ends: one half message pending, and
	// nothing more in metered/0 (its end offset stays 3 below).
	txn := remoting.NewRequest(remoting.SendMessage, 0)
	maps.Copy(txn.ExtFields, map[string]string{"producerGroup": "pg", "topic": "metered", "queueId": "0", "sysFlag": "4",
		"bornTimestamp": "1", "flag": "0", "properties": "TRAN_MSG\x01true\x02PGROUP\x01pg\x02"})
	txn.Body = []byte("half")
	if resp, err := rc.Invoke(t.Context(), txn); err != nil || resp.Code != remoting.Success {
		t.Fatalf("transactional send: %v %+v", err, resp)
	}
	// Traffic on the RocketMQ side: one 5-byte send and one pull of it.
	mustCmd(t, "topic", "create", "rocket", "--partitions", "1", "--bootstrap-server", kafka)
	send := remoting.NewRequest(remoting.SendMessage, 0)
	maps.Copy(send.ExtFields, map[string]string{"producerGroup": "pg", "topic": "rocket", "queueId": "0", "sysFlag": "0",
		"bornTimestamp": "1", "flag": "0", "properties": ""})
	send.Body = []byte("hello")
	if resp, err := rc.Invoke(t.Context(), send); err != nil || resp.Code != remoting.Success {
		t.Fatalf("send: %v %+v", err, resp)
	}
	pull := remoting.NewRequest(remoting.PullMessage, 0)
	maps.Copy(pull.ExtFields, map[string]string{"consumerGroup": "cg", "topic": "rocket", "queueId": "0", "queueOffset": "0",
		"maxMsgNums": "32", "sysFlag": "0", "commitOffset": "0", "suspendTimeoutMillis": "0", "subscription": "*"})
	// The send is acknowledged once written; it is readable once
	// dispatched, a moment later.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		resp, err := rc.Invoke(t.Context(), pull)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Code == remoting.Success {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pull: %+v", resp)
		}
	}
	// A pull that suspends (FLAG_SUSPEND) past the end for 50 ms: a long
	// poll held until its time is up, answered PULL_NOT_FOUND (not a
	// failure); and a send to a queue the topic does not have (a failure
	// of code 10).
	held := remoting.NewRequest(remoting.PullMessage, 0)
	maps.Copy(held.ExtFields, map[string]string{"consumerGroup": "cg", "topic": "rocket", "queueId": "0", "queueOffset": "1",
		"maxMsgNums": "32", "sysFlag": "2", "commitOffset": "0", "suspendTimeoutMillis": "50", "subscription": "*"})
	if resp, err := rc.Invoke(t.Context(), held); err != nil || resp.Code != remoting.PullNotFound {
		t.Fatalf("suspended pull: %v %+v", err, resp)
	}
	bad := remoting.NewRequest(remoting.SendMessage, 0)
	maps.Copy(bad.ExtFields, send.ExtFields)
	bad.ExtFields["queueId"], bad.Body = "99", []byte("nowhere")
	badResp, err := rc.Invoke(t.Context(), bad)
	if err != nil || badResp.Code == remoting.Success {
		t.Fatalf("send to queue 99 of a one-queue topic: %v %+v", err, badResp)
	}
	// A Kafka consumer that reads metered, then parks fetches of at most
	// 50 ms at the end; and a heartbeat of a member no group has
	// (UNKNOWN_MEMBER_ID or the like: an error of Heartbeat).
	if resp, err := (&kmsg.HeartbeatRequest{Group: "ghost", MemberID: "m", Generation: 1}).RequestWith(t.Context(), cl); err != nil || resp.ErrorCode == 0 {
		t.Fatalf("heartbeat of an unknown member: %v %+v", err, resp)
	}
	// A produce straight to the broker for a partition metered does not
	// have: a failed produce request of the topic.
	md, err := kadm.NewClient(cl).Metadata(t.Context(), "metered")
	if err != nil || len(md.Brokers) == 0 || md.Topics["metered"].Err != nil {
		t.Fatalf("metadata: %v %+v", err, md)
	}
	bad7 := kmsg.NewPtrProduceRequest()
	bad7.Acks, bad7.TimeoutMillis = 1, 5000
	bad7.Topics = []kmsg.ProduceRequestTopic{{Topic: "metered", TopicID: md.Topics["metered"].ID, // v13 names topics by id
		Partitions: []kmsg.ProduceRequestTopicPartition{{Partition: 7}}}}
	if resp, err := cl.Broker(int(md.Brokers[0].NodeID)).Request(t.Context(), bad7); err != nil ||
		resp.(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode == 0 {
		t.Fatalf("produce to partition 7: %v %+v", err, resp)
	}
	cons, err := kgo.NewClient(kgo.SeedBrokers(kafka), kgo.ConsumeTopics("metered"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	for got := 0; got < 3; {
		fs := cons.PollFetches(t.Context())
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		got += fs.NumRecords()
	}
	// A group that read one message of metered/0.
	adm := kadm.NewClient(cl)
	var commit kadm.Offsets
	commit.AddOffset("metered", 0, 1, -1)
	if err := adm.CommitAllOffsets(t.Context(), "readers", commit); err != nil {
		t.Fatal(err)
	}
	_, metrics := get("/metrics")
	value := func(series string) float64 {
		t.Helper()
		v, ok := seriesValue(t, metrics, series)
		if !ok {
			t.Fatalf("no series %s in /metrics:\n%s", series, metrics)
		}
		return v
	}
	if v := value(`twinmq_queue_end_offset{topic="metered",queue="0"}`); v != 3 {
		t.Errorf("end offset of metered/0: %v, want 3", v)
	}
	if v := value(`twinmq_queue_end_offset{topic="metered",queue="1"}`); v != 0 {
		t.Errorf("end offset of metered/1: %v, want 0", v)
	}
	if v := value("twinmq_kafka_connections"); v < 1 {
		t.Errorf("%v Kafka connections with a client connected", v)
	}
	if v := value("twinmq_store_writable"); v != 1 {
		t.Errorf("store writable: %v", v)
	}
	if w, d := value("twinmq_commitlog_written_offset_bytes"), value("twinmq_commitlog_dispatched_offset_bytes"); w <= 0 || d > w {
		t.Errorf("written %v, dispatched %v", w, d)
	}
	if v := value(`twinmq_group_committed_offset{group="readers",topic="metered",queue="0"}`); v != 1 {
		t.Errorf("committed offset of readers on metered/0: %v, want 1", v)
	}
	if v := value(`twinmq_group_lag{group="readers",topic="metered",queue="0"}`); v != 2 {
		t.Errorf("lag of readers on metered/0: %v, want 2", v)
	}
	if v := value(`twinmq_kafka_requests_total{api="Produce"}`); v < 1 {
		t.Errorf("%v Produce requests counted", v)
	} else if in := value("twinmq_kafka_produce_inline_total"); in > v {
		t.Errorf("%v Produce requests answered on the event loop, of %v", in, v)
	}
	if v := value("twinmq_store_records_total"); v < 3 {
		t.Errorf("%v records counted, 3 produced", v)
	}
	if v := value(`twinmq_remoting_requests_total{code="-1"}`); v != 1 {
		t.Errorf("%v unsupported remoting requests counted, want 1", v)
	}
	if v := value(`twinmq_remoting_requests_total{code="30"}`); v != 1 {
		t.Errorf("%v GET_MAX_OFFSET requests counted, want 1", v)
	}
	// Latency histograms: every Produce measured (inline or not), the
	// GET_MAX_OFFSET answered with SUCCESS, the unserved code not at all.
	if v, n := value(`twinmq_kafka_request_duration_seconds{api="Produce"}`), value(`twinmq_kafka_requests_total{api="Produce"}`); v != n {
		t.Errorf("%v Produce latencies observed, %v requests", v, n)
	}
	if v := value(`twinmq_remoting_request_duration_seconds{code="30",response_code="0"}`); v != 1 {
		t.Errorf("%v GET_MAX_OFFSET latencies observed, want 1", v)
	}
	if _, ok := seriesValue(t, metrics, `twinmq_remoting_request_duration_seconds{code="9999"}`); ok {
		t.Error("latency observed for a code not served")
	}
	// Per-topic traffic, under twinmq's names and the exporters' names.
	for series, want := range map[string]float64{
		`twinmq_topic_messages_in_total{topic="metered",protocol="kafka"}`:    3,
		`twinmq_topic_messages_in_total{topic="rocket",protocol="rocketmq"}`:  1,
		`twinmq_topic_bytes_in_total{topic="rocket",protocol="rocketmq"}`:     5,
		`twinmq_topic_messages_out_total{topic="rocket",protocol="rocketmq"}`: 1,
		`kafka_server_brokertopicmetrics_messagesin_total{topic="metered"}`:   3,
		`kafka_server_brokertopicmetrics_messagesin_total{topic="rocket"}`:    1,
		`rocketmq_messages_in_total{topic="metered"}`:                         3,
		`rocketmq_messages_out_total{topic="rocket"}`:                         1,
		`rocketmq_throughput_in_total{topic="rocket"}`:                        5,
	} {
		if v := value(series); v != want {
			t.Errorf("%s = %v, want %v", series, v, want)
		}
	}
	if in, out := value(`kafka_server_brokertopicmetrics_bytesin_total{topic="metered"}`), value(`kafka_server_brokertopicmetrics_bytesout_total{topic="metered"}`); in <= 0 || out < in {
		t.Errorf("metered: %v bytes in, %v bytes out after reading it all", in, out)
	}
	if v := value(`twinmq_remoting_request_duration_seconds{code="11",response_code="0"}`); v != 1 {
		t.Errorf("%v pulls that found messages measured, want 1", v)
	}
	if v := value(`twinmq_build_info{goversion="` + runtime.Version() + `"}`); v != 1 {
		t.Errorf("build info %v", v)
	}
	if free, used := value("twinmq_data_dir_disk_free_bytes"), value("twinmq_data_dir_disk_used_bytes"); free <= 0 || used <= 0 {
		t.Errorf("data dir disk: free %v, used %v", free, used)
	}
	if v := value("process_resident_memory_bytes"); v <= 0 {
		t.Errorf("resident memory %v", v)
	}
	if v := value("twinmq_rocketmq_transactions_pending"); v != 1 {
		t.Errorf("%v transactions pending, want 1", v)
	}
	// The embedded name server's broker registered (at start, or within
	// a moment of it).
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, metrics = get("/metrics"); value("twinmq_namesrv_brokers") == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no broker registered with the name server:\n%s", metrics)
		}
	}
	// Latency histograms of the store and the readers (issue 16): every
	// append made visible, the fetches and the pull that returned
	// entries, the suspended pull's timeout; the consumer's fetches park
	// at the end until a 50 ms wait is over, and ASYNC_FLUSH fsyncs what
	// was written within its interval: poll for those.
	if v := value("twinmq_produce_to_visible_seconds"); v < 2 {
		t.Errorf("%v appends observed becoming visible, want at least the Kafka produce and the RocketMQ send", v)
	}
	if v := value(`twinmq_end_to_end_latency_seconds{protocol="kafka"}`); v < 1 {
		t.Errorf("%v stored entries observed returned by Kafka fetches", v)
	}
	if v := value(`twinmq_end_to_end_latency_seconds{protocol="rocketmq"}`); v != 1 {
		t.Errorf("%v stored entries observed returned by pulls, want 1", v)
	}
	if v := value(`twinmq_long_poll_hold_seconds{protocol="rocketmq",reason="timeout"}`); v != 1 {
		t.Errorf("%v suspended pulls observed timing out, want 1", v)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		_, metrics = get("/metrics")
		kh, _ := seriesValue(t, metrics, `twinmq_long_poll_hold_seconds{protocol="kafka",reason="timeout"}`)
		fs, _ := seriesValue(t, metrics, "twinmq_commitlog_fsync_duration_seconds")
		if kh >= 1 && fs >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 20 s: %v Kafka fetch holds timed out, %v fsyncs observed", kh, fs)
		}
	}
	// Kafka messages out: the three records the consumer read.
	if v := value(`twinmq_topic_messages_out_total{topic="metered",protocol="kafka"}`); v != 3 {
		t.Errorf("%v Kafka records counted out of metered, want 3", v)
	}
	// Kafka's per-topic request counts.
	if v := value(`kafka_server_brokertopicmetrics_failedproducerequests_total{topic="metered"}`); v != 1 {
		t.Errorf("%v failed produce requests of metered, want 1", v)
	}
	if total := value(`kafka_server_brokertopicmetrics_totalproducerequests_total{topic="metered"}`); total < 2 {
		t.Errorf("%v produce requests of metered, want the producer's and the failed one", total)
	}
	if v := value(`kafka_server_brokertopicmetrics_totalfetchrequests_total{topic="metered"}`); v < 1 {
		t.Errorf("%v fetch requests of metered", v)
	}
	if v, ok := seriesValue(t, metrics, `kafka_server_brokertopicmetrics_failedfetchrequests_total{topic="metered"}`); ok {
		t.Errorf("%v failed fetch requests of metered, want none (no series)", v)
	}
	// Failed requests by error code.
	if v := value(`twinmq_kafka_request_errors_total{api="Heartbeat"}`); v != 1 {
		t.Errorf("%v Heartbeat errors counted, want 1", v)
	}
	if v := value(`twinmq_kafka_request_errors_total{api="Produce",error="UNKNOWN_TOPIC_OR_PARTITION"}`); v != 1 {
		t.Errorf("%v Produce UNKNOWN_TOPIC_OR_PARTITION errors counted, want 1", v)
	}
	if v := value(fmt.Sprintf(`twinmq_remoting_request_failures_total{code="10",response_code="%d"}`, badResp.Code)); v != 1 {
		t.Errorf("%v SEND_MESSAGE failures counted, want 1", v)
	}
	if _, ok := seriesValue(t, metrics, `twinmq_remoting_request_failures_total{code="11"}`); ok {
		t.Error("a pull's PULL_NOT_FOUND counted as a failure")
	}
	checkDashboard(t, parseMetrics(t, metrics))
	for _, family := range []string{"twinmq_remoting_connections", "twinmq_topics", "twinmq_kafka_xproto_cache_bytes", "twinmq_remoting_xproto_cache_hit_records_total", "go_goroutines"} {
		if !strings.Contains(metrics, "# TYPE "+family+" ") {
			t.Errorf("no %s family", family)
		}
	}
}

// parseMetrics parses a /metrics body with expfmt, as Prometheus does.
func parseMetrics(t *testing.T, body string) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, body)
	}
	return fams
}

var selectorLabel = regexp.MustCompile(`(\w+)="([^"]*)"`)

// seriesValue finds a series given as name{label="value",...} (labels in
// any order, a subset of the series' labels) in a /metrics body: a
// counter's or gauge's value, a histogram's sample count.
func seriesValue(t *testing.T, body, series string) (float64, bool) {
	t.Helper()
	name, sel, _ := strings.Cut(series, "{")
	want := map[string]string{}
	for _, m := range selectorLabel.FindAllStringSubmatch(sel, -1) {
		want[m[1]] = m[2]
	}
	f := parseMetrics(t, body)[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		default:
			return m.GetUntyped().GetValue(), true
		}
	}
	return 0, false
}

// afterTraffic are the families that have series only once what they
// count has happened (TestServeGRPC checks them).
var afterTraffic = map[string]bool{"twinmq_group_retries_total": true, "twinmq_group_dlq_messages_total": true,
	"rocketmq_send_to_dlq_messages_total": true, "kafka_server_brokertopicmetrics_failedfetchrequests_total": true}

// checkDashboard: every metric the Grafana dashboard in deploy/ queries is
// one serve exposes (a histogram's by its _bucket, _count or _sum), but
// for the replication ones only a broker with slaves has and those in
// afterTraffic.
func checkDashboard(t *testing.T, fams map[string]*dto.MetricFamily) {
	t.Helper()
	b, err := os.ReadFile("../../deploy/grafana/twinmq.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("deploy/grafana/twinmq.json: %v", err)
	}
	name := regexp.MustCompile(`\b(twinmq|kafka|rocketmq|go|process)_[a-z_]+\b`)
	n := 0
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			for _, m := range name.FindAllString(tg.Expr, -1) {
				n++
				base := m
				for _, suffix := range []string{"_bucket", "_count", "_sum"} {
					if f := fams[strings.TrimSuffix(m, suffix)]; f != nil && f.GetType() == dto.MetricType_HISTOGRAM {
						base = strings.TrimSuffix(m, suffix)
					}
				}
				if fams[base] == nil && !strings.HasPrefix(m, "twinmq_ha_") && !afterTraffic[base] {
					t.Errorf("dashboard panel %q queries %s, which serve does not expose", p.Title, m)
				}
			}
		}
	}
	if n < 20 {
		t.Fatalf("only %d metric references found in the dashboard", n)
	}
}
