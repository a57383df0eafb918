package main

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/twinmq/twinmq/broker/auth"

	"golang.org/x/sys/unix"

	"github.com/twinmq/twinmq/broker/httpapi"
	"github.com/twinmq/twinmq/broker/log"
	"github.com/twinmq/twinmq/broker/offsets"
	"github.com/twinmq/twinmq/broker/remotingapi"
	"github.com/twinmq/twinmq/broker/subgroups"
	"github.com/twinmq/twinmq/broker/topics"
	"github.com/twinmq/twinmq/nameserver"
	"github.com/twinmq/twinmq/netio"
	"github.com/twinmq/twinmq/storage"
	"github.com/twinmq/twinmq/wire/remoting"
)

// startNamesrv runs a name server on addr, its metrics registered with
// mon if not nil, its KV config kept in dir (in memory if ""); it returns
// the address brokers on this host reach it at and its stop function.
func startNamesrv(ctx context.Context, addr, secret, dir string, rt rocketmqTLS, accs *auth.Accounts, mon *httpapi.Server,
	logger *slog.Logger) (string, func(context.Context) error, error) {
	warnOpenRegistration(logger, secret)
	ns := nameserver.New(nameserver.Config{Logger: logger, RegistrationSecret: secret, TLS: rt.server, TLSOptional: rt.optional,
		Accounts: accs})
	if dir != "" {
		if err := ns.LoadKVConfig(dir); err != nil {
			return "", nil, err
		}
	}
	srv, stop, err := nameserver.Listen(ctx, addr, ns)
	if err != nil {
		return "", nil, portInUse(err, "namesrvListen", addr)
	}
	if mon != nil {
		mon.Value("twinmq_namesrv_brokers", "Brokers registered with the name server.", httpapi.Gauge,
			func() float64 { return float64(len(ns.Table().Brokers())) })
		mon.Value("twinmq_namesrv_topics", "Topics in the name server's route table.", httpapi.Gauge,
			func() float64 { return float64(len(ns.Table().Topics())) })
		mon.Value("twinmq_namesrv_connections", "Open connections to the name server.", httpapi.Gauge,
			func() float64 { return float64(srv.Conns()) })
	}
	bound := srv.Addr().(*net.TCPAddr)
	host := bound.IP.String()
	if bound.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	local := net.JoinHostPort(host, strconv.Itoa(bound.Port))
	logger.Info("name server listening", "addr", srv.Addr().String())
	return local, stop, nil
}

// warnOpenRegistration tells the operator of a name server without a
// registration secret what that means.
func warnOpenRegistration(logger *slog.Logger, secret string) {
	if secret == "" {
		logger.Warn("name server: no registrationSecret: anyone who reaches it can register a broker (docs/security.md)")
	}
}

// startRemoting runs the RocketMQ broker on cfg.RemotingAddr, registering
// with namesrvAddrs; stop ends it.
func startRemoting(ctx context.Context, cfg Config, store *storage.Store, reg *topics.Registry, offs *offsets.Table,
	repl *replication, namesrvAddrs []string, dl *delaySetup, lim limits, mon *httpapi.Server, logger *slog.Logger, cv *groupsView, txns *log.Txns,
	traffic *topicTraffic, con *consoleHook, subs *subgroups.Table, dyn *dynamicConfig) (func(context.Context), string, error) {
	addr, err := fixPort(cfg.RemotingAddr)
	if err != nil {
		return nil, "", fmt.Errorf("remoting: %w", portInUse(err, "remotingAddr", cfg.RemotingAddr))
	}
	rt, err := cfg.rocketmqTLS()
	if err != nil {
		return nil, "", fmt.Errorf("remoting: %w", err)
	}
	adv, err := advertisedAddr(cfg.AdvertisedHost, addr)
	if err != nil {
		return nil, "", fmt.Errorf("remoting: %w", err)
	}
	rcfg := remotingapi.Config{AdvertisedAddr: adv, NamesrvAddrs: namesrvAddrs, RegistrationSecret: cfg.RegistrationSecret, Logger: logger,
		NamesrvTLS:  rt.client,
		ClusterName: cfg.BrokerClusterName, BrokerName: cfg.BrokerName, BrokerID: cfg.BrokerID,
		BrokerRole: cfg.BrokerRole, RuntimeInfo: runtimeInfo(repl), Txns: txns,
		SlaveReadEnable: cfg.SlaveReadEnable, SlowPullBytes: memoryShare(cfg.AccessMessageInMemoryMaxRatio)}
	if cv != nil {
		rcfg.KafkaEndpoint, rcfg.KafkaReplicas, rcfg.KafkaRack = cv.endpoint, cv.replicas, cfg.BrokerRack
	}
	rcfg.Accounts, rcfg.Authorizer = cfg.rocketMQACL() // authz.go
	if repl != nil {
		if rcfg.HAAddr, err = advertisedAddr(cfg.AdvertisedHost, cfg.HAAddr); err != nil {
			return nil, "", fmt.Errorf("remoting: haAddr: %w", err)
		}
		rcfg.Logs, rcfg.OnMaster, rcfg.MasterEpoch = repl.logs, repl.onMaster, repl.masterEpoch.Load
	}
	b, err := remotingapi.New(rcfg, store, reg, offs)
	if err != nil {
		return nil, "", err
	}
	stopTxn := func() {}
	if repl == nil || !repl.isSlave() {
		// A slave re-stores nothing: no send-back, no delay, no
		// transactions (transactions.go).
		dl.remoting(b)
		if stopTxn, err = startTransactions(ctx, cfg, b, store, logger); err != nil {
			return nil, "", err
		}
	}
	if repl != nil {
		repl.remoting = b // a promotion registers it as master
	}
	if cv != nil {
		cv.reregister.Store(&b) // registers the Kafka listener once it runs
	}
	srv, err := netio.New(lim.serverConfig(cfg, netio.Config{Addr: addr, Framer: netio.LengthPrefixed{Max: remoting.MaxFrameSize - 4},
		Ordering: netio.Concurrent, Logger: logger, TLS: rt.server, TLSOptional: rt.optional}), b)
	if err != nil {
		stopTxn()
		return nil, "", fmt.Errorf("remoting: %w", err)
	}
	if err := srv.Start(ctx); err != nil {
		stopTxn()
		return nil, "", fmt.Errorf("remoting: %w", portInUse(err, "remotingAddr", addr))
	}
	lat, err := mon.Histogram("twinmq_remoting_request_duration_seconds",
		"RocketMQ remoting requests answered at once, from the frame reaching the broker to the response encoded, by request code and response code.",
		"code", "response_code")
	if err != nil {
		stopTxn()
		_ = srv.Shutdown(ctx)
		return nil, "", fmt.Errorf("remoting: %w", err)
	}
	b.SetTopicMeter(protoMeter{traffic, protoRocketMQ})
	b.SetRetryMeter(retryMeter{traffic})
	b.SetStats(traffic.stats)
	if dyn != nil {
		b.SetConfigUpdater(rocketmqUpdater{dyn}) // dynconfig.go
	}
	if subs != nil {
		b.SetSubscriptionGroups(subs)
	}
	b.SetLatency(func(code, resp int32) remotingapi.Observer {
		return lat.WithLabelValues(strconv.Itoa(int(code)), strconv.Itoa(int(resp)))
	})
	if err := remotingLatencyMetrics(mon, b); err != nil { // latency.go
		stopTxn()
		_ = srv.Shutdown(ctx)
		return nil, "", fmt.Errorf("remoting: %w", err)
	}
	b.Start()
	mon.Value("twinmq_remoting_connections", "Open RocketMQ remoting connections.", httpapi.Gauge,
		func() float64 { return float64(srv.Conns()) })
	mon.Metric("twinmq_remoting_requests_total", "RocketMQ remoting requests received, by request code (-1: codes not served).",
		httpapi.Counter, func() []httpapi.Sample {
			var out []httpapi.Sample
			b.Requests(func(code int32, n int64) {
				out = append(out, httpapi.Sample{Labels: []string{"code", strconv.Itoa(int(code))}, Value: float64(n)})
			})
			return out
		})
	mon.Value("twinmq_rocketmq_transactions_pending", "RocketMQ half messages neither committed, rolled back nor given up.",
		httpapi.Gauge, func() float64 { return float64(b.TransactionsPending()) })
	xprotoCacheMetrics(mon, "remoting", "RocketMQ pulls of Kafka-produced batches", b.XProtoCacheStats)
	con.remoting(b, adv)
	logger.Info("RocketMQ remoting listening", "addr", srv.Addr().String(), "advertised", adv, "namesrvAddr", namesrvAddrs)
	return func(sctx context.Context) {
		// The listener first: requests already read finish under the
		// broker's live context (a client's last UPDATE_CONSUMER_OFFSET,
		// sent oneway as it shuts down, used to fail with the context
		// Close cancels). Parked pulls hold no request; Close answers them.
		_ = srv.Shutdown(sctx)
		b.Close(sctx)
		stopTxn()
	}, adv, nil
}

// fixPort replaces port 0 by a free port now: the broker advertises its
// port in every stored message, so it must know it before listening.
func fixPort(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port != "0" {
		return addr, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return net.JoinHostPort(host, strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)), nil
}

// advertisedAddr is the ip:port clients use: the advertised host (resolved
// to an IP: it goes into offsetMsgIds), else the listen host, else the
// first non-loopback IPv4 address, else 127.0.0.1.
func advertisedAddr(advertisedHost, listen string) (string, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", err
	}
	if advertisedHost != "" {
		host = advertisedHost
	}
	if host != "" && host != "0.0.0.0" && host != "::" {
		if ip, err := netip.ParseAddr(host); err == nil {
			return net.JoinHostPort(ip.String(), port), nil
		}
		ips, err := net.LookupIP(host)
		if err != nil || len(ips) == 0 {
			return "", fmt.Errorf("advertised host %q: %v", host, err)
		}
		return net.JoinHostPort(ips[0].String(), port), nil
	}
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return net.JoinHostPort(n.IP.String(), port), nil
		}
	}
	return net.JoinHostPort("127.0.0.1", port), nil
}

// openBrokerState opens the topic registry and the offset table.
func openBrokerState(ctx context.Context, store *storage.Store, follow bool, logger *slog.Logger) (*topics.Registry, *offsets.Table, error) {
	reg, err := topics.OpenWith(ctx, store, topics.Options{Logger: logger, Follow: follow})
	if err != nil {
		return nil, nil, err
	}
	offs, err := offsets.OpenWith(ctx, store, offsets.Options{Logger: logger, Follow: follow})
	if err != nil {
		reg.Close()
		return nil, nil, err
	}
	return reg, offs, nil
}

// remotingStopTimeout bounds the shutdown of the name server and the
// RocketMQ broker (unregistering, draining requests in flight).
const remotingStopTimeout = 10 * time.Second

// memoryShare is percent of the machine's physical memory, in bytes
// (RocketMQ's StoreUtil.TOTAL_PHYSICAL_MEMORY_SIZE share).
func memoryShare(percent int) int64 {
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err != nil {
		return math.MaxInt64 // unknown: never "too far behind"
	}
	return int64(si.Totalram) * int64(si.Unit) / 100 * int64(percent)
}
