package nameserver

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/twinmq/twinmq/wire/remoting"
)

// TestAdminRequests: the name server's admin codes over loopback with
// Java's field names: KV config put, get, list by namespace and delete
// (100, 101, 219, 102), topics by cluster (224), the system topic list
// (304) and the settings (319).
func TestAdminRequests(t *testing.T) {
	_, addr := startServer(t)
	ctx := context.Background()
	broker, err := Dial(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer broker.Close()
	c, err := Dial(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	body := EncodeRegisterBody(topicsOf("T1", "T2"), DataVersion{})
	ext := map[string]string{"brokerName": "broker-a", "brokerAddr": "127.0.0.1:10911", "clusterName": "C1",
		"brokerId": "0", "bodyCrc32": strconv.FormatInt(int64(remoting.BodyCRC(body)), 10)}
	if r := invoke(t, broker, remoting.RegisterBroker, ext, body); r.Code != remoting.Success {
		t.Fatalf("register: %d %s", r.Code, r.Remark)
	}

	// KV config.
	if r := invoke(t, c, 101, map[string]string{"namespace": "ORDER_TOPIC_CONFIG", "key": "T1"}, nil); r.Code != remoting.QueryNotFound {
		t.Fatalf("GET_KV_CONFIG of nothing: %d", r.Code)
	}
	if r := invoke(t, c, 100, map[string]string{"key": "T1"}, nil); r.Code != remoting.SystemError {
		t.Fatalf("PUT_KV_CONFIG without a namespace: %d", r.Code)
	}
	for k, v := range map[string]string{"T1": "broker-a:4", "T2": "broker-a:8"} {
		if r := invoke(t, c, 100, map[string]string{"namespace": "ORDER_TOPIC_CONFIG", "key": k, "value": v}, nil); r.Code != remoting.Success {
			t.Fatalf("PUT_KV_CONFIG: %d %s", r.Code, r.Remark)
		}
	}
	if r := invoke(t, c, 101, map[string]string{"namespace": "ORDER_TOPIC_CONFIG", "key": "T1"}, nil); r.Code != remoting.Success ||
		r.ExtFields["value"] != "broker-a:4" {
		t.Fatalf("GET_KV_CONFIG: %d %v", r.Code, r.ExtFields)
	}
	r := invoke(t, c, 219, map[string]string{"namespace": "ORDER_TOPIC_CONFIG"}, nil)
	var kv struct{ Table map[string]string }
	if r.Code != remoting.Success || json.Unmarshal(r.Body, &kv) != nil || len(kv.Table) != 2 || kv.Table["T2"] != "broker-a:8" {
		t.Fatalf("GET_KVLIST_BY_NAMESPACE: %d %s", r.Code, r.Body)
	}
	if r := invoke(t, c, 102, map[string]string{"namespace": "ORDER_TOPIC_CONFIG", "key": "T1"}, nil); r.Code != remoting.Success {
		t.Fatalf("DELETE_KV_CONFIG: %d", r.Code)
	}
	if r := invoke(t, c, 101, map[string]string{"namespace": "ORDER_TOPIC_CONFIG", "key": "T1"}, nil); r.Code != remoting.QueryNotFound {
		t.Fatalf("GET_KV_CONFIG after delete: %d", r.Code)
	}
	if r := invoke(t, c, 219, map[string]string{"namespace": "nope"}, nil); r.Code != remoting.QueryNotFound {
		t.Fatalf("GET_KVLIST_BY_NAMESPACE of an empty namespace: %d", r.Code)
	}

	// Topics by cluster.
	var tl struct {
		TopicList  []string
		BrokerAddr string
	}
	r = invoke(t, c, 224, map[string]string{"cluster": "C1"}, nil)
	if r.Code != remoting.Success || json.Unmarshal(r.Body, &tl) != nil || !slices.Equal(tl.TopicList, []string{"T1", "T2"}) {
		t.Fatalf("GET_TOPICS_BY_CLUSTER C1: %d %s", r.Code, r.Body)
	}
	r = invoke(t, c, 224, map[string]string{"cluster": "other"}, nil)
	if r.Code != remoting.Success || string(r.Body) != `{"topicList":[]}` {
		t.Fatalf("GET_TOPICS_BY_CLUSTER of another cluster: %d %s", r.Code, r.Body)
	}
	// System topics: the cluster and group names, and a broker.
	r = invoke(t, c, 304, nil, nil)
	tl.TopicList = nil
	if r.Code != remoting.Success || json.Unmarshal(r.Body, &tl) != nil || !slices.Equal(tl.TopicList, []string{"C1", "broker-a"}) ||
		tl.BrokerAddr != "127.0.0.1:10911" {
		t.Fatalf("GET_SYSTEM_TOPIC_LIST_FROM_NS: %d %s", r.Code, r.Body)
	}
	// Settings as key=value lines.
	r = invoke(t, c, 319, nil, nil)
	if r.Code != remoting.Success || !strings.Contains(string(r.Body), "scanNotActiveBrokerInterval=5000\n") {
		t.Fatalf("GET_NAMESRV_CONFIG: %d %s", r.Code, r.Body)
	}
}

// TestKVConfigBounded: the KV config refuses entries past its bounds.
func TestKVConfigBounded(t *testing.T) {
	var kv kvConfig
	big := strings.Repeat("x", maxKVConfigBytes/2)
	if kv.put("n", "a", big) != nil || !errors.Is(kv.put("n", "b", big+big), errKVFull) {
		t.Fatal("the byte bound is not kept")
	}
	if kv.put("n", "a", "small") != nil || kv.bytes != len("n")+len("a")+len("small") {
		t.Fatalf("replacing a value: %d bytes", kv.bytes)
	}
	if err := kv.delete("n", "a"); err != nil || kv.entries != 0 || kv.bytes != 0 {
		t.Fatalf("after delete: %v, %d entries, %d bytes", err, kv.entries, kv.bytes)
	}
}

// TestKVConfigRestart: what PUT_KV_CONFIG and DELETE_KV_CONFIG left is
// what a name server restarted on the same directory answers, from a
// kvConfig.json in Java's shape; a file that does not parse stops the
// start instead of emptying the table.
func TestKVConfigRestart(t *testing.T) {
	dir := t.TempDir()
	start := func() (*Client, func()) {
		s := New(Config{Logger: slog.New(slog.DiscardHandler)})
		if err := s.LoadKVConfig(dir); err != nil {
			t.Fatal(err)
		}
		srv, stop, err := Listen(context.Background(), "127.0.0.1:0", s)
		if err != nil {
			t.Fatal(err)
		}
		c, err := Dial(context.Background(), srv.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		return c, func() { c.Close(); _ = stop(context.Background()) }
	}
	c, stop := start()
	for _, kv := range [][3]string{{"ORDER_TOPIC_CONFIG", "T1", "broker-a:4"}, {"ORDER_TOPIC_CONFIG", "T2", "broker-a:8"},
		{"other", "k", "v"}, {"ORDER_TOPIC_CONFIG", "T1", "broker-a:2"}} {
		if r := invoke(t, c, 100, map[string]string{"namespace": kv[0], "key": kv[1], "value": kv[2]}, nil); r.Code != remoting.Success {
			t.Fatalf("PUT_KV_CONFIG %v: %d %s", kv, r.Code, r.Remark)
		}
	}
	if r := invoke(t, c, 102, map[string]string{"namespace": "other", "key": "k"}, nil); r.Code != remoting.Success {
		t.Fatalf("DELETE_KV_CONFIG: %d", r.Code)
	}
	stop()

	b, err := os.ReadFile(filepath.Join(dir, "kvConfig.json"))
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		ConfigTable map[string]map[string]string `json:"configTable"`
	}
	if err := json.Unmarshal(b, &file); err != nil || len(file.ConfigTable) != 1 ||
		!maps.Equal(file.ConfigTable["ORDER_TOPIC_CONFIG"], map[string]string{"T1": "broker-a:2", "T2": "broker-a:8"}) {
		t.Fatalf("kvConfig.json: %v %s", err, b)
	}

	c, stop = start()
	r := invoke(t, c, 219, map[string]string{"namespace": "ORDER_TOPIC_CONFIG"}, nil)
	var kv struct{ Table map[string]string }
	if r.Code != remoting.Success || json.Unmarshal(r.Body, &kv) != nil ||
		!maps.Equal(kv.Table, map[string]string{"T1": "broker-a:2", "T2": "broker-a:8"}) {
		t.Fatalf("GET_KVLIST_BY_NAMESPACE after restart: %d %s", r.Code, r.Body)
	}
	if r := invoke(t, c, 101, map[string]string{"namespace": "other", "key": "k"}, nil); r.Code != remoting.QueryNotFound {
		t.Fatalf("a deleted key after restart: %d", r.Code)
	}
	stop()

	if err := os.WriteFile(filepath.Join(dir, "kvConfig.json"), []byte(`{"configTable":`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := New(Config{}).LoadKVConfig(dir); !errors.Is(err, ErrKVConfigFile) {
		t.Fatalf("a torn kvConfig.json: %v", err)
	}
}

// FuzzLoadKVConfig: any kvConfig.json loads within the bounds or is
// refused with ErrKVConfigFile; never a panic.
func FuzzLoadKVConfig(f *testing.F) {
	for _, s := range []string{`{"configTable":{"a":{"b":"c"}}}`, `{"configTable":{"a":{}}}`, `{}`, `null`, `[`, `{"configTable":{"a":null}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, KVConfigFile), b, 0o644); err != nil {
			t.Fatal(err)
		}
		s := New(Config{Logger: slog.New(slog.DiscardHandler)})
		if err := s.LoadKVConfig(dir); err != nil {
			if !errors.Is(err, ErrKVConfigFile) {
				t.Fatal(err)
			}
			return
		}
		if s.kv.entries > maxKVConfigEntries || s.kv.bytes > maxKVConfigBytes {
			t.Fatalf("loaded past the bounds: %d entries, %d bytes", s.kv.entries, s.kv.bytes)
		}
	})
}
