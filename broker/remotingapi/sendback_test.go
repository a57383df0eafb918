package remotingapi

import (
	"context"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twinmq/twinmq/broker/delay"
	"github.com/twinmq/twinmq/nameserver"
	"github.com/twinmq/twinmq/storage"
	"github.com/twinmq/twinmq/wire/remoting"
)

// waitMessage polls topic/0 at offset until a message is there.
func waitMessage(t testing.TB, st *storage.Store, topic string, offset int64) remoting.MessageExt {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if res, err := st.Read(topic, 0, offset, storage.ReadOptions{MaxEntries: 1}); err == nil {
			if len(res.Entries) == 1 {
				m, _, err := remoting.DecodeStoredMessage(append([]byte(nil), res.Entries[0].Payload...))
				res.Release()
				if err != nil {
					t.Fatal(err)
				}
				return m
			}
			res.Release()
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no message in %s at %d", topic, offset)
	return remoting.MessageExt{}
}

func sendProps(t *testing.T, c *nameserver.Client, topic string, props map[string]string) *remoting.Command {
	t.Helper()
	return call(t, c, remoting.SendMessageV2, map[string]string{"a": "pg", "b": topic, "c": "TBW102", "d": "4",
		"e": "0", "f": "0", "g": "1", "h": "0", "i": string(remoting.AppendProperties(nil, props))}, []byte("body"))
}

// testRetries is a RetryMeter that records "retry group topic" and
// "dlq group topic" lines.
type testRetries struct {
	mu  sync.Mutex
	got []string
}

func (r *testRetries) Retried(group, topic string) { r.add("retry " + group + " " + topic) }

func (r *testRetries) DeadLettered(group, topic string) { r.add("dlq " + group + " " + topic) }

func (r *testRetries) add(s string) {
	r.mu.Lock()
	r.got = append(r.got, s)
	r.mu.Unlock()
}

func (r *testRetries) lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// startDelayBrokerMetered starts a broker with delays on and their
// scheduler, and a client connection to it, all stopped at the end of the
// test; the broker's RetryMeter records what it counts.
func startDelayBrokerMetered(t *testing.T) (*storage.Store, *nameserver.Client, *testRetries) {
	t.Helper()
	b, st, addr := startBroker(t)
	rm := &testRetries{}
	b.SetRetryMeter(rm)
	b.EnableDelay(delay.Policy{})
	sched, err := delay.Start(context.Background(), delay.Config{Store: st, Build: b.DelayBuild, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sched.Close() })
	c, err := nameserver.Dial(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return st, c, rm
}

// TestDelayRetryDLQ: a DELAY=1 message reaches its topic after its time
// with DELAY cleared; a send-back retries it through %RETRY%g with
// RECONSUMETIMES 1 and RETRY_TOPIC; past the maximum it lands in %DLQ%g.
func TestDelayRetryDLQ(t *testing.T) {
	st, c, rm := startDelayBrokerMetered(t)
	hb := `{"clientID":"c1","producerDataSet":[],"consumerDataSet":[{"groupName":"g","consumeType":"CONSUME_PASSIVELY",` +
		`"messageModel":"CLUSTERING","consumeFromWhere":"CONSUME_FROM_FIRST_OFFSET","subscriptionDataSet":[{"topic":"T","subString":"*"}]}]}`
	if r := call(t, c, remoting.HeartBeat, nil, []byte(hb)); r.Code != remoting.Success {
		t.Fatalf("heartbeat: %d %s", r.Code, r.Remark)
	}
	sentAt := time.Now()
	if r := sendProps(t, c, "T", map[string]string{"DELAY": "1", "TAGS": "a"}); r.Code != remoting.Success || r.ExtFields["queueId"] != "0" {
		t.Fatalf("send: %d %s %v", r.Code, r.Remark, r.ExtFields)
	}
	m := waitMessage(t, st, "T", 0)
	if m.StoreTimestamp < sentAt.UnixMilli()+1000-5 {
		t.Fatalf("delivered %d ms after send, before level 1's 1 s", m.StoreTimestamp-sentAt.UnixMilli())
	}
	p := remoting.ParseProperties(m.Properties)
	if _, ok := p["DELAY"]; ok || p["REAL_TOPIC"] != "T" || p["TAGS"] != "a" {
		t.Fatalf("delivered properties %v", p)
	}

	back := func(offset int64, group, level, max string) *remoting.Command {
		return call(t, c, remoting.ConsumerSendMsgBack, map[string]string{"offset": strconv.FormatInt(offset, 10),
			"group": group, "delayLevel": level, "originTopic": "T", "maxReconsumeTimes": max}, nil)
	}
	if r := back(m.CommitLogOffset, "g", "1", "1"); r.Code != remoting.Success {
		t.Fatalf("send back: %d %s", r.Code, r.Remark)
	}
	retry := waitMessage(t, st, "%RETRY%g", 0)
	p = remoting.ParseProperties(retry.Properties)
	if retry.ReconsumeTimes != 1 || p["RETRY_TOPIC"] != "T" || p["ORIGIN_MESSAGE_ID"] != m.OffsetMsgID() || string(retry.Body) != "body" {
		t.Fatalf("retry: times %d props %v", retry.ReconsumeTimes, p)
	}
	if r := back(retry.CommitLogOffset, "g", "1", "1"); r.Code != remoting.Success {
		t.Fatalf("send back 2: %d %s", r.Code, r.Remark)
	}
	dlq := waitMessage(t, st, "%DLQ%g", 0)
	p = remoting.ParseProperties(dlq.Properties)
	if dlq.ReconsumeTimes != 2 || p["ORIGIN_MESSAGE_ID"] != m.OffsetMsgID() {
		t.Fatalf("dlq: times %d props %v", dlq.ReconsumeTimes, p)
	}

	// Bad input changes nothing and gets Java's codes.
	for _, tc := range []struct {
		name string
		resp *remoting.Command
		code int32
	}{
		{"unknown group", back(m.CommitLogOffset, "nobody", "0", "16"), remoting.SubscriptionGroupNotExist},
		{"no message there", back(m.CommitLogOffset+1, "g", "0", "16"), remoting.SystemError},
		{"another topic", call(t, c, remoting.ConsumerSendMsgBack, map[string]string{"offset": strconv.FormatInt(m.CommitLogOffset, 10),
			"group": "g", "originTopic": "Other"}, nil), remoting.InvalidParameter},
		{"timer too far", sendProps(t, c, "T", map[string]string{"TIMER_DELAY_SEC": "999999"}), remoting.MessageIllegal},
		{"bad timer", sendProps(t, c, "T", map[string]string{"TIMER_DELIVER_MS": "soon"}), remoting.MessageIllegal},
	} {
		if tc.resp.Code != tc.code {
			t.Errorf("%s: code %d (%s), want %d", tc.name, tc.resp.Code, tc.resp.Remark, tc.code)
		}
	}
	if max, _ := st.MaxOffset("%DLQ%g", 0); max != 1 {
		t.Fatalf("DLQ has %d messages", max)
	}
	// The retry and the dead letter were counted for g on T (the retried
	// copy's RETRY_TOPIC), the refused send-backs not at all.
	if got := rm.lines(); !slices.Equal(got, []string{"retry g T", "dlq g T"}) {
		t.Fatalf("retry meter: %q", got)
	}
}

// TestSendBackMaxReconsumeTimes: CONSUMER_SEND_MSG_BACK honours the
// header's maxReconsumeTimes as Java's broker does (a message goes to the
// DLQ once its reconsume times reach the maximum): 0 dead-letters the
// first failure, 1 the second; -1 (what clients mean by "the default")
// and an absent header mean the group's 16. A %RETRY% send (the
// clients' fallback) with maxReconsumeTimes 0 goes to the DLQ.
func TestSendBackMaxReconsumeTimes(t *testing.T) {
	st, c, rm := startDelayBrokerMetered(t)
	cases := []struct {
		group string
		max   string // "" leaves the field out
		// dlqAt is the send-back that dead-letters: 1 or 2, 0 for neither
		// of the first two.
		dlqAt int
	}{
		{"g_absent", "", 0},
		{"g_minus1", "-1", 0},
		{"g_0", "0", 1},
		{"g_1", "1", 2},
		{"g_16", "16", 0},
	}
	var groups []string
	for _, tc := range cases {
		groups = append(groups, `{"groupName":"`+tc.group+`","consumeType":"CONSUME_PASSIVELY","messageModel":"CLUSTERING",`+
			`"consumeFromWhere":"CONSUME_FROM_FIRST_OFFSET","subscriptionDataSet":[{"topic":"T","subString":"*"}]}`)
	}
	hb := `{"clientID":"c1","producerDataSet":[],"consumerDataSet":[` + strings.Join(groups, ",") + `]}`
	if r := call(t, c, remoting.HeartBeat, nil, []byte(hb)); r.Code != remoting.Success {
		t.Fatalf("heartbeat: %d %s", r.Code, r.Remark)
	}
	if r := sendProps(t, c, "T", map[string]string{"TAGS": "a"}); r.Code != remoting.Success {
		t.Fatalf("send: %d %s", r.Code, r.Remark)
	}
	m := waitMessage(t, st, "T", 0)
	back := func(offset int64, group, max string) {
		t.Helper()
		ext := map[string]string{"offset": strconv.FormatInt(offset, 10), "group": group, "delayLevel": "1", "originTopic": "T"}
		if max != "" {
			ext["maxReconsumeTimes"] = max
		}
		if r := call(t, c, remoting.ConsumerSendMsgBack, ext, nil); r.Code != remoting.Success {
			t.Fatalf("%s: send back: %d %s", group, r.Code, r.Remark)
		}
	}
	// where waits for the send-back's copy and says where it went.
	where := func(group string, n int64) (dlq bool, msg remoting.MessageExt) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			if max, _ := st.MaxOffset(delay.DLQTopic(group), 0); max > 0 {
				return true, waitMessage(t, st, delay.DLQTopic(group), 0)
			}
			if max, _ := st.MaxOffset(delay.RetryTopic(group), 0); max >= n {
				return false, waitMessage(t, st, delay.RetryTopic(group), n-1)
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("%s: send-back %d stored nowhere", group, n)
		return false, remoting.MessageExt{}
	}
	retries := map[string]remoting.MessageExt{}
	for _, tc := range cases {
		back(m.CommitLogOffset, tc.group, tc.max)
	}
	for _, tc := range cases {
		dlq, got := where(tc.group, 1)
		if dlq != (tc.dlqAt == 1) || got.ReconsumeTimes != 1 {
			t.Errorf("%s: first send-back: DLQ %v, reconsume times %d; want DLQ %v, 1", tc.group, dlq, got.ReconsumeTimes, tc.dlqAt == 1)
		}
		if !dlq {
			retries[tc.group] = got
		}
	}
	for _, tc := range cases {
		if r, ok := retries[tc.group]; ok {
			back(r.CommitLogOffset, tc.group, tc.max)
		}
	}
	for _, tc := range cases {
		if _, ok := retries[tc.group]; !ok {
			continue
		}
		dlq, got := where(tc.group, 2)
		if dlq != (tc.dlqAt == 2) || got.ReconsumeTimes != 2 {
			t.Errorf("%s: second send-back: DLQ %v, reconsume times %d; want DLQ %v, 2", tc.group, dlq, got.ReconsumeTimes, tc.dlqAt == 2)
		}
	}

	// The clients' fallback: a send to %RETRY%g with reconsumeTimes 1 and
	// maxReconsumeTimes 0 is over the maximum (Java: reconsumeTimes > max).
	r := call(t, c, remoting.SendMessageV2, map[string]string{"a": "pg", "b": "%RETRY%g_fallback", "c": "TBW102", "d": "1",
		"e": "0", "f": "0", "g": "1", "h": "0", "i": "", "j": "1", "l": "0"}, []byte("body"))
	if r.Code != remoting.Success {
		t.Fatalf("retry send: %d %s", r.Code, r.Remark)
	}
	if dlq := waitMessage(t, st, "%DLQ%g_fallback", 0); string(dlq.Body) != "body" {
		t.Fatalf("retry send with max 0: DLQ holds %q", dlq.Body)
	}
	if max, _ := st.MaxOffset("%RETRY%g_fallback", 0); max != 0 {
		t.Fatalf("retry send with max 0: %d messages in the retry topic, want 0", max)
	}
	// ... counted as g_fallback's dead letter (it names no RETRY_TOPIC:
	// under the retry topic); a fallback send within the maximum is a
	// retry.
	r = call(t, c, remoting.SendMessageV2, map[string]string{"a": "pg", "b": "%RETRY%g_fallback", "c": "TBW102", "d": "1",
		"e": "0", "f": "0", "g": "1", "h": "0", "i": string(remoting.AppendProperties(nil, map[string]string{"RETRY_TOPIC": "T"})),
		"j": "1", "l": "16"}, []byte("body"))
	if r.Code != remoting.Success {
		t.Fatalf("retry send: %d %s", r.Code, r.Remark)
	}
	got := rm.lines()
	if !slices.Contains(got, "dlq g_fallback %RETRY%g_fallback") || !slices.Contains(got, "retry g_fallback T") {
		t.Fatalf("retry meter: %q", got)
	}
}
