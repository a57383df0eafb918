package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"

	"github.com/spf13/pflag"

	"github.com/twinmq/twinmq/broker/grpcapi"
	"github.com/twinmq/twinmq/broker/httpapi"
	"github.com/twinmq/twinmq/broker/log"
	"github.com/twinmq/twinmq/broker/pop"
)

// defaultGRPCPort is RocketMQ 5's proxy port (docs/design.md section 1).
const defaultGRPCPort = "8081"

func addGRPCFlags(fs *pflag.FlagSet) {
	fs.String("grpc-addr", "", "RocketMQ 5 gRPC listen address (empty: the remoting address's host, port 8081, or port 0 when the remoting port is 0)")
}

// grpcListenAddr is cfg.GRPCAddr, or derived from the remoting address:
// same host, port 8081 (port 0 when the remoting port is 0, so a test
// that asks for free ports gets one here too).
func grpcListenAddr(cfg Config) (string, error) {
	if cfg.GRPCAddr != "" {
		return cfg.GRPCAddr, nil
	}
	host, port, err := net.SplitHostPort(cfg.RemotingAddr)
	if err != nil {
		return "", fmt.Errorf("remotingAddr %q: %w", cfg.RemotingAddr, err)
	}
	if port != "0" {
		port = defaultGRPCPort
	}
	return net.JoinHostPort(host, port), nil
}

// startGRPC runs the RocketMQ 5 gRPC adapter (a master's writer: its POP
// state is written to the store) on its listen address over engine, which
// the Kafka share groups share and the caller closes; storeHost is the
// remoting listener's advertised address. stop ends it.
func startGRPC(ctx context.Context, cfg Config, b *brokerState, storeHost string, dl *delaySetup, mon *httpapi.Server, logger *slog.Logger,
	engine *pop.Engine) (func(context.Context), error) {
	addr, err := grpcListenAddr(cfg)
	if err != nil {
		return nil, fmt.Errorf("grpc: %w", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("grpc: %w", portInUse(err, "grpcAddr", addr))
	}
	adv, err := advertisedAddr(cfg.AdvertisedHost, ln.Addr().String())
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("grpc: %w", err)
	}
	logs := log.New(b.store)
	if b.repl != nil {
		logs = b.repl.logs
	}
	gcfg := grpcapi.Config{Endpoint: adv, StoreHost: storeHost, BrokerName: cfg.BrokerName, ClusterName: cfg.BrokerClusterName,
		AutoCreateTopics: true, Offsets: b.offs, Logger: logger}
	if dl != nil {
		gcfg.Delay = &dl.policy
	}
	s, err := grpcapi.New(gcfg, logs, b.reg, engine)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("grpc: %w", err)
	}
	s.SetConsumeDisabled(func(group string) bool { // RocketMQ subscription-group configs (broker/subgroups)
		c, ok := b.subs.Get(group)
		return ok && !c.ConsumeEnable
	})
	if err := grpcMetrics(mon, s, b.traffic); err != nil {
		engine.Close()
		ln.Close()
		return nil, fmt.Errorf("grpc: %w", err)
	}
	g := s.GRPCServer()
	done := make(chan error, 1)
	go func() { done <- grpcapi.Serve(g, ln) }()
	logger.Info("RocketMQ 5 gRPC listening", "addr", ln.Addr().String(), "advertised", adv)
	return func(sctx context.Context) {
		s.Close() // ends long polls and Telemetry streams
		stopped := make(chan struct{})
		go func() { g.GracefulStop(); close(stopped) }()
		select {
		case <-stopped:
		case <-sctx.Done():
			g.Stop()
		}
		if err := <-done; err != nil {
			logger.Warn("grpc listener", "err", err)
		}
	}, nil
}

// withGRPC starts the gRPC adapter after the writers that stop stops,
// and returns a stop for both (the gRPC listener first); when it cannot
// start, it stops them.
func withGRPC(ctx context.Context, cfg Config, b *brokerState, storeHost string, dl *delaySetup, mon *httpapi.Server, logger *slog.Logger,
	engine *pop.Engine, stop func(context.Context)) (func(context.Context), error) {
	if cfg.ACLEnable {
		// The gRPC adapter does not check AccessKeys yet: serving it would
		// let RocketMQ 5 clients around the ACL (docs/security.md).
		logger.Warn("RocketMQ 5 gRPC listener off: it does not check the ACL (aclEnable) yet")
		return stop, nil
	}
	stopGRPC, err := startGRPC(ctx, cfg, b, storeHost, dl, mon, logger, engine)
	if err != nil {
		stop(context.Background())
		return nil, err
	}
	return func(sctx context.Context) {
		stopGRPC(sctx)
		stop(sctx)
	}, nil
}

// grpcMetrics hands the gRPC adapter its metrics: per-topic traffic
// (protocol="grpc"), retries and dead letters, the shared end-to-end
// family, and each RPC's latency. A promoted slave starts the adapter
// again: the families are the ones registered first.
func grpcMetrics(mon *httpapi.Server, s *grpcapi.Server, traffic *topicTraffic) error {
	lat, err := mon.Histogram("twinmq_grpc_request_duration_seconds",
		"RocketMQ 5 gRPC requests from arrival to answer, by RPC (a ReceiveMessage's long poll included; Telemetry streams not measured).", "rpc")
	if err != nil {
		return err
	}
	e2e, err := mon.Histogram(e2eName, e2eHelp, "protocol")
	if err != nil {
		return err
	}
	s.SetTopicMeter(protoMeter{traffic, protoGRPC})
	s.SetRetryMeter(retryMeter{traffic})
	s.SetEndToEnd(e2e.WithLabelValues("grpc"))
	s.SetLatency(func(rpc string) grpcapi.Observer { return lat.WithLabelValues(rpc) })
	return nil
}
