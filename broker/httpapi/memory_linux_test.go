package httpapi

import (
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestResidentMemoryScrape: /metrics reports the process's anonymous and
// file-backed resident memory apart, and mapping and reading a file shows
// in the file part.
func TestResidentMemoryScrape(t *testing.T) {
	s := New(slog.New(slog.DiscardHandler), Config{})
	if err := s.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(t.Context())
	scrape := func() map[string]float64 {
		code, body := get(t, "http://"+s.Addr().String()+"/metrics")
		if code != 200 {
			t.Fatalf("/metrics: %d", code)
		}
		f := parse(t, body)[residentMemoryMetric]
		if f == nil {
			t.Fatalf("no %s in /metrics", residentMemoryMetric)
		}
		out := map[string]float64{}
		for _, m := range f.Metric {
			out[m.Label[0].GetValue()] = m.GetGauge().GetValue()
		}
		return out
	}
	before := scrape()
	if before["anon"] <= 0 {
		t.Fatalf("anonymous resident memory %v", before)
	}
	const size = 16 << 20
	p := filepath.Join(t.TempDir(), "mapped")
	if err := os.WriteFile(p, make([]byte, size), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	view, err := syscall.Mmap(int(f.Fd()), 0, size, syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Munmap(view)
	var sum byte
	for i := 0; i < size; i += 4096 {
		sum += view[i]
	}
	after := scrape()
	if grew := after["file"] - before["file"]; grew < size/2 {
		t.Fatalf("file-backed resident memory grew by %.0f bytes after touching a %d-byte mapping (sum %d)", grew, size, sum)
	}
}
