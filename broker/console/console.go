package console

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/broker/cluster"
	"github.com/twinmq/twinmq/broker/log"
	"github.com/twinmq/twinmq/broker/offsets"
	"github.com/twinmq/twinmq/broker/topics"
	"github.com/twinmq/twinmq/storage"
	"github.com/twinmq/twinmq/wire/remoting"
)

//go:embed static
var staticFiles embed.FS

// HeaderName is the header every mutating request must carry (any value).
const HeaderName = "X-Twinmq-Console"

// Errors of the console; statusOf maps them to HTTP status codes.
var (
	ErrBadRequest = errors.New("console: bad request")
	ErrNotFound   = errors.New("console: not found")
	ErrConflict   = errors.New("console: conflict")
	ErrReadOnly   = errors.New("console: read-only")
	ErrForbidden  = errors.New("console: forbidden")
	ErrOffline    = errors.New("console: not available on this broker now")
)

// KafkaAdmin serves Kafka admin requests in process
// (kafkaapi.Handler.Do).
type KafkaAdmin interface {
	Do(ctx context.Context, req kmsg.Request) (kmsg.Response, error)
}

// RocketMQAdmin serves RocketMQ admin requests in process
// (remotingapi.Broker.Invoke).
type RocketMQAdmin interface {
	Invoke(ctx context.Context, req *remoting.Command) (*remoting.Command, error)
}

// BrokerInfo is what the cluster page shows about this broker.
type BrokerInfo struct {
	Version     string            `json:"version"`
	NodeID      int32             `json:"nodeId"`
	ClusterID   string            `json:"clusterId"`
	ClusterName string            `json:"clusterName"`
	BrokerName  string            `json:"brokerName"`
	BrokerID    int64             `json:"brokerId"`
	Role        string            `json:"role"`
	Listeners   map[string]string `json:"listeners"`
	StartedMs   int64             `json:"startedMs"`
}

// DelayStats is the delivery services' progress (broker/delay,
// broker/timer); nil fields: the service does not run.
type DelayStats struct {
	// Levels are the delay levels' durations, level 1 first.
	Levels []time.Duration
	// Progress returns the first offset of a level's queue not yet
	// delivered.
	Progress func(level int) int64
	// Timer, if set, returns the timer wheel's counters.
	Timer func() TimerStats
}

// TimerStats are the timer wheel's counters (timer.Stats).
type TimerStats struct {
	Ingested     int64 `json:"ingested"`
	Fired        int64 `json:"fired"`
	Dropped      int64 `json:"dropped"`
	PendingSlots int   `json:"pendingSlots"`
	InHeap       int   `json:"inHeap"`
}

// Config is what New needs.
type Config struct {
	Store   *storage.Store
	Topics  *topics.Registry
	Offsets *offsets.Table
	// Logs is the read side readers go through; nil: log.New(Store).
	Logs *log.Log
	// Gatherer is the broker's own metrics registry, gathered in process
	// for the charts and the cluster page.
	Gatherer prometheus.Gatherer
	// Info describes this broker (cluster page).
	Info   func() BrokerInfo
	Logger *slog.Logger
	// ReadOnly refuses every mutating request (403).
	ReadOnly bool
	// Authorize, if set, runs before every /api/ request: an error
	// refuses it (401). The hook for authentication once the broker has
	// principals; it is nil today (docs/console.md, "Security").
	Authorize func(r *http.Request) error
	// StoreHost, if set, is the address written into stored RocketMQ
	// messages (offsetMsgIds of converted Kafka records).
	StoreHost func() netip.AddrPort
	// Now is the clock (tests); nil: time.Now.
	Now func() time.Time
}

// Server is the console: pages and API.
type Server struct {
	cfg   Config
	log   *slog.Logger
	logs  *log.Log
	kafka atomic.Pointer[KafkaAdmin]
	rmq   atomic.Pointer[RocketMQAdmin]
	delay atomic.Pointer[DelayStats]
	view  atomic.Pointer[func() *cluster.View]
	mux   *http.ServeMux
}

// New returns a console; mount its Handler on the HTTP port. The
// adapters arrive later (SetKafka, SetRocketMQ): until they do, the pages
// that need them answer 503.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil || cfg.Topics == nil || cfg.Offsets == nil {
		return nil, errors.New("console: store, topics and offsets are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Info == nil {
		cfg.Info = func() BrokerInfo { return BrokerInfo{} }
	}
	s := &Server{cfg: cfg, log: cfg.Logger, logs: cfg.Logs, mux: http.NewServeMux()}
	if s.logs == nil {
		s.logs = log.New(cfg.Store)
	}
	s.routes()
	return s, nil
}

// SetKafka makes the Kafka adapter available (after it started).
func (s *Server) SetKafka(k KafkaAdmin) { s.kafka.Store(&k) }

// SetRocketMQ makes the RocketMQ adapter available.
func (s *Server) SetRocketMQ(r RocketMQAdmin) { s.rmq.Store(&r) }

// SetCluster makes the cluster view (the broker groups the name servers
// know) available to the cluster page.
func (s *Server) SetCluster(view func() *cluster.View) { s.view.Store(&view) }

// SetDelay makes the delivery services' progress available.
func (s *Server) SetDelay(d DelayStats) { s.delay.Store(&d) }

// Handler serves the pages under /console/, the API under /api/, and
// redirects / to the pages.
func (s *Server) Handler() http.Handler { return s.mux }

// Patterns are the patterns to mount Handler on.
func Patterns() []string { return []string{"/api/", "/console/", "GET /{$}"} }

func (s *Server) routes() {
	sub, _ := fs.Sub(staticFiles, "static")
	files := http.StripPrefix("/console/", http.FileServerFS(sub))
	s.mux.Handle("GET /console/", noSniff(files))
	s.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/console/", http.StatusFound)
	})
	api := func(pattern string, fn func(r *http.Request) (any, error)) {
		s.mux.Handle(pattern, s.guard(fn))
	}
	api("GET /api/overview", s.overview)
	api("GET /api/topics", s.listTopics)
	api("POST /api/topics", s.createTopic)
	api("GET /api/topics/{topic}", s.describeTopic)
	api("PATCH /api/topics/{topic}", s.alterTopic)
	api("DELETE /api/topics/{topic}", s.deleteTopic)
	api("GET /api/topics/{topic}/messages", s.browse)
	api("GET /api/messages/search", s.search)
	api("GET /api/groups", s.listGroups)
	api("GET /api/groups/{group}", s.describeGroup)
	api("POST /api/groups/{group}/reset", s.resetGroup)
	api("GET /api/dlq", s.listDLQ)
	api("POST /api/dlq/{group}/resend", s.resendDLQ)
	api("GET /api/delay", s.delayView)
	api("GET /api/metrics", s.metrics)
	s.mux.Handle("/api/", s.guard(func(*http.Request) (any, error) {
		return nil, fmt.Errorf("%w: no such endpoint", ErrNotFound)
	}))
}

func noSniff(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
		h.ServeHTTP(w, r)
	})
}

// maxBody bounds a request body: the largest is a topic's configs.
const maxBody = 64 << 10

// guard checks a request (authorization, cross-site, read-only) and
// writes fn's result as JSON, or its error with its status.
func (s *Server) guard(fn func(r *http.Request) (any, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if err := s.check(r); err != nil {
			s.writeError(w, r, err)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		v, err := fn(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		if err := enc.Encode(v); err != nil {
			s.log.Debug("console: write", "path", r.URL.Path, "err", err)
		}
	})
}

// check refuses what may not run: unauthorized requests, mutations from
// another site, mutations of a read-only console.
func (s *Server) check(r *http.Request) error {
	if s.cfg.Authorize != nil {
		if err := s.cfg.Authorize(r); err != nil {
			return fmt.Errorf("%w: %v", errUnauthorized, err)
		}
	}
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return nil
	}
	if r.Header.Get(HeaderName) == "" {
		return fmt.Errorf("%w: a change needs the %s header (cross-site requests are refused)", ErrForbidden, HeaderName)
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return fmt.Errorf("%w: origin %q is not this console's", ErrForbidden, o)
		}
	}
	if s.cfg.ReadOnly {
		return fmt.Errorf("%w: this console is read-only (--console-read-only)", ErrReadOnly)
	}
	return nil
}

var errUnauthorized = errors.New("console: unauthorized")

// apiError is the body of every error answer.
type apiError struct {
	Error string `json:"error"`
	// Code is the protocol's error name when an adapter refused.
	Code string `json:"code,omitempty"`
}

// protocolError is an adapter's refusal: its error name and message.
type protocolError struct {
	status int
	code   string
	msg    string
}

func (e *protocolError) Error() string { return e.code + ": " + e.msg }

func statusOf(err error) int {
	var pe *protocolError
	switch {
	case errors.As(err, &pe):
		return pe.status
	case errors.Is(err, errUnauthorized):
		return http.StatusUnauthorized
	case errors.Is(err, ErrForbidden), errors.Is(err, ErrReadOnly):
		return http.StatusForbidden
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, ErrConflict):
		return http.StatusConflict
	case errors.Is(err, ErrBadRequest):
		return http.StatusBadRequest
	case errors.Is(err, ErrOffline):
		return http.StatusServiceUnavailable
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusInternalServerError
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status := statusOf(err)
	body := apiError{Error: err.Error()}
	var pe *protocolError
	if errors.As(err, &pe) {
		body.Code = pe.code
	}
	if status >= 500 {
		s.log.Warn("console: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	} else {
		s.log.Debug("console: request refused", "method", r.Method, "path", r.URL.Path, "status", status, "err", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// kafkaAdmin is the Kafka adapter, or ErrOffline (a slave, or start-up).
func (s *Server) kafkaAdmin() (KafkaAdmin, error) {
	k := s.kafka.Load()
	if k == nil {
		return nil, fmt.Errorf("%w: the Kafka adapter is not running (a slave, or starting)", ErrOffline)
	}
	return *k, nil
}

// rocketMQAdmin is the RocketMQ adapter, or ErrOffline.
func (s *Server) rocketMQAdmin() (RocketMQAdmin, error) {
	r := s.rmq.Load()
	if r == nil {
		return nil, fmt.Errorf("%w: the RocketMQ adapter is not running", ErrOffline)
	}
	return *r, nil
}

// requestTimeout bounds what one API request waits for (an admin
// request's appends, a topic registration).
const requestTimeout = 30 * time.Second

// query parameters.

func intParam(r *http.Request, name string, def, lo, hi int64) (int64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%w: %s=%q: want an integer in [%d, %d]", ErrBadRequest, name, v, lo, hi)
	}
	return n, nil
}

// decodeBody reads a JSON body into v, refusing unknown fields.
func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return fmt.Errorf("%w: body: %v", ErrBadRequest, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: body: more than one JSON value", ErrBadRequest)
	}
	return nil
}
