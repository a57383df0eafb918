package httpapi

import (
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
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

// LatencyBuckets are the upper bounds, in seconds, of the request latency
// histograms: from an inline produce answered on the event loop (tens of
// microseconds) to a long poll or an acks=all produce held for seconds.
var LatencyBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// Metric registers a metric family whose series collect returns at each
// scrape. name must be a valid Prometheus metric name, unique; every
// sample of the family should carry the same label names.
func (s *Server) Metric(name, help string, kind Kind, collect func() []Sample) {
	vt := prometheus.GaugeValue
	if kind == Counter {
		vt = prometheus.CounterValue
	}
	// An unchecked collector (it describes nothing) registers without
	// fail: name clashes show at scrape time, in the log.
	s.register(name, &family{name: name, help: help, vt: vt, collect: collect})
}

// register adds c, logging a refusal (a name registered twice) rather
// than taking the broker down for a metric.
func (s *Server) register(name string, c prometheus.Collector) {
	if err := s.reg.Register(c); err != nil {
		s.log.Error("httpapi: metric not registered", "name", name, "err", err)
	}
}

// Value registers a metric family of one unlabelled series.
func (s *Server) Value(name, help string, kind Kind, value func() float64) {
	if kind == Counter {
		s.register(name, prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, value))
		return
	}
	s.register(name, prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, value))
}

// Histogram registers a histogram vector with LatencyBuckets. Callers
// resolve its children (WithLabelValues) once and keep the Observer, so a
// request pays one atomic add, not a label lookup. Registering the same
// name, help and labels again returns the vector registered first: the
// listeners of both protocols share a family (protocol="kafka",
// protocol="rocketmq") without one of them owning it.
func (s *Server) Histogram(name, help string, labels ...string) (*prometheus.HistogramVec, error) {
	hv := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: LatencyBuckets}, labels)
	return registerShared(s, name, hv)
}

// CounterVec registers a counter vector; like Histogram, registering it
// again returns the first.
func (s *Server) CounterVec(name, help string, labels ...string) (*prometheus.CounterVec, error) {
	cv := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	return registerShared(s, name, cv)
}

// registerShared registers c, or returns the collector of the same
// description registered before.
func registerShared[C prometheus.Collector](s *Server, name string, c C) (C, error) {
	err := s.reg.Register(c)
	if err == nil {
		return c, nil
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if prev, ok := are.ExistingCollector.(C); ok {
			return prev, nil
		}
	}
	var zero C
	return zero, fmt.Errorf("httpapi: %s: %w", name, err)
}

// family is a callback metric family: a prometheus.Collector that builds
// const metrics from collect's samples at each scrape.
type family struct {
	name, help string
	vt         prometheus.ValueType
	collect    func() []Sample

	mu    sync.Mutex // guards names and desc
	names []string   // label names of desc
	desc  *prometheus.Desc
}

// Describe sends nothing: the label names are known only from the samples,
// so the family is an unchecked collector.
func (f *family) Describe(chan<- *prometheus.Desc) {}

// Collect implements prometheus.Collector.
func (f *family) Collect(ch chan<- prometheus.Metric) {
	var values []string
	for _, sm := range f.collect() {
		desc := f.descFor(sm.Labels)
		values = values[:0]
		for i := 1; i < len(sm.Labels); i += 2 {
			values = append(values, sm.Labels[i])
		}
		m, err := prometheus.NewConstMetric(desc, f.vt, sm.Value, values...)
		if err != nil {
			m = prometheus.NewInvalidMetric(desc, err)
		}
		ch <- m
	}
}

// descFor returns the Desc for a sample's label names, reusing the last
// one: a family's samples share their names, and building a Desc (it
// validates and hashes) per series would dominate a large scrape.
func (f *family) descFor(pairs []string) *prometheus.Desc {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.desc != nil && sameNames(f.names, pairs) {
		return f.desc
	}
	f.names = f.names[:0]
	for i := 0; i+1 < len(pairs); i += 2 {
		f.names = append(f.names, pairs[i])
	}
	f.desc = prometheus.NewDesc(f.name, f.help, slices.Clone(f.names), nil)
	return f.desc
}

// sameNames reports whether the label pairs carry exactly names.
func sameNames(names, pairs []string) bool {
	if len(pairs)/2 != len(names) {
		return false
	}
	for i, n := range names {
		if pairs[2*i] != n {
			return false
		}
	}
	return true
}
