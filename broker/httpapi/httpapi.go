// Package httpapi is twinmq's HTTP listener (docs/design.md section 1, port
// 8080): liveness and readiness for orchestrators, metrics for Prometheus,
// and the operator's debug endpoints. It knows no broker internals: the
// command that builds a broker registers what to report (Server.Metric,
// Server.Value, Server.Histogram) and what must hold for the broker to
// take traffic (Server.Check).
//
//	GET /healthz        200 "ok" while the process serves HTTP at all
//	GET /readyz         200 "ready" once Ready was called and every check
//	                    passes; 503 with the failing checks otherwise
//	                    (during start-up, after a failed fsync, while
//	                    shutting down)
//	GET /metrics        prometheus/client_golang's promhttp: text format,
//	                    or OpenMetrics/protobuf when the scraper asks
//	GET /debug/loglevel the current slog level (Config.LogLevel set)
//	PUT /debug/loglevel body "debug", "info", "warn" or "error"
//	/debug/pprof/...    net/http/pprof, only with Config.Pprof
//
// Every Server has its own prometheus.Registry (no global registry: two
// brokers in one test process report apart), with the Go runtime and
// process collectors registered.
//
// It runs on net/http, not on gnet (docs/design.md section 5 is about the
// protocol listeners): probes and scrapes are a few requests a second.
// The web console (broker/console) mounts its pages and its JSON API
// with Server.Handle.
package httpapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Config is what New needs beyond the logger.
type Config struct {
	// LogLevel, when set, is served and changed at /debug/loglevel.
	LogLevel *slog.LevelVar
	// Pprof serves net/http/pprof under /debug/pprof/ (off by default:
	// a profile costs CPU and shows internals).
	Pprof bool
}

// Server serves the HTTP endpoints.
type Server struct {
	log   *slog.Logger
	ready atomic.Bool
	reg   *prometheus.Registry

	mu     sync.Mutex // guards checks
	checks []check

	mux *http.ServeMux
	srv *http.Server
	ln  net.Listener
}

// New returns a Server that is not listening yet.
func New(logger *slog.Logger, cfg Config) *Server {
	if logger == nil {
		logger = slog.Default()
	}
	s := &Server{log: logger, reg: prometheus.NewRegistry()}
	s.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s.Metric(residentMemoryMetric, "Resident memory of the process by kind: anon (heap, stacks), file (mapped and cached files: the CommitLog and ConsumeQueues), shmem.",
		Gauge, residentMemory)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", s.serveReady)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(logger.Handler(), slog.LevelError),
		ErrorHandling: promhttp.ContinueOnError, // a bad family must not hide the others
	}))
	if cfg.LogLevel != nil {
		mux.HandleFunc("GET /debug/loglevel", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			fmt.Fprintln(w, strings.ToLower(cfg.LogLevel.Level().String()))
		})
		mux.HandleFunc("PUT /debug/loglevel", func(w http.ResponseWriter, r *http.Request) {
			s.putLogLevel(w, r, cfg.LogLevel)
		})
	}
	if cfg.Pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	s.mux = mux
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	return s
}

// Handle serves pattern (net/http.ServeMux syntax) with h beside the
// endpoints above: the web console (broker/console) mounts itself here.
// Safe to call while serving.
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// putLogLevel sets the level from the request body ("debug", "info",
// "warn", "error", or slog's "info+2" form); 400 for anything else.
func (s *Server) putLogLevel(w http.ResponseWriter, r *http.Request, lv *slog.LevelVar) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	body, err := io.ReadAll(io.LimitReader(r.Body, 64))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.TrimSpace(string(body)))); err != nil {
		http.Error(w, "want debug, info, warn or error: "+err.Error(), http.StatusBadRequest)
		return
	}
	old := lv.Level()
	lv.Set(l)
	s.log.Info("httpapi: log level changed", "from", old, "to", l)
	fmt.Fprintln(w, strings.ToLower(l.String()))
}

// Registerer is where collectors beyond Metric and Value go (histograms,
// counter vectors the adapters update).
func (s *Server) Registerer() prometheus.Registerer { return s.reg }

// Gatherer gathers every registered family (for tests and benchmarks).
func (s *Server) Gatherer() prometheus.Gatherer { return s.reg }

// check is a registered readiness check.
type check struct {
	name string
	fn   func() error
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
