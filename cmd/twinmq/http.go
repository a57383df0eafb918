package main

import (
	"cmp"
	"fmt"
	"log/slog"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/twinmq/twinmq/broker/httpapi"
	"github.com/twinmq/twinmq/broker/offsets"
	"github.com/twinmq/twinmq/storage"
)

// listenHTTP serves health, readiness and metrics on cfg.HTTPAddr
// (broker/httpapi). Readiness fails until the command calls Ready(true);
// what runs registers its metrics (brokerMetrics, startNamesrv, the Kafka
// and RocketMQ listeners).
func listenHTTP(cfg Config, logger *slog.Logger) (*httpapi.Server, error) {
	mon := httpapi.New(logger, httpapi.Config{LogLevel: logLevelOf(logger), Pprof: cfg.EnablePprof})
	mon.Metric("twinmq_build_info", "1, labelled with the version and the Go version twinmq was built with.", httpapi.Gauge,
		func() []httpapi.Sample {
			return []httpapi.Sample{{Labels: []string{"version", buildVersion(), "goversion", runtime.Version()}, Value: 1}}
		})
	if err := mon.Listen(cfg.HTTPAddr); err != nil {
		return nil, fmt.Errorf("http: %w", portInUse(err, "httpAddr", cfg.HTTPAddr))
	}
	paths := "/healthz /readyz /metrics /debug/loglevel"
	if cfg.ConsoleEnable {
		paths += " /console/ /api/"
	}
	if cfg.EnablePprof {
		paths += " /debug/pprof/"
	}
	logger.Info("HTTP listening", "addr", mon.Addr().String(), "paths", paths)
	return mon, nil
}

// brokerMetrics registers the store's and the topics' metrics of b, and
// the store's readiness check.
func brokerMetrics(mon *httpapi.Server, b *brokerState) error {
	st := b.store
	if err := storeLatencyMetrics(mon, st); err != nil { // latency.go
		return err
	}
	mon.Check("store", func() error { return st.Stats().Err })
	offset := func(name, help string, at func(storage.Stats) int64) {
		mon.Value(name, help, httpapi.Gauge, func() float64 { return float64(at(st.Stats())) })
	}
	offset("twinmq_commitlog_written_offset_bytes", "CommitLog offset below which every byte is written.",
		func(s storage.Stats) int64 { return s.WrittenOffset })
	offset("twinmq_commitlog_flushed_offset_bytes", "CommitLog offset below which every byte is durable.",
		func(s storage.Stats) int64 { return s.FlushedOffset })
	offset("twinmq_commitlog_dispatched_offset_bytes", "CommitLog offset below which every entry is in its ConsumeQueue (readable).",
		func(s storage.Stats) int64 { return s.DispatchedOffset })
	mon.Value("twinmq_commitlog_flushes_total", "Flush passes: ASYNC_FLUSH intervals and SYNC_FLUSH group commits.",
		httpapi.Counter, func() float64 { return float64(st.Stats().Flushes) })
	mon.Value("twinmq_store_records_total", "Messages (Kafka records) made readable since the store opened, recovered ones included.",
		httpapi.Counter, func() float64 { return float64(st.Stats().Records) })
	mon.Value("twinmq_store_writable", "1 while the store accepts writes, 0 after a failed fsync.", httpapi.Gauge, func() float64 {
		if st.Stats().Err != nil {
			return 0
		}
		return 1
	})
	mon.Value("twinmq_store_disk_full", "1 while appends are refused for want of disk space (they resume by themselves).",
		httpapi.Gauge, func() float64 {
			if st.Stats().NoSpace {
				return 1
			}
			return 0
		})
	dataDirDisk(mon, b.dir)
	b.traffic.register(mon)
	mon.Value("twinmq_topics", "Topics, internal ones included.", httpapi.Gauge, func() float64 { return float64(len(b.reg.List())) })
	queues := func(name, help string, at func(storage.QueueInfo) int64) {
		mon.Metric(name, help, httpapi.Gauge, func() []httpapi.Sample {
			qs := allQueues(b)
			out := make([]httpapi.Sample, len(qs))
			for i, q := range qs {
				out[i] = httpapi.Sample{Labels: []string{"topic", q.Topic, "queue", strconv.Itoa(int(q.Queue))}, Value: float64(at(q))}
			}
			return out
		})
	}
	groups := func(name, help string, value func(e offsets.Entry, end int64) int64) {
		mon.Metric(name, help, httpapi.Gauge, func() []httpapi.Sample {
			var out []httpapi.Sample
			for _, e := range b.offs.List("", "") {
				end, err := st.MaxOffset(e.Topic, e.Queue)
				if err != nil {
					end = 0 // a queue that never stored a message
				}
				out = append(out, httpapi.Sample{
					Labels: []string{"group", e.Group, "topic", e.Topic, "queue", strconv.Itoa(int(e.Queue))},
					Value:  float64(value(e, end)),
				})
			}
			return out
		})
	}
	groups("twinmq_group_committed_offset", "Committed offset of a consumer group (Kafka or RocketMQ) on a queue (partition).",
		func(e offsets.Entry, _ int64) int64 { return e.Offset })
	groups("twinmq_group_lag", "Messages of a queue (partition) after a consumer group's committed offset.",
		func(e offsets.Entry, end int64) int64 { return max(end-e.Offset, 0) })
	queues("twinmq_queue_start_offset", "First offset of a queue (partition) still stored.", func(q storage.QueueInfo) int64 { return q.Min })
	queues("twinmq_queue_end_offset", "Offset the next message of a queue (partition) gets.", func(q storage.QueueInfo) int64 { return q.Max })
	return nil
}

// allQueues lists every queue of every topic, those that never stored a
// message too (at offsets 0), and the stored queues of internal topics the
// registry does not list, sorted by topic and queue.
func allQueues(b *brokerState) []storage.QueueInfo {
	stored := b.store.Queues("")
	type key struct {
		topic string
		queue int32
	}
	seen := make(map[key]bool, len(stored))
	for _, q := range stored {
		seen[key{q.Topic, q.Queue}] = true
	}
	all := stored
	for _, t := range b.reg.List() {
		for q := range t.Queues {
			if !seen[key{t.Name, q}] {
				all = append(all, storage.QueueInfo{Topic: t.Name, Queue: q})
			}
		}
	}
	slices.SortFunc(all, func(a, b storage.QueueInfo) int {
		return cmp.Or(strings.Compare(a.Topic, b.Topic), cmp.Compare(a.Queue, b.Queue))
	})
	return all
}

// dataDirDisk registers the free and used bytes of the file system that
// holds the data directory (statfs at each scrape: one syscall).
func dataDirDisk(mon *httpapi.Server, dir string) {
	stat := func(at func(st *unix.Statfs_t) uint64) func() float64 {
		return func() float64 {
			var st unix.Statfs_t
			if err := unix.Statfs(dir, &st); err != nil {
				return math.NaN()
			}
			return float64(at(&st)) * float64(st.Bsize)
		}
	}
	mon.Value("twinmq_data_dir_disk_free_bytes", "Bytes an unprivileged writer may still allocate on the data directory's file system.",
		httpapi.Gauge, stat(func(st *unix.Statfs_t) uint64 { return st.Bavail }))
	mon.Value("twinmq_data_dir_disk_used_bytes", "Bytes in use on the data directory's file system.",
		httpapi.Gauge, stat(func(st *unix.Statfs_t) uint64 { return st.Blocks - st.Bfree }))
	mon.Value("twinmq_data_dir_disk_size_bytes", "Size of the data directory's file system.",
		httpapi.Gauge, stat(func(st *unix.Statfs_t) uint64 { return st.Blocks }))
}
