package httpapi

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

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
	s := New(slog.New(slog.DiscardHandler))
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
	want := `# HELP t_total Things\ncounted.
# TYPE t_total counter
t_total 42
# HELP t_offset Per queue.
# TYPE t_offset gauge
t_offset{topic="a",queue="0"} 3
t_offset{topic="odd\"name\\with\nnewline",queue="1"} 1.5
# HELP t_empty No series yet.
# TYPE t_empty gauge
`
	if code, body := get(t, base+"/metrics"); code != 200 || body != want {
		t.Fatalf("/metrics: %d\n%s\nwant\n%s", code, body, want)
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
