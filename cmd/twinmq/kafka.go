package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/broker"
	"github.com/twinmq/twinmq/broker/auth"
	"github.com/twinmq/twinmq/broker/groups"
	"github.com/twinmq/twinmq/broker/httpapi"
	"github.com/twinmq/twinmq/broker/kafkaapi"
	"github.com/twinmq/twinmq/broker/log"
	"github.com/twinmq/twinmq/broker/offsets"
	"github.com/twinmq/twinmq/broker/pop"
	"github.com/twinmq/twinmq/broker/quota"
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
	traffic *topicTraffic, con *consoleHook, engine *pop.Engine, dyn *dynamicConfig) (stop func(context.Context), advertised string, err error) {
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
		MinInSyncReplicas: cfg.MinInSyncReplicas, LogLevel: cfg.levelVar, Rack: cfg.BrokerRack, Pop: engine,
		Authorizer: cfg.kafkaAuthorizer(),
	}
	// Client quotas (<dataDir>/quotas.json): DescribeClientQuotas and
	// AlterClientQuotas, and Produce and Fetch throttled by them.
	if kcfg.Quotas, err = quota.Open(cfg.DataDir); err != nil {
		stopAll()
		return nil, "", fmt.Errorf("kafka: %w", err)
	}
	kafkaEpochs(&kcfg, repl)
	kcfg.Replicas = kafkaReplicas(repl, id.NodeID)
	if cv != nil {
		kcfg.TopicsRegistered = cv.awaitRegistered
	}
	if cv != nil { // partitions numbered across the cluster's broker groups
		kcfg.Cluster, kcfg.Peers, kcfg.ClusterRefresh = cv.poller.View, cv.peers, cv.poller.Refresh
	}
	if err := kafkaSecurity(&kcfg, cfg); err != nil {
		stopAll()
		return nil, "", fmt.Errorf("kafka: %w", err)
	}
	h, err := kafkaapi.New(kcfg, store, reg)
	if err != nil {
		stopAll()
		return nil, "", fmt.Errorf("kafka: %w", err)
	}
	dl.kafka(h)
	h.SetTopicMeter(protoMeter{traffic, protoKafka})
	if dyn != nil {
		h.SetBrokerConfigUpdater(dyn) // dynconfig.go
	}
	srvs, adv, err := startKafkaListeners(ctx, cfg, h, lim, logger)
	if err != nil {
		stopAll()
		return nil, "", fmt.Errorf("kafka: %w", err)
	}
	shutdown := func(sctx context.Context) {
		for _, srv := range srvs {
			_ = srv.Shutdown(sctx)
		}
	}
	host, portStr, _ := net.SplitHostPort(adv)
	port, _ := strconv.Atoi(portStr)
	h.SetAdvertised(host, int32(port))
	cv.setKafka(host, int32(port), node, id.ClusterID, kcfg.Replicas) // registers it: the other groups list it
	if err = kafkaMetrics(mon, srvs, h); err != nil {
		shutdown(ctx)
		stopAll()
		return nil, "", fmt.Errorf("kafka: %w", err)
	}
	con.kafka(h, adv, node, id.ClusterID) // the web console's in-process Kafka requests
	logger.Info("Kafka serving", "advertised", adv, "listeners", len(srvs), "nodeId", node, "clusterId", id.ClusterID)
	return func(sctx context.Context) {
		shutdown(sctx)
		stopAll()
	}, adv, nil
}

// kafkaSecurity sets the SASL settings and the credential store
// (DataDir/scram-credentials.json) of the Kafka adapter.
func kafkaSecurity(kcfg *kafkaapi.Config, cfg Config) error {
	mechs, err := cfg.saslMechanisms()
	if err != nil {
		return err
	}
	users, err := auth.OpenUsers(cfg.DataDir)
	if err != nil {
		return err
	}
	kcfg.Users, kcfg.SASLMechanisms, kcfg.ReauthMs = users, mechs, cfg.ConnectionsMaxReauthMs
	return nil
}

// startKafkaListeners starts one netio server per Kafka listener (TLS
// ones over crypto/tls) and returns them with the address registered with
// the name servers for the other broker groups: the first PLAINTEXT
// listener's, else the first listener's.
func startKafkaListeners(ctx context.Context, cfg Config, h *kafkaapi.Handler, lim limits, logger *slog.Logger) ([]*netio.Server, string, error) {
	specs, err := cfg.kafkaListeners()
	if err != nil {
		return nil, "", err
	}
	var tlsCfg *tls.Config
	var srvs []*netio.Server
	fail := func(err error) ([]*netio.Server, string, error) {
		for _, s := range srvs {
			_ = s.Shutdown(ctx)
		}
		return nil, "", err
	}
	primary, first := "", ""
	for _, spec := range specs {
		ncfg := lim.serverConfig(cfg, kafkaapi.ServerConfig(spec.addr, logger.With("listener", spec.name)))
		if spec.proto.TLS() {
			if tlsCfg == nil {
				if tlsCfg, err = cfg.serverTLS(); err != nil {
					return fail(err)
				}
			}
			ncfg.TLS = tlsCfg
		}
		l := h.Listener(spec.name, spec.proto)
		srv, err := netio.New(ncfg, l)
		if err == nil {
			err = srv.Start(ctx)
		}
		if err != nil {
			key := "listeners"
			if cfg.Listeners == "" {
				key = "kafkaAddr"
			}
			return fail(portInUse(err, key, spec.addr))
		}
		srvs = append(srvs, srv)
		bound := srv.Addr().(*net.TCPAddr)
		adv := spec.advertise
		if adv == "" {
			adv = net.JoinHostPort(kafkaAdvertisedHost(cfg.AdvertisedHost, bound.IP), strconv.Itoa(bound.Port))
		}
		host, port, _ := net.SplitHostPort(adv)
		p, _ := strconv.Atoi(port)
		l.SetAdvertised(host, int32(p))
		if primary == "" && spec.proto == kafkaapi.Plaintext {
			primary = adv
		}
		if first == "" {
			first = adv
		}
		logger.Info("Kafka listening", "addr", bound.String(), "advertised", adv, "listener", spec.name, "protocol", spec.proto)
	}
	if primary == "" {
		primary = first
	}
	return srvs, primary, nil
}

// kafkaMetrics registers the Kafka listener's metrics with mon.
func kafkaMetrics(mon *httpapi.Server, srvs []*netio.Server, h *kafkaapi.Handler) error {
	lat, err := mon.Histogram("twinmq_kafka_request_duration_seconds",
		"Kafka requests from the frame reaching the handler to the response written, by API.", "api")
	if err != nil {
		return err
	}
	h.SetLatency(func(key int16) kafkaapi.Observer { return lat.WithLabelValues(kmsg.NameForKey(key)) })
	mon.Value("twinmq_kafka_connections", "Open Kafka connections.", httpapi.Gauge, func() float64 {
		n := 0
		for _, srv := range srvs {
			n += srv.Conns()
		}
		return float64(n)
	})
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
