package httpapi

import (
	"errors"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// parse parses a text exposition with expfmt, as Prometheus would.
func parse(t *testing.T, body string) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, body)
	}
	return fams
}

// labels renders a series' labels as name=value pairs joined by ",".
func labels(m *dto.Metric) string {
	var parts []string
	for _, l := range m.GetLabel() {
		parts = append(parts, l.GetName()+"="+l.GetValue())
	}
	return strings.Join(parts, ",")
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
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

// TestEndpoints: /healthz answers at once; /readyz only between Ready(true)
// and Shutdown and while every check passes, naming what fails; /metrics
// writes each registered family in the text format, labels escaped.
func TestEndpoints(t *testing.T) {
	s := New(slog.New(slog.DiscardHandler), Config{})
	var failing atomic.Pointer[error]
	s.Check("store", func() error {
		if p := failing.Load(); p != nil {
			return *p
		}
		return nil
	})
	var n atomic.Int64
	s.Value("t_total", "Things\ncounted.", Counter, func() float64 { return float64(n.Load()) })
	s.Metric("t_offset", "Per queue.", Gauge, func() []Sample {
		return []Sample{
			{Labels: []string{"topic", "a", "queue", "0"}, Value: 3},
			{Labels: []string{"topic", `odd"name\with` + "\nnewline", "queue", "1"}, Value: 1.5},
		}
	})
	s.Metric("t_empty", "No series yet.", Gauge, func() []Sample { return nil })
	// A name registered twice is refused (logged), not a crash; the first
	// stays.
	s.Value("t_total", "Again.", Counter, func() float64 { return -1 })
	if err := s.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	base := "http://" + s.Addr().String()

	if code, body := get(t, base+"/healthz"); code != 200 || body != "ok\n" {
		t.Fatalf("/healthz: %d %q", code, body)
	}
	if code, body := get(t, base+"/readyz"); code != 503 || !strings.Contains(body, "starting or stopping") {
		t.Fatalf("/readyz before Ready: %d %q", code, body)
	}
	s.Ready(true)
	if code, body := get(t, base+"/readyz"); code != 200 || body != "ready\n" {
		t.Fatalf("/readyz when ready: %d %q", code, body)
	}
	boom := errors.New("fsync failed")
	failing.Store(&boom)
	if code, body := get(t, base+"/readyz"); code != 503 || body != "store: fsync failed\n" {
		t.Fatalf("/readyz with a failing check: %d %q", code, body)
	}
	failing.Store(nil)

	n.Store(42)
	code, body := get(t, base+"/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d %s", code, body)
	}
	fams := parse(t, body)
	if f := fams["t_total"]; f == nil || f.GetType() != dto.MetricType_COUNTER || f.GetHelp() != "Things\ncounted." ||
		f.Metric[0].GetCounter().GetValue() != 42 {
		t.Fatalf("t_total: %v", f)
	}
	f := fams["t_offset"]
	if f == nil || f.GetType() != dto.MetricType_GAUGE || len(f.Metric) != 2 {
		t.Fatalf("t_offset: %v", f)
	}
	got := map[string]float64{}
	for _, m := range f.Metric {
		got[labels(m)] = m.GetGauge().GetValue()
	}
	want := map[string]float64{"queue=0,topic=a": 3, "queue=1,topic=odd\"name\\with\nnewline": 1.5}
	if !maps.Equal(got, want) {
		t.Fatalf("t_offset series: %v, want %v", got, want)
	}
	if _, ok := fams["t_empty"]; ok {
		t.Fatal("t_empty: a family without series is exposed")
	}
	for _, name := range []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "process_resident_memory_bytes", "process_open_fds"} {
		if fams[name] == nil {
			t.Errorf("no %s", name)
		}
	}
	resp, err := http.Post(base+"/metrics", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST /metrics: %d", resp.StatusCode)
	}

	if err := s.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if s.ready.Load() {
		t.Fatal("ready after Shutdown")
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Fatal("served after Shutdown")
	}
}

// TestDebugEndpoints: /debug/loglevel reads and sets the level it was
// given and refuses a level slog does not know; /debug/pprof/ answers only
// when enabled.
func TestDebugEndpoints(t *testing.T) {
	var lv slog.LevelVar
	on := New(slog.New(slog.DiscardHandler), Config{LogLevel: &lv, Pprof: true})
	off := New(slog.New(slog.DiscardHandler), Config{})
	for _, s := range []*Server{on, off} {
		if err := s.Listen("127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		defer s.Shutdown(t.Context())
	}
	put := func(base, body string) (int, string) {
		req, err := http.NewRequest(http.MethodPut, base+"/debug/loglevel", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	base := "http://" + on.Addr().String()
	if code, body := get(t, base+"/debug/loglevel"); code != 200 || body != "info\n" {
		t.Fatalf("GET /debug/loglevel: %d %q", code, body)
	}
	if code, body := put(base, "debug\n"); code != 200 || body != "debug\n" || lv.Level() != slog.LevelDebug {
		t.Fatalf("PUT debug: %d %q, level %v", code, body, lv.Level())
	}
	if code, _ := put(base, "loud"); code != http.StatusBadRequest || lv.Level() != slog.LevelDebug {
		t.Fatalf("PUT loud: %d, level %v", code, lv.Level())
	}
	if code, body := get(t, base+"/debug/pprof/"); code != 200 || !strings.Contains(body, "goroutine") {
		t.Fatalf("pprof on: %d", code)
	}
	offBase := "http://" + off.Addr().String()
	for _, path := range []string{"/debug/pprof/", "/debug/loglevel"} {
		if code, _ := get(t, offBase+path); code != http.StatusNotFound {
			t.Fatalf("%s when off: %d", path, code)
		}
	}
}

// FuzzPutLogLevel: any body gets 200 with a level slog knows, set, or 400
// with the level unchanged; never a panic.
func FuzzPutLogLevel(f *testing.F) {
	for _, s := range []string{"debug", "INFO\n", "warn+1", "error-2", "", "loud", strings.Repeat("x", 100)} {
		f.Add(s)
	}
	s := New(slog.New(slog.DiscardHandler), Config{})
	f.Fuzz(func(t *testing.T, body string) {
		var lv slog.LevelVar
		lv.Set(slog.LevelWarn)
		w := httptest.NewRecorder()
		s.putLogLevel(w, httptest.NewRequest(http.MethodPut, "/debug/loglevel", strings.NewReader(body)), &lv)
		switch w.Code {
		case http.StatusOK:
			if got := strings.TrimSpace(w.Body.String()); got != strings.ToLower(lv.Level().String()) {
				t.Fatalf("answered %q, level %v", got, lv.Level())
			}
		case http.StatusBadRequest:
			if lv.Level() != slog.LevelWarn {
				t.Fatalf("refused %q yet set %v", body, lv.Level())
			}
		default:
			t.Fatalf("%q: status %d", body, w.Code)
		}
	})
}

// TestSharedFamily: two listeners registering the same histogram or
// counter vector (name, help, labels) share one family; a clash of names
// with different labels is an error.
func TestSharedFamily(t *testing.T) {
	s := New(slog.New(slog.DiscardHandler), Config{})
	a, err := s.Histogram("t_seconds", "Shared.", "protocol")
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Histogram("t_seconds", "Shared.", "protocol")
	if err != nil || a != b {
		t.Fatalf("second registration: %v, same vector %v", err, a == b)
	}
	a.WithLabelValues("kafka").Observe(0.001)
	b.WithLabelValues("rocketmq").Observe(0.002)
	fams, err := s.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range fams {
		if f.GetName() == "t_seconds" {
			n = len(f.Metric)
		}
	}
	if n != 2 {
		t.Fatalf("t_seconds has %d series, want 2", n)
	}
	if _, err := s.Histogram("t_seconds", "Shared.", "other"); err == nil {
		t.Fatal("a clash of labels registered")
	}
	c1, err := s.CounterVec("t_total", "Shared.", "code")
	if err != nil {
		t.Fatal(err)
	}
	if c2, err := s.CounterVec("t_total", "Shared.", "code"); err != nil || c1 != c2 {
		t.Fatalf("counter vector again: %v", err)
	}
}

// BenchmarkObserve: what one observation of a resolved histogram child
// costs (the store's, the log's and the adapters' latency observers are
// such children): ns per observation, no allocation.
func BenchmarkObserve(b *testing.B) {
	s := New(slog.New(slog.DiscardHandler), Config{})
	hv, err := s.Histogram("b_seconds", "Bench.", "protocol")
	if err != nil {
		b.Fatal(err)
	}
	o := hv.WithLabelValues("kafka")
	b.ReportAllocs()
	v := 0.0
	for b.Loop() {
		v += 1e-6
		o.Observe(v)
	}
}
