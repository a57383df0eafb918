package remotingapi

import (
	"context"
	"encoding/json"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/twinmq/twinmq/nameserver"
	"github.com/twinmq/twinmq/netio"
	"github.com/twinmq/twinmq/wire/remoting"
)

// runtimeInfo asks addr for GET_BROKER_RUNTIME_INFO over a raw remoting
// client and decodes the KVTable body as mqadmin does.
func runtimeInfo(t *testing.T, addr string) map[string]string {
	t.Helper()
	c, err := nameserver.Dial(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := call(t, c, remoting.GetBrokerRuntimeInfo, nil, nil)
	if r.Code != remoting.Success {
		t.Fatalf("code %d (%s)", r.Code, r.Remark)
	}
	var kv struct {
		Table map[string]string `json:"table"`
	}
	if err := json.Unmarshal(r.Body, &kv); err != nil {
		t.Fatalf("body %q: %v", r.Body, err)
	}
	return kv.Table
}

// TestGetBrokerRuntimeInfo: GET_BROKER_RUNTIME_INFO (28) answers a
// KVTable with RocketMQ's key names: the CommitLog range follows sends,
// the uptime is in StoreStatsService's format, the identity is the
// broker's, and Config.RuntimeInfo's keys are added and win.
func TestGetBrokerRuntimeInfo(t *testing.T) {
	hook := map[string]string{"masterAddr": "127.0.0.9:10912", "brokerRole": "SLAVE-from-hook"}
	cfg := Config{ClusterName: "C", BrokerName: "b1", BrokerID: 0, BrokerRole: "SYNC_MASTER", HAAddr: "127.0.0.1:10912",
		RuntimeInfo: func() map[string]string { return hook }}
	_, st, addr := startBrokerWith(t, cfg, func(b *Broker) netio.Handler { return b })

	tab := runtimeInfo(t, addr)
	want := map[string]string{"brokerVersionDesc": "V5_3_3", "brokerVersion": "479", "brokerClusterName": "C",
		"brokerName": "b1", "brokerId": "0", "haServerAddr": "127.0.0.1:10912", "brokerAddr": addr,
		"masterAddr": "127.0.0.9:10912", "brokerRole": "SLAVE-from-hook", "commitLogMinOffset": "0"}
	for k, v := range want {
		if tab[k] != v {
			t.Errorf("%s = %q, want %q", k, tab[k], v)
		}
	}
	boot, err := strconv.ParseInt(tab["bootTimestamp"], 10, 64)
	if err != nil || time.Since(time.UnixMilli(boot)) > time.Minute || time.Since(time.UnixMilli(boot)) < 0 {
		t.Errorf("bootTimestamp %q", tab["bootTimestamp"])
	}
	if !regexp.MustCompile(`^\[ 0 days, 0 hours, 0 minutes, \d+ seconds \]$`).MatchString(tab["runtime"]) {
		t.Errorf("runtime %q", tab["runtime"])
	}
	if !regexp.MustCompile(`^Total : [0-9.]+ [KMGTPE]iB, Free : [0-9.]+ [KMGTPE]?i?B\.$`).MatchString(tab["commitLogDirCapacity"]) {
		t.Errorf("commitLogDirCapacity %q", tab["commitLogDirCapacity"])
	}
	for _, k := range []string{"commitLogMaxOffset", "dispatchBehindBytes", "msgPutTotalTodayNow"} {
		if _, err := strconv.ParseInt(tab[k], 10, 64); err != nil {
			t.Errorf("%s = %q, not a number", k, tab[k])
		}
	}

	// A send moves the CommitLog's end and the put count.
	before, _ := strconv.ParseInt(tab["commitLogMaxOffset"], 10, 64)
	puts, _ := strconv.ParseInt(tab["msgPutTotalTodayNow"], 10, 64)
	c, err := nameserver.Dial(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if r := sendOne(t, c, "rt", "", "hello"); r.Code != remoting.Success {
		t.Fatalf("send: %d %s", r.Code, r.Remark)
	}
	_, written := st.LogRange()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		tab = runtimeInfo(t, addr)
		n, _ := strconv.ParseInt(tab["msgPutTotalTodayNow"], 10, 64)
		if n > puts && tab["dispatchBehindBytes"] == "0" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after a send: msgPutTotalTodayNow %s (was %d), dispatchBehindBytes %s", tab["msgPutTotalTodayNow"], puts, tab["dispatchBehindBytes"])
		}
	}
	if after, _ := strconv.ParseInt(tab["commitLogMaxOffset"], 10, 64); after <= before || after != written {
		t.Errorf("commitLogMaxOffset %d after a send (was %d; store written end %d)", after, before, written)
	}
}

// TestGetBrokerRuntimeInfoDefaults: without a hook the broker reports
// itself as an ASYNC_MASTER of the default group, as GET_BROKER_CONFIG does.
func TestGetBrokerRuntimeInfoDefaults(t *testing.T) {
	_, _, addr := startBroker(t)
	tab := runtimeInfo(t, addr)
	for k, v := range map[string]string{"brokerRole": "ASYNC_MASTER", "brokerName": DefaultBrokerName,
		"brokerClusterName": DefaultClusterName, "brokerId": "0"} {
		if tab[k] != v {
			t.Errorf("%s = %q, want %q", k, tab[k], v)
		}
	}
}

func TestFormatRuntimeAndBytes(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{0, "[ 0 days, 0 hours, 0 minutes, 0 seconds ]"},
		{-time.Second, "[ 0 days, 0 hours, 0 minutes, 0 seconds ]"},
		{26*time.Hour + 3*time.Minute + 4500*time.Millisecond, "[ 1 days, 2 hours, 3 minutes, 4 seconds ]"},
	} {
		if got := formatRuntime(c.d); got != c.want {
			t.Errorf("formatRuntime(%v) = %q, want %q", c.d, got, c.want)
		}
	}
	for _, c := range []struct {
		n    uint64
		want string
	}{
		{0, "0 B"}, {1023, "1023 B"}, {1024, "1.0 KiB"}, {1536, "1.5 KiB"}, {5 << 30, "5.0 GiB"}, {1 << 63, "8.0 EiB"},
	} {
		if got := humanBytes(c.n); got != c.want {
			t.Errorf("humanBytes(%d) = %q, want %q", c.n, got, c.want)
		}
	}
}
