package remotingapi

import (
	"bytes"
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/twinmq/twinmq/broker/delay"
	"github.com/twinmq/twinmq/broker/topics"
	"github.com/twinmq/twinmq/wire/remoting"
)

// BenchmarkSendInlineLatency is BenchmarkSendInline without and with the
// request latency histogram twinmq serve registers: the ratio of the two
// is the histogram's cost on the fastest send path.
//
//	go test ./broker/remotingapi -run '^$' -bench SendInlineLatency -benchmem -count 6
func BenchmarkSendInlineLatency(b *testing.B) {
	for _, on := range []bool{false, true} {
		name := "histogram=off"
		if on {
			name = "histogram=on"
		}
		b.Run(name, func(b *testing.B) {
			br, _, _ := startBroker(b)
			br.EnableDelay(delay.Policy{})
			if _, err := br.topics.Create(context.Background(), topics.Config{Name: "Bench", Queues: 4, Perm: topics.DefaultPerm}); err != nil {
				b.Fatal(err)
			}
			var hv *prometheus.HistogramVec
			if on {
				hv = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "lat"}, []string{"code", "response_code"})
				br.SetLatency(func(code, resp int32) Observer {
					return hv.WithLabelValues(strconv.Itoa(int(code)), strconv.Itoa(int(resp)))
				})
			}
			frame := goSendFrame("Bench", 1, 0, bytes.Repeat([]byte{'x'}, 1024))
			var out []byte
			b.SetBytes(int64(len(frame)))
			b.ReportAllocs()
			for b.Loop() {
				var ok bool
				if out, ok = br.answerInline(nil, remoteAddr, frame, out[:0]); !ok || len(out) == 0 {
					b.Fatal("declined")
				}
			}
			if on {
				var m dto.Metric
				code := strconv.Itoa(int(remoting.SendMessageV2))
				if err := hv.WithLabelValues(code, "0").(prometheus.Metric).Write(&m); err != nil {
					b.Fatal(err)
				}
				if got := m.GetHistogram().GetSampleCount(); int(got) != b.N {
					b.Fatalf("%d latencies observed for %d sends", got, b.N)
				}
			}
		})
	}
}

// BenchmarkObserve is what the histogram adds to one request: the clock
// reads and the resolved Observer's lookup and add (compare with
// BenchmarkSendInlineLatency's ns/op).
func BenchmarkObserve(b *testing.B) {
	br, _, _ := startBroker(b)
	hv := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "lat"}, []string{"code", "response_code"})
	br.SetLatency(func(code, resp int32) Observer {
		return hv.WithLabelValues(strconv.Itoa(int(code)), strconv.Itoa(int(resp)))
	})
	rt := br.codes[remoting.SendMessageV2]
	b.ReportAllocs()
	for b.Loop() {
		br.observe(remoting.SendMessageV2, rt, remoting.Success, time.Now())
	}
}
