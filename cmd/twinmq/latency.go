package main

import (
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/broker/httpapi"
	"github.com/twinmq/twinmq/broker/kafkaapi"
	"github.com/twinmq/twinmq/broker/remotingapi"
	"github.com/twinmq/twinmq/storage"
)

// The histograms both protocols' listeners report to, one family each
// with a protocol label (httpapi.Histogram returns the family the first
// listener registered). Their help texts must be the same at both calls.
const (
	e2eName  = "twinmq_end_to_end_latency_seconds"
	e2eHelp  = "From a stored entry's store timestamp to a Kafka fetch, RocketMQ pull or gRPC ReceiveMessage returning it (a Kafka batch or a RocketMQ message counts once), by the reader's protocol."
	holdName = "twinmq_long_poll_hold_seconds"
	holdHelp = "How long a parked Kafka fetch (MaxWaitMs) or RocketMQ pull (suspendTimeoutMillis) waited, by protocol and why it was answered: woken (data came), timeout, cut (connection closed, listener stopping)."
)

// storeLatencyMetrics registers the store's latency histograms and hands
// their observers to st.
func storeLatencyMetrics(mon *httpapi.Server, st *storage.Store) error {
	fsync, err := mon.Histogram("twinmq_commitlog_fsync_duration_seconds",
		"Each fsync of the CommitLog that had bytes to make durable (ASYNC_FLUSH intervals, SYNC_FLUSH group commits).")
	if err != nil {
		return err
	}
	group, err := mon.Histogram("twinmq_commitlog_group_commit_seconds",
		"Each SYNC_FLUSH append, from queued for the flusher to acknowledged: gathering, the group's write and its fsync.")
	if err != nil {
		return err
	}
	visible, err := mon.Histogram("twinmq_produce_to_visible_seconds",
		"Each append (a produce's partition batch, a RocketMQ send), from written (queued, in SYNC_FLUSH) to readable: the high watermark / maxOffset passes it.")
	if err != nil {
		return err
	}
	st.SetObservers(storage.Observers{Fsync: fsync.WithLabelValues(), GroupCommit: group.WithLabelValues(),
		Visible: visible.WithLabelValues()})
	return nil
}

// kafkaLatencyMetrics registers the Kafka listener's end-to-end, hold-time
// and error metrics.
func kafkaLatencyMetrics(mon *httpapi.Server, h *kafkaapi.Handler) error {
	e2e, err := mon.Histogram(e2eName, e2eHelp, "protocol")
	if err != nil {
		return err
	}
	hold, err := mon.Histogram(holdName, holdHelp, "protocol", "reason")
	if err != nil {
		return err
	}
	h.SetEndToEnd(e2e.WithLabelValues("kafka"))
	h.SetHoldTime(func(reason string) kafkaapi.Observer { return hold.WithLabelValues("kafka", reason) })
	mon.Metric("twinmq_kafka_request_errors_total",
		"Errors answered to Kafka requests, by API and error (each failing partition of a Produce or Fetch counts once; NONE is not counted).",
		httpapi.Counter, func() []httpapi.Sample {
			var out []httpapi.Sample
			h.Failures(func(key, code int16, n int64) {
				out = append(out, httpapi.Sample{Labels: []string{"api", kmsg.NameForKey(key), "error", kafkaErrorName(code)}, Value: float64(n)})
			})
			return out
		})
	return nil
}

// kafkaErrorName is the protocol's name of an error code
// (UNKNOWN_TOPIC_OR_PARTITION ...), or the number for a code franz-go
// does not know.
func kafkaErrorName(code int16) string {
	if e, ok := kerr.ErrorForCode(code).(*kerr.Error); ok && e.Code == code {
		return e.Message
	}
	return strconv.Itoa(int(code))
}

// remotingLatencyMetrics registers the RocketMQ listener's end-to-end,
// hold-time and failure metrics.
func remotingLatencyMetrics(mon *httpapi.Server, b *remotingapi.Broker) error {
	e2e, err := mon.Histogram(e2eName, e2eHelp, "protocol")
	if err != nil {
		return err
	}
	hold, err := mon.Histogram(holdName, holdHelp, "protocol", "reason")
	if err != nil {
		return err
	}
	b.SetEndToEnd(e2e.WithLabelValues("rocketmq"))
	b.SetHoldTime(func(reason string) remotingapi.Observer { return hold.WithLabelValues("rocketmq", reason) })
	mon.Metric("twinmq_remoting_request_failures_total",
		"RocketMQ requests answered with a failing response code, by request code and response code (PULL_NOT_FOUND and PULL_RETRY_IMMEDIATELY are a pull's ordinary answers, not counted; oneway requests get no answer and are not counted).",
		httpapi.Counter, func() []httpapi.Sample {
			var out []httpapi.Sample
			b.Failures(func(code, resp int32, n int64) {
				out = append(out, httpapi.Sample{Labels: []string{"code", strconv.Itoa(int(code)), "response_code", strconv.Itoa(int(resp))}, Value: float64(n)})
			})
			return out
		})
	return nil
}
