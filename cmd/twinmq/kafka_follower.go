package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/twinmq/twinmq/broker"
	"github.com/twinmq/twinmq/broker/httpapi"
	"github.com/twinmq/twinmq/broker/kafkaapi"
	"github.com/twinmq/twinmq/broker/topics"
	"github.com/twinmq/twinmq/netio"
	"github.com/twinmq/twinmq/storage"
)

// startKafkaFollower serves a slave's Kafka listener on cfg.KafkaAddr
// (follower fetch, KIP-392; docs/cluster.md): Fetch of its group's
// partitions from its store, everything else forwarded to its master's
// Kafka listener. It needs the cluster view (name servers) to find the
// master. The listener opens once the master's identity record has
// replicated (the node id derives from it) and is registered with the
// name servers then; stop closes it, before a promotion opens the
// master's listener on the same address.
func startKafkaFollower(ctx context.Context, cfg Config, store *storage.Store, reg *topics.Registry, repl *replication,
	lim limits, mon *httpapi.Server, logger *slog.Logger, cv *groupsView) (stop func(context.Context), err error) {
	if cv == nil {
		logger.Info("Kafka listener off: a slave without name servers cannot find its master", "kafkaAddr", cfg.KafkaAddr)
		return func(context.Context) {}, nil
	}
	ident, err := broker.ReadIdentity(ctx, store, int32(cfg.NodeID), logger)
	if err != nil {
		return nil, fmt.Errorf("kafka follower: %w", err)
	}
	fctx, cancel := context.WithCancel(ctx)
	var (
		mu  sync.Mutex
		srv *netio.Server
		wg  sync.WaitGroup
	)
	wg.Go(func() {
		var id broker.Identity
		for {
			var ok bool
			if id, ok = ident.Recorded(); ok {
				break
			}
			select {
			case <-fctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
		s, err := serveFollower(fctx, cfg, store, reg, repl, lim, mon, logger, cv, id)
		if err != nil {
			logger.Error("Kafka follower listener failed", "err", err)
			return
		}
		mu.Lock()
		srv = s
		mu.Unlock()
	})
	return func(sctx context.Context) {
		cancel()
		wg.Wait()
		mu.Lock()
		s := srv
		mu.Unlock()
		if s != nil {
			_ = s.Shutdown(sctx)
		}
		ident.Close()
	}, nil
}

// serveFollower opens the follower listener of identity id.
func serveFollower(ctx context.Context, cfg Config, store *storage.Store, reg *topics.Registry, repl *replication,
	lim limits, mon *httpapi.Server, logger *slog.Logger, cv *groupsView, id broker.Identity) (*netio.Server, error) {
	node := kafkaNode(id.NodeID, repl.memberID())
	view := cv.poller.View
	kcfg := kafkaapi.Config{NodeID: node, ClusterID: id.ClusterID, Logger: logger, DisableAutoCreate: true,
		Rack: cfg.BrokerRack, Cluster: view, ClusterRefresh: cv.poller.Refresh, DecompressBudget: lim.decompress,
		Follower: func() string {
			v := view()
			if v == nil {
				return ""
			}
			g, ok := v.Group(v.Self)
			if !ok || !g.HasNode {
				return ""
			}
			return net.JoinHostPort(g.Master.Host, strconv.Itoa(int(g.Master.Port)))
		},
		LeaderEpoch: func() int32 {
			if v := view(); v != nil {
				if g, ok := v.Group(v.Self); ok {
					return g.Epoch
				}
			}
			return 0
		},
	}
	h, err := kafkaapi.New(kcfg, store, reg)
	if err != nil {
		return nil, fmt.Errorf("kafka follower: %w", err)
	}
	srv, err := netio.New(lim.serverConfig(cfg, kafkaapi.ServerConfig(cfg.KafkaAddr, logger)), h)
	if err == nil {
		err = srv.Start(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("kafka follower: %w", portInUse(err, "kafkaAddr", cfg.KafkaAddr))
	}
	bound := srv.Addr().(*net.TCPAddr)
	host := kafkaAdvertisedHost(cfg.AdvertisedHost, bound.IP)
	h.SetAdvertised(host, int32(bound.Port))
	cv.setKafka(host, int32(bound.Port), node, id.ClusterID, nil) // registers it: masters list it
	mon.Value("twinmq_kafka_follower_fetch_requests_total", "Kafka Fetch requests this slave served as a follower (KIP-392).",
		httpapi.Counter, func() float64 {
			var n int64
			h.Requests(func(key int16, c int64) {
				if key == 1 {
					n = c
				}
			})
			return float64(n)
		})
	logger.Info("Kafka follower listening", "addr", bound.String(), "advertised", net.JoinHostPort(host, strconv.Itoa(bound.Port)),
		"nodeId", node, "rack", cfg.BrokerRack)
	return srv, nil
}
