// Package httpapi is twinmq's HTTP listener (docs/design.md section 1, port
// 8080): liveness and readiness for orchestrators, and metrics in the
// Prometheus text format. It knows no broker internals: the command that
// builds a broker registers what to report (Server.Metric) and what must
// hold for the broker to take traffic (Server.Check).
//
//	GET /healthz   200 "ok" while the process serves HTTP at all
//	GET /readyz    200 "ready" once Ready was called and every check
//	               passes; 503 with the failing checks otherwise (during
//	               start-up, after a failed fsync, while shutting down)
//	GET /metrics   text format 0.0.4
//
// It runs on net/http, not on gnet (docs/design.md section 5 is about the
// protocol listeners): probes and scrapes are a few requests a second.
// A console is not implemented.
package httpapi

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Kind is a metric's Prometheus type.
type Kind string

// The metric kinds.
const (
	Gauge   Kind = "gauge"
	Counter Kind = "counter"
)

// Sample is one series of a metric: label pairs (name, value, name,
// value, ...) and its value.
type Sample struct {
	Labels []string
	Value  float64
}

// metric is a registered metric family.
type metric struct {
	name, help string
	kind       Kind
	collect    func() []Sample
}

// check is a registered readiness check.
type check struct {
	name string
	fn   func() error
}

// Server serves the HTTP endpoints.
type Server struct {
	log   *slog.Logger
	ready atomic.Bool

	mu      sync.Mutex // guards metrics and checks
	metrics []metric
	checks  []check

	srv *http.Server
	ln  net.Listener
}

// New returns a Server that is not listening yet.
func New(logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.Default()
	}
	s := &Server{log: logger}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", s.serveReady)
	mux.HandleFunc("GET /metrics", s.serveMetrics)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	return s
}

// Metric registers a metric family: collect returns its series at each
// scrape. name must be a valid Prometheus metric name, unique.
func (s *Server) Metric(name, help string, kind Kind, collect func() []Sample) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.metrics = append(s.metrics, metric{name, help, kind, collect})
}

// Value registers a metric family of one unlabelled series.
func (s *Server) Value(name, help string, kind Kind, value func() float64) {
	s.Metric(name, help, kind, func() []Sample { return []Sample{{Value: value()}} })
}

// Check registers a readiness check: /readyz fails while fn returns an
// error.
func (s *Server) Check(name string, fn func() error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checks = append(s.checks, check{name, fn})
}

// Ready marks start-up done (true) or shutdown begun (false).
func (s *Server) Ready(ready bool) { s.ready.Store(ready) }

// Listen binds addr ("host:port"; port 0 picks one) and serves until
// Shutdown.
func (s *Server) Listen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("httpapi: %w", err)
	}
	s.ln = ln
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("httpapi: serve", "err", err)
		}
	}()
	return nil
}

// Addr is the bound address, after Listen.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Shutdown stops serving: readiness fails at once, then the listener
// closes and requests under way finish (until ctx is done).
func (s *Server) Shutdown(ctx context.Context) error {
	s.Ready(false)
	return s.srv.Shutdown(ctx)
}

func (s *Server) serveReady(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	var failed []string
	if !s.ready.Load() {
		failed = append(failed, "started: not serving (starting or stopping)")
	}
	s.mu.Lock()
	checks := slices.Clone(s.checks)
	s.mu.Unlock()
	for _, c := range checks {
		if err := c.fn(); err != nil {
			failed = append(failed, c.name+": "+err.Error())
		}
	}
	if len(failed) > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		for _, f := range failed {
			fmt.Fprintln(w, f)
		}
		return
	}
	fmt.Fprintln(w, "ready")
}

func (s *Server) serveMetrics(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	s.mu.Lock()
	metrics := slices.Clone(s.metrics)
	s.mu.Unlock()
	bw := bufio.NewWriter(w)
	for _, m := range metrics {
		writeFamily(bw, m.name, m.help, m.kind, m.collect())
	}
	_ = bw.Flush()
}

// writeFamily writes one metric family in the text format.
func writeFamily(w *bufio.Writer, name, help string, kind Kind, samples []Sample) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", name, escapeHelp(help), name, kind)
	for _, sm := range samples {
		w.WriteString(name)
		if len(sm.Labels) > 0 {
			w.WriteByte('{')
			for i := 0; i+1 < len(sm.Labels); i += 2 {
				if i > 0 {
					w.WriteByte(',')
				}
				w.WriteString(sm.Labels[i])
				w.WriteString(`="`)
				w.WriteString(escapeLabel(sm.Labels[i+1]))
				w.WriteByte('"')
			}
			w.WriteByte('}')
		}
		w.WriteByte(' ')
		w.WriteString(strconv.FormatFloat(sm.Value, 'g', -1, 64))
		w.WriteByte('\n')
	}
}

var (
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)

func escapeHelp(s string) string  { return helpEscaper.Replace(s) }
func escapeLabel(s string) string { return labelEscaper.Replace(s) }
