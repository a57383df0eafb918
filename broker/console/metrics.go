package console

import (
	"net/http"

	dto "github.com/prometheus/client_model/go"
)

// MetricsView is one poll of the charts: cumulative counters, which the
// page turns into rates between polls, and the request latency
// histograms merged across APIs and codes.
type MetricsView struct {
	TimeMs      int64            `json:"timeMs"`
	MessagesIn  float64          `json:"messagesIn"`
	MessagesOut float64          `json:"messagesOut"`
	BytesIn     float64          `json:"bytesIn"`
	BytesOut    float64          `json:"bytesOut"`
	Latency     map[string]Histo `json:"latency"` // "kafka", "remoting"
}

// Histo is a cumulative histogram: bucket upper bounds (seconds) and
// cumulative counts, with the total count and sum.
type Histo struct {
	Bounds []float64 `json:"bounds"`
	Counts []uint64  `json:"counts"`
	Count  uint64    `json:"count"`
	Sum    float64   `json:"sum"`
}

// metrics: GET /api/metrics, from the broker's own registry gathered in
// process.
func (s *Server) metrics(*http.Request) (any, error) {
	fams, err := s.gather()
	if err != nil {
		return nil, err
	}
	v := MetricsView{TimeMs: s.cfg.Now().UnixMilli(), Latency: map[string]Histo{}}
	sum := func(f *dto.MetricFamily) float64 {
		t := 0.0
		for _, m := range f.GetMetric() {
			t += sampleValue(m)
		}
		return t
	}
	for _, f := range fams {
		switch f.GetName() {
		case "twinmq_topic_messages_in_total":
			v.MessagesIn = sum(f)
		case "twinmq_topic_messages_out_total":
			v.MessagesOut = sum(f)
		case "twinmq_topic_bytes_in_total":
			v.BytesIn = sum(f)
		case "twinmq_topic_bytes_out_total":
			v.BytesOut = sum(f)
		case "twinmq_kafka_request_duration_seconds":
			v.Latency["kafka"] = mergeHisto(f)
		case "twinmq_remoting_request_duration_seconds":
			v.Latency["remoting"] = mergeHisto(f)
		}
	}
	return v, nil
}

// mergeHisto adds up the histograms of a family (one per label set);
// they share their buckets.
func mergeHisto(f *dto.MetricFamily) Histo {
	var h Histo
	for _, m := range f.GetMetric() {
		mh := m.GetHistogram()
		if mh == nil {
			continue
		}
		h.Count += mh.GetSampleCount()
		h.Sum += mh.GetSampleSum()
		for i, b := range mh.GetBucket() {
			if i >= len(h.Bounds) {
				h.Bounds = append(h.Bounds, b.GetUpperBound())
				h.Counts = append(h.Counts, 0)
			}
			if h.Bounds[i] == b.GetUpperBound() {
				h.Counts[i] += b.GetCumulativeCount()
			}
		}
	}
	if h.Bounds == nil {
		h.Bounds, h.Counts = []float64{}, []uint64{}
	}
	return h
}
