package console

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"

	dto "github.com/prometheus/client_model/go"

	"github.com/twinmq/twinmq/broker/delay"
	"github.com/twinmq/twinmq/broker/remotingapi"
	"github.com/twinmq/twinmq/wire/remoting"
)

// Overview is the cluster page: this broker, its store, its replication.
type Overview struct {
	Broker      BrokerInfo     `json:"broker"`
	UptimeMs    int64          `json:"uptimeMs"`
	Topics      int            `json:"topics"`
	Groups      int            `json:"groups"`
	Store       StoreView      `json:"store"`
	Replication []MetricSample `json:"replication"`
	// BrokerGroups are the cluster's broker groups as the name servers
	// publish them (every broker's view is the same).
	BrokerGroups []BrokerGroupView `json:"brokerGroups"`
	ReadOnly     bool              `json:"readOnly"`
}

// BrokerGroupView is one broker group: its master and members.
type BrokerGroupView struct {
	Name     string  `json:"name"`
	Self     bool    `json:"self"`
	Master   string  `json:"master"` // the master's Kafka address, "" without a live master
	NodeID   int32   `json:"nodeId"`
	Remoting string  `json:"remoting"`
	Epoch    int32   `json:"epoch"`
	Replicas []int32 `json:"replicas"`
	ISR      []int32 `json:"isr"`
}

// StoreView is the store's figures.
type StoreView struct {
	WrittenBytes    int64  `json:"writtenOffset"`
	FlushedBytes    int64  `json:"flushedOffset"`
	DispatchedBytes int64  `json:"dispatchedOffset"`
	Records         int64  `json:"records"`
	Writable        bool   `json:"writable"`
	DiskFull        bool   `json:"diskFull"`
	Error           string `json:"error,omitempty"`
	DiskFreeBytes   int64  `json:"diskFreeBytes"`
	DiskUsedBytes   int64  `json:"diskUsedBytes"`
}

// MetricSample is one sample of a gathered family.
type MetricSample struct {
	Name   string            `json:"name"`
	Labels map[string]string `json:"labels,omitempty"`
	Value  float64           `json:"value"`
}

// overview: GET /api/overview.
func (s *Server) overview(*http.Request) (any, error) {
	info := s.cfg.Info()
	st := s.cfg.Store.Stats()
	o := Overview{Broker: info, Topics: len(s.cfg.Topics.List()), Groups: len(s.cfg.Offsets.Groups()),
		ReadOnly: s.cfg.ReadOnly, Replication: []MetricSample{},
		Store: StoreView{WrittenBytes: st.WrittenOffset, FlushedBytes: st.FlushedOffset, DispatchedBytes: st.DispatchedOffset,
			Records: st.Records, Writable: st.Err == nil, DiskFull: st.NoSpace}}
	if st.Err != nil {
		o.Store.Error = st.Err.Error()
	}
	o.BrokerGroups = []BrokerGroupView{}
	if fn := s.view.Load(); fn != nil {
		if v := (*fn)(); v != nil {
			for _, g := range v.Groups {
				bg := BrokerGroupView{Name: g.Name, Self: g.Name == v.Self, Remoting: g.Remoting, Epoch: g.Epoch,
					Replicas: g.Replicas, ISR: g.ISR}
				if g.HasNode {
					bg.Master, bg.NodeID = net.JoinHostPort(g.Master.Host, strconv.Itoa(int(g.Master.Port))), g.Master.NodeID
				}
				o.BrokerGroups = append(o.BrokerGroups, bg)
			}
		}
	}
	if info.StartedMs > 0 {
		o.UptimeMs = s.cfg.Now().UnixMilli() - info.StartedMs
	}
	fams, err := s.gather()
	if err != nil {
		return nil, err
	}
	for _, f := range fams {
		name := f.GetName()
		switch {
		case name == "twinmq_data_dir_disk_free_bytes":
			o.Store.DiskFreeBytes = int64(sampleValue(f.GetMetric()[0]))
		case name == "twinmq_data_dir_disk_used_bytes":
			o.Store.DiskUsedBytes = int64(sampleValue(f.GetMetric()[0]))
		case strings.HasPrefix(name, "twinmq_ha_"):
			for _, m := range f.GetMetric() {
				o.Replication = append(o.Replication, MetricSample{Name: name, Labels: labels(m), Value: sampleValue(m)})
			}
		}
	}
	return o, nil
}

func (s *Server) gather() ([]*dto.MetricFamily, error) {
	if s.cfg.Gatherer == nil {
		return nil, nil
	}
	fams, err := s.cfg.Gatherer.Gather()
	if err != nil && len(fams) == 0 {
		return nil, fmt.Errorf("console: gather metrics: %w", err)
	}
	return fams, nil // a partial gather still shows what it has
}

func labels(m *dto.Metric) map[string]string {
	if len(m.GetLabel()) == 0 {
		return nil
	}
	out := make(map[string]string, len(m.GetLabel()))
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

func sampleValue(m *dto.Metric) float64 {
	switch {
	case m.GetGauge() != nil:
		return m.GetGauge().GetValue()
	case m.GetCounter() != nil:
		return m.GetCounter().GetValue()
	case m.GetUntyped() != nil:
		return m.GetUntyped().GetValue()
	}
	return math.NaN()
}

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

// DLQView is one dead-letter queue.
type DLQView struct {
	Group    string `json:"group"`
	Topic    string `json:"topic"`
	Start    int64  `json:"start"`
	End      int64  `json:"end"`
	ResentTo int64  `json:"resentTo"` // the group's offset on it: where the next re-send starts
	Pending  int64  `json:"pending"`
}

// listDLQ: GET /api/dlq.
func (s *Server) listDLQ(*http.Request) (any, error) {
	out := []DLQView{}
	for _, c := range s.cfg.Topics.List() {
		group, ok := strings.CutPrefix(c.Name, delay.DLQPrefix)
		if !ok {
			continue
		}
		// A DLQ has one queue (RocketMQ's dlqNums), 0.
		start, end, err := s.queueRange(c.Name, 0)
		if err != nil {
			return nil, err
		}
		v := DLQView{Group: group, Topic: c.Name, Start: start, End: end}
		from, _ := s.cfg.Offsets.Fetch(group, c.Name, 0)
		v.ResentTo = max(from, v.Start)
		v.Pending = max(v.End-v.ResentTo, 0)
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b DLQView) int { return strings.Compare(a.Group, b.Group) })
	return out, nil
}

// resendDLQ: POST /api/dlq/{group}/resend: twinmq's ResendDLQ admin
// request (`twinmq message resend-dlq`), in process.
func (s *Server) resendDLQ(r *http.Request) (any, error) {
	group := r.PathValue("group")
	rmq, err := s.rocketMQAdmin()
	if err != nil {
		return nil, err
	}
	req := remoting.NewRequest(remotingapi.ResendDLQ, 0)
	req.ExtFields["group"] = group
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	resp, err := rmq.Invoke(ctx, req)
	if err != nil {
		return nil, err
	}
	if resp.Code != remoting.Success {
		status := http.StatusBadRequest
		if resp.Code == remoting.TopicNotExist {
			status = http.StatusNotFound
		}
		return nil, &protocolError{status: status, code: "ROCKETMQ_" + strconv.Itoa(int(resp.Code)), msg: resp.Remark}
	}
	var res remotingapi.ResendDLQResult
	if err := json.Unmarshal(resp.Body, &res); err != nil {
		return nil, fmt.Errorf("console: ResendDLQ answer: %w", err)
	}
	s.log.Info("console: DLQ re-sent", "group", group, "resent", res.Resent, "skipped", res.Skipped, "remote", r.RemoteAddr)
	return res, nil
}

// DelayLevelView is one delay level's queue.
type DelayLevelView struct {
	Level     int    `json:"level"`
	Delay     string `json:"delay"`
	Stored    int64  `json:"stored"`    // end offset of its queue
	Delivered int64  `json:"delivered"` // first offset not yet delivered
	Pending   int64  `json:"pending"`
}

// DelayView is the delay/timer page.
type DelayView struct {
	Running bool             `json:"running"`
	Levels  []DelayLevelView `json:"levels"`
	Timer   *TimerStats      `json:"timer"`
	// TimerStored counts the timer topic's stored messages (timer
	// messages accepted, fired or not).
	TimerStored int64 `json:"timerStored"`
}

// delayView: GET /api/delay.
func (s *Server) delayView(*http.Request) (any, error) {
	v := DelayView{Levels: []DelayLevelView{}}
	d := s.delay.Load()
	if d != nil {
		v.Running = true
		for i, dur := range d.Levels {
			lvl := i + 1
			_, end, err := s.queueRange(delay.ScheduleTopic, delay.QueueID(lvl))
			if err != nil {
				return nil, err
			}
			dv := DelayLevelView{Level: lvl, Delay: dur.String(), Stored: end}
			if d.Progress != nil {
				dv.Delivered = d.Progress(lvl)
			}
			dv.Pending = max(end-dv.Delivered, 0)
			v.Levels = append(v.Levels, dv)
		}
		if d.Timer != nil {
			ts := d.Timer()
			v.Timer = &ts
		}
	}
	if c, ok := s.cfg.Topics.Get(delay.TimerTopic); ok {
		for q := range c.Queues {
			if _, end, err := s.queueRange(c.Name, q); err == nil {
				v.TimerStored += end
			}
		}
	} else {
		for _, q := range s.cfg.Store.Queues(delay.TimerTopic) {
			v.TimerStored += q.Max
		}
	}
	return v, nil
}
