package console

import (
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"

	dto "github.com/prometheus/client_model/go"
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
