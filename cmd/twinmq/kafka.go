package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/broker"
	"github.com/twinmq/twinmq/broker/groups"
	"github.com/twinmq/twinmq/broker/httpapi"
	"github.com/twinmq/twinmq/broker/kafkaapi"
	"github.com/twinmq/twinmq/broker/log"
	"github.com/twinmq/twinmq/broker/offsets"
	"github.com/twinmq/twinmq/broker/topics"
	"github.com/twinmq/twinmq/broker/txn"
	"github.com/twinmq/twinmq/netio"
	"github.com/twinmq/twinmq/storage"
)

// startKafka serves the Kafka protocol on cfg.KafkaAddr over store and
// reg, with the consumer-group coordinator over offs; ":0" picks a free
// port, which is logged and advertised. stop ends the listener, draining
// requests in flight, then the coordinator.
func startKafka(ctx context.Context, cfg Config, store *storage.Store, reg *topics.Registry,
	offs *offsets.Table, repl *replication, dl *delaySetup, lim limits, mon *httpapi.Server, logger *slog.Logger, cv *groupsView, txIndex *log.Txns,
	traffic *topicTraffic, dyn *dynamicConfig) (stop func(context.Context), advertised string, err error) {
	id, stopID, err := broker.LoadIdentity(ctx, store, int32(cfg.NodeID), logger)
	if err != nil {
		return nil, "", fmt.Errorf("kafka: %w", err)
	}
	// groups reads 0 as "Kafka's default" and a negative delay as none.
	delay := time.Duration(cfg.GroupInitialRebalanceDelayMs) * time.Millisecond
	if delay == 0 {
		delay = -1
	}
	coord, err := groups.Open(ctx, store, offs, groups.CoordinatorConfig{InitialRebalanceDelay: delay, Logger: logger})
	if err != nil {
		stopID()
		return nil, "", fmt.Errorf("kafka: %w", err)
	}
	txns, err := txn.Open(ctx, store, txn.Config{MaxTimeout: time.Duration(cfg.TransactionMaxTimeoutMs) * time.Millisecond, Logger: logger})
	if err != nil {
		coord.Close()
		stopID()
		return nil, "", fmt.Errorf("kafka: %w", err)
	}
	// Per-topic retention.ms and retention.bytes move queue starts.
	sizes := topics.NewSizes(store, reg)
	rctx, stopRetention := context.WithCancel(ctx)
	retained := make(chan struct{})
	go func() {
		defer close(retained)
		topics.NewRetention(store, reg, sizes, topics.RetentionConfig{Logger: logger}).Run(rctx)
	}()
	stopAll := func() {
		stopRetention()
		<-retained
		sizes.Close()
		txns.Close()
		coord.Close()
		stopID()
	}
	// Each member of a broker group has its own Kafka node id
	// (kafkaNodeStride); a group without slaves keeps its identity's.
	node := kafkaNode(id.NodeID, repl.memberID())
	kcfg := kafkaapi.Config{
		NodeID: node, ClusterID: id.ClusterID, Logger: logger, Groups: coord, Transactions: txns, Txns: txIndex, Sizes: sizes,
		DisableAutoCreate: !cfg.AutoCreateTopicsEnable, DefaultPartitions: int32(cfg.NumPartitions),
		Logs: replLogs(repl), GroupSize: replGroupSize(repl), DecompressBudget: lim.decompress,
		MinInSyncReplicas: cfg.MinInSyncReplicas, LogLevel: cfg.levelVar,
	}
	kafkaEpochs(&kcfg, repl)
	kcfg.Replicas = kafkaReplicas(repl, id.NodeID)
	if cv != nil {
		kcfg.TopicsRegistered = cv.awaitRegistered
	}
	if cv != nil { // partitions numbered across the cluster's broker groups
		kcfg.Cluster, kcfg.Peers, kcfg.ClusterRefresh = cv.poller.View, cv.peers, cv.poller.Refresh
	}
	h, err := kafkaapi.New(kcfg, store, reg)
	if err == nil {
		dl.kafka(h)
		h.SetTopicMeter(protoMeter{traffic, protoKafka})
		if dyn != nil {
			h.SetBrokerConfigUpdater(dyn) // dynconfig.go
		}
		var srv *netio.Server
		srv, err = netio.New(lim.serverConfig(cfg, kafkaapi.ServerConfig(cfg.KafkaAddr, logger)), h)
		if err == nil {
			err = srv.Start(ctx)
		}
		if err == nil {
			bound := srv.Addr().(*net.TCPAddr)
			host := kafkaAdvertisedHost(cfg.AdvertisedHost, bound.IP)
			h.SetAdvertised(host, int32(bound.Port))
			cv.setKafka(host, int32(bound.Port), node, id.ClusterID, kcfg.Replicas) // registers it: the other groups list it
			if err = kafkaMetrics(mon, srv, h); err != nil {
				_ = srv.Shutdown(ctx)
				stopAll()
				return nil, "", fmt.Errorf("kafka: %w", err)
			}
			adv := net.JoinHostPort(host, fmt.Sprint(bound.Port))
			logger.Info("Kafka listening", "addr", bound.String(), "advertised", adv,
				"nodeId", node, "clusterId", id.ClusterID)
			return func(sctx context.Context) {
				_ = srv.Shutdown(sctx)
				stopAll()
			}, adv, nil
		}
	}
	stopAll()
	return nil, "", fmt.Errorf("kafka: %w", portInUse(err, "kafkaAddr", cfg.KafkaAddr))
}

// kafkaMetrics registers the Kafka listener's metrics with mon.
func kafkaMetrics(mon *httpapi.Server, srv *netio.Server, h *kafkaapi.Handler) error {
	lat, err := mon.Histogram("twinmq_kafka_request_duration_seconds",
		"Kafka requests from the frame reaching the handler to the response written, by API.", "api")
	if err != nil {
		return err
	}
	h.SetLatency(func(key int16) kafkaapi.Observer { return lat.WithLabelValues(kmsg.NameForKey(key)) })
	mon.Value("twinmq_kafka_connections", "Open Kafka connections.", httpapi.Gauge, func() float64 { return float64(srv.Conns()) })
	mon.Metric("twinmq_kafka_requests_total", "Kafka requests served, by API.", httpapi.Counter, func() []httpapi.Sample {
		var out []httpapi.Sample
		h.Requests(func(key int16, n int64) {
			out = append(out, httpapi.Sample{Labels: []string{"api", kmsg.NameForKey(key)}, Value: float64(n)})
		})
		return out
	})
	mon.Value("twinmq_kafka_produce_inline_total", "Kafka Produce requests answered on the event loop (also counted in twinmq_kafka_requests_total).",
		httpapi.Counter, func() float64 { return float64(h.ProducesInline()) })
	xprotoCacheMetrics(mon, "kafka", "Kafka fetches of RocketMQ-produced messages", h.XProtoCacheStats)
	return kafkaLatencyMetrics(mon, h) // latency.go
}

// xprotoCacheMetrics registers the metrics of an adapter's cross-protocol
// cache (broker/log.Cache, one shape for both directions) under
// twinmq_<adapter>_xproto_cache_*.
func xprotoCacheMetrics(mon *httpapi.Server, adapter, readers string, stats func() log.CacheStats) {
	value := func(name, help string, kind httpapi.Kind, pick func(log.CacheStats) int64) {
		mon.Value("twinmq_"+adapter+"_xproto_cache_"+name, help+" ("+readers+").", kind,
			func() float64 { return float64(pick(stats())) })
	}
	value("bytes", "Bytes of conversions cached", httpapi.Gauge, func(s log.CacheStats) int64 { return s.Bytes })
	value("items", "Conversions cached", httpapi.Gauge, func(s log.CacheStats) int64 { return s.Items })
	value("hit_records_total", "Records served from the cache", httpapi.Counter, func(s log.CacheStats) int64 { return s.Hits })
	value("miss_records_total", "Records the readers converted themselves", httpapi.Counter, func(s log.CacheStats) int64 { return s.Misses })
	value("converts_total", "Conversions made into the cache", httpapi.Counter, func(s log.CacheStats) int64 { return s.Converts })
	value("waits_total", "Reads that waited for another's conversion", httpapi.Counter, func(s log.CacheStats) int64 { return s.Waits })
}

// kafkaAdvertisedHost is what Metadata tells clients: --advertised-host,
// else the bound IP, else (a wildcard bind) the first non-loopback IPv4
// address, else 127.0.0.1. Kafka clients accept host names as they are.
func kafkaAdvertisedHost(advertised string, bound net.IP) string {
	if advertised != "" {
		return advertised
	}
	if bound != nil && !bound.IsUnspecified() {
		return bound.String()
	}
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP.String()
		}
	}
	return "127.0.0.1"
}
