package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/twinmq/twinmq/broker/auth"

	"github.com/twinmq/twinmq/broker/httpapi"
	"github.com/twinmq/twinmq/broker/kafkaapi"
	"github.com/twinmq/twinmq/broker/log"
	"github.com/twinmq/twinmq/broker/offsets"
	"github.com/twinmq/twinmq/broker/pop"
	"github.com/twinmq/twinmq/broker/subgroups"
	"github.com/twinmq/twinmq/broker/topics"
	"github.com/twinmq/twinmq/controller"
	"github.com/twinmq/twinmq/netio"
	"github.com/twinmq/twinmq/storage"
)

// run is `twinmq serve`: one broker and the name server it registers
// with, until ctx is done.
func run(ctx context.Context, cfg Config, logger *slog.Logger) error {
	return serveBroker(ctx, cfg, "serve", false, logger, func(mon *httpapi.Server) ([]string, func(context.Context), error) {
		rt, err := cfg.rocketmqTLS()
		if err != nil {
			return nil, nil, err
		}
		accs, err := namesrvAccounts(cfg) // authz.go
		if err != nil {
			return nil, nil, err
		}
		addr, stop, err := startNamesrv(ctx, cfg.NamesrvListen, cfg.RegistrationSecret, cfg.namesrvDir(), rt, accs, mon, logger)
		if err != nil {
			return nil, nil, err
		}
		return []string{addr}, func(sctx context.Context) { _ = stop(sctx) }, nil
	})
}

// serveBroker runs one broker, both protocols and its HTTP listener, until
// ctx is done; cmd names the command in errors. namesrv gives the name
// servers to register with, having started any it runs itself (stop, if
// not nil, ends those after the broker's listeners). With replicate the
// broker takes its part in its broker group (cluster.go): a master's HA
// listener, a slave's stream.
func serveBroker(ctx context.Context, cfg Config, cmd string, replicate bool, logger *slog.Logger,
	namesrv func(*httpapi.Server) (addrs []string, stop func(context.Context), err error)) error {
	var ctl *controlled
	var info controller.ReplicaInfo
	if replicate && cfg.EnableControllerMode {
		// The controller says who this broker is before anything opens.
		var err error
		if cfg, ctl, info, err = joinController(ctx, cfg, logger); err != nil {
			return stoppedEarly(ctx, fmt.Errorf("%s: %w", cmd, err), logger)
		}
	}
	b, err := openBroker(ctx, cfg, logger)
	if err != nil {
		return stoppedEarly(ctx, fmt.Errorf("%s: %w", cmd, err), logger)
	}
	b.ctl = ctl
	if cfg.authz, cfg.accounts, err = openAuthz(cfg, logger); err != nil { // authz.go
		_ = b.close()
		return stoppedEarly(ctx, fmt.Errorf("%s: %w", cmd, err), logger)
	}
	mon, err := listenHTTP(cfg, logger)
	if err != nil {
		_ = b.close()
		return fmt.Errorf("%s: %w", cmd, err)
	}
	if err := brokerMetrics(mon, b); err != nil {
		_ = mon.Shutdown(context.Background())
		_ = b.close()
		return fmt.Errorf("%s: %w", cmd, err)
	}
	if replicate {
		if b.repl, err = startReplication(ctx, cfg, b.store, mon, logger, ctl, info); err != nil {
			_ = mon.Shutdown(context.Background())
			_ = b.close()
			return stoppedEarly(ctx, fmt.Errorf("%s: %w", cmd, err), logger)
		}
	}
	if b.console, err = startConsole(cfg, b, mon, logger); err != nil {
		_ = mon.Shutdown(context.Background())
		_ = b.close()
		return fmt.Errorf("%s: %w", cmd, err)
	}
	addrs, stopNamesrv, err := namesrv(mon)
	if err != nil {
		_ = mon.Shutdown(context.Background())
		_ = b.close()
		return stoppedEarly(ctx, fmt.Errorf("%s: %w", cmd, err), logger)
	}
	err = b.serve(ctx, cfg, addrs, mon, logger, stopNamesrv)
	if cerr := b.close(); err == nil {
		err = cerr
	} else {
		err = stoppedEarly(ctx, err, logger)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	logger.Info("stopped")
	return nil
}

// stoppedEarly is err, or nil when err is the cancellation of ctx: a
// stop (SIGINT, SIGTERM) requested during start-up is a clean stop.
func stoppedEarly(ctx context.Context, err error, logger *slog.Logger) error {
	if err != nil && ctx.Err() != nil && errors.Is(err, context.Canceled) {
		logger.Info("stopped during start-up", "cause", context.Cause(ctx))
		return nil
	}
	return err
}

// runNamesrv is `twinmq namesrv`: a name server until ctx is done.
func runNamesrv(ctx context.Context, cfg Config, logger *slog.Logger) error {
	var stop func(context.Context) error
	var err error
	if cfg.EnableControllerInNamesrv {
		_, stop, err = startNamesrvController(ctx, cfg, logger)
	} else {
		var rt rocketmqTLS
		var accs *auth.Accounts
		if rt, err = cfg.rocketmqTLS(); err == nil {
			accs, err = namesrvAccounts(cfg) // authz.go
		}
		if err == nil {
			_, stop, err = startNamesrv(ctx, cfg.NamesrvListen, cfg.RegistrationSecret, cfg.namesrvDir(), rt, accs, nil, logger)
		}
	}
	if err != nil {
		return stoppedEarly(ctx, fmt.Errorf("namesrv: %w", err), logger)
	}
	<-ctx.Done()
	logger.Info("stopping", "cause", context.Cause(ctx))
	sctx, cancel := context.WithTimeout(context.Background(), remotingStopTimeout)
	defer cancel()
	return stop(sctx)
}

// runBroker is `twinmq broker`: one broker, both protocols, that
// registers with every name server of namesrvAddr, until ctx is done.
func runBroker(ctx context.Context, cfg Config, logger *slog.Logger) error {
	addrs, err := cfg.namesrvAddrs()
	if err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	return serveBroker(ctx, cfg, "broker", true, logger, func(*httpapi.Server) ([]string, func(context.Context), error) {
		return addrs, nil, nil
	})
}

// brokerState is what a broker keeps across its listeners: the store and
// the state kept in it.
type brokerState struct {
	dir   string
	store *storage.Store
	reg   *topics.Registry
	offs  *offsets.Table
	repl  *replication // nil for `twinmq serve`
	ctl   *controlled  // controller mode only
	// txIndex is the Kafka transaction index both adapters read (Kafka
	// read_committed fetches, RocketMQ pulls of Kafka-written queues).
	txIndex *log.Txns
	// traffic counts messages and bytes per topic (traffic.go).
	traffic *topicTraffic
	// console is the web console (console.go); nil when off.
	console *consoleHook
	// subs are the RocketMQ subscription-group configs.
	subs *subgroups.Table
	// dyn are the settings that can change at run time (dynconfig.go).
	dyn *dynamicConfig
}

// txnIndexScan bounds how far back a partition's log is read to rebuild
// its transaction index after a start (kafkaapi's ProducerScanRecords).
const txnIndexScan = 100_000

// pullTxns is the transaction index RocketMQ pulls read through: none on
// a slave, whose CommitLog arrives from the master without the appends
// that keep the index current (docs/transactions-kafka.md, "Cluster").
func (b *brokerState) pullTxns() *log.Txns {
	if b.repl != nil && b.repl.isSlave() {
		return nil
	}
	return b.txIndex
}

// openBroker opens the store and the broker state in it.
func openBroker(ctx context.Context, cfg Config, logger *slog.Logger) (*brokerState, error) {
	store, err := storage.Open(ctx, cfg.storageConfig(logger))
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", cfg.storeDir(), err)
	}
	logger.Info("store open",
		"dir", cfg.storeDir(),
		"flushDiskType", cfg.FlushDiskType,
		"flushIntervalMs", cfg.FlushIntervalMs,
		"segmentSize", cfg.SegmentSize)
	follow := cfg.BrokerRole == roleSlave
	if follow {
		// A slave's CommitLog is its master's: nothing local is written,
		// and the broker state follows what the stream brings.
		store.SetReplica(true)
	}
	reg, offs, err := openBrokerState(ctx, store, follow, logger)
	if err != nil {
		_ = store.Close()
		return nil, err
	}
	subs, err := subgroups.Open(ctx, store, follow, logger)
	if err == nil {
		var dyn *dynamicConfig
		if dyn, err = openDynamicConfig(cfg.DataDir, cfg, store, logLevelOf(logger), logger); err == nil {
			return &brokerState{dir: cfg.storeDir(), store: store, reg: reg, offs: offs, subs: subs, dyn: dyn,
				txIndex: log.NewTxns(store, txnIndexScan, kafkaapi.LoadTxnBatch), traffic: newTopicTraffic(reg, cfg.BrokerClusterName)}, nil
		}
		subs.Close()
	}
	offs.Close()
	reg.Close()
	_ = store.Close()
	return nil, err
}

// serve runs the RocketMQ broker (registered with nsAddrs), the Kafka
// listener and the delay services over b until ctx is done, then stops
// them; mon (listening, with b's metrics) turns ready once they run, and
// is shut down first at the stop, or when one of them fails to start. It
// calls stopped (if not nil) once, after the listeners stopped (with
// their shutdown deadline) or failed to start.
func (b *brokerState) serve(ctx context.Context, cfg Config, nsAddrs []string, mon *httpapi.Server, logger *slog.Logger, stopped func(context.Context)) error {
	failed := func() {
		_ = mon.Shutdown(context.Background())
		if stopped != nil {
			stopped(context.Background())
		}
	}
	dl := newDelaySetup(cfg)
	dl.metrics(mon)                // delay.go
	underReplicatedMetrics(mon, b) // cluster.go
	go b.traffic.stats.Run(ctx)    // VIEW_BROKER_STATS_DATA's samples (broker/stats)
	lim := limits{net: cfg.netLimits(), decompress: netio.NewBudget(cfg.QueuedMaxDecompressBytes)}
	go returnMemory(ctx, logger, lim.net.Budget, lim.decompress)
	mon.Value("twinmq_queued_request_bytes", "Request bytes held in memory, bounded by queuedMaxRequestBytes.",
		httpapi.Gauge, func() float64 { return float64(lim.net.Budget.Used()) })
	mon.Value("twinmq_queued_decompress_bytes", "Decompression output in flight, bounded by queuedMaxDecompressBytes.",
		httpapi.Gauge, func() float64 { return float64(lim.decompress.Used()) })
	cv := startGroupsView(ctx, cfg, nsAddrs, logger)
	defer cv.stop()
	b.console.cluster(cv)
	if cv != nil { // a topic created or deleted here: read the view again
		defer b.reg.Watch(func(topics.Config, bool) { cv.poller.Kick() })()
	}
	stopRemoting, storeHost, err := startRemoting(ctx, cfg, b.store, b.reg, b.offs, b.repl, nsAddrs, dl, lim, mon, logger, cv, b.pullTxns(), b.traffic, b.console, b.subs, b.dyn)
	if err != nil {
		failed()
		return err
	}
	// The writers: Kafka (its groups and identity write) and the delay
	// services. A slave serves RocketMQ pulls and Kafka follower fetches
	// (KIP-392: kafka_follower.go); a promoted slave closes its follower
	// listener and starts the writers then.
	var wmu sync.Mutex
	stopKafka, kafkaAdv := func(context.Context) {}, "(a follower on a slave)"
	stopFollower := func(context.Context) {}
	startWriters := func() error {
		wmu.Lock()
		stopF := stopFollower
		stopFollower = func(context.Context) {}
		wmu.Unlock()
		fctx, cancel := context.WithTimeout(context.Background(), remotingStopTimeout)
		stopF(fctx) // the master's listener takes the same address
		cancel()
		// One POP engine under the RocketMQ 5 gRPC consumers and the
		// Kafka share groups: a group of one name shares one POP state.
		engine, err := pop.Open(ctx, b.store, pop.Options{Logger: logger})
		if err != nil {
			return fmt.Errorf("pop: %w", err)
		}
		stop, adv, err := startKafka(ctx, cfg, b.store, b.reg, b.offs, b.repl, dl, lim, mon, logger, cv, b.txIndex, b.traffic, b.console, engine, b.dyn)
		if err != nil {
			engine.Close()
		} else {
			stopKafkaOnly := stop
			stop = func(sctx context.Context) { stopKafkaOnly(sctx); engine.Close() }
			stop, err = withDelay(ctx, dl, b.store, logger, stop)
		}
		if err == nil {
			b.console.delay(dl.services(), dl.policy)
		}
		if err == nil {
			stop, err = withGRPC(ctx, cfg, b, storeHost, dl, mon, logger, engine, stop) // grpc.go
		}
		if err != nil {
			return err
		}
		wmu.Lock()
		stopKafka, kafkaAdv = stop, adv
		wmu.Unlock()
		return nil
	}
	if b.repl == nil || !b.repl.isSlave() {
		err = startWriters()
	} else {
		var stop func(context.Context)
		if stop, err = startKafkaFollower(ctx, cfg, b.store, b.reg, b.repl, lim, mon, logger, cv); err == nil {
			wmu.Lock()
			stopFollower = stop
			wmu.Unlock()
		}
	}
	if err != nil {
		stopRemoting(context.Background())
		failed()
		return err
	}
	ctlDone := make(chan struct{})
	if b.ctl != nil {
		promoted := func(pctx context.Context) error {
			dl.remoting(b.repl.remoting)
			// Half messages the old master left are checked from now
			// (transactions.go); stopped with the writers.
			stopTxn, err := startTransactions(ctx, cfg, b.repl.remoting, b.store, logger)
			if err != nil {
				return err
			}
			if err := startWriters(); err != nil {
				stopTxn()
				return err
			}
			wmu.Lock()
			stopW := stopKafka
			stopKafka = func(sctx context.Context) { stopW(sctx); stopTxn() }
			wmu.Unlock()
			b.repl.remoting.SetBrokerID(0) // registers as the group's master
			return nil
		}
		go func() { defer close(ctlDone); b.ctl.run(ctx, b.repl, b, promoted) }()
	} else {
		close(ctlDone)
	}
	mon.Ready(true)
	// Where clients connect, in one line.
	wmu.Lock()
	adv := kafkaAdv
	wmu.Unlock()
	where := []any{"kafkaBootstrap", adv, "rocketmqNamesrv", strings.Join(nsAddrs, ";"),
		"metrics", "http://" + mon.Addr().String() + "/metrics"}
	if b.console != nil {
		where = append(where, "console", "http://"+mon.Addr().String()+"/console/")
	}
	logger.Info("serving", where...)

	<-ctx.Done()
	logger.Info("stopping", "cause", context.Cause(ctx))
	<-ctlDone
	sctx, cancel := context.WithTimeout(context.Background(), remotingStopTimeout)
	defer cancel()
	_ = mon.Shutdown(sctx)
	wmu.Lock()
	stopWriters := stopKafka
	wmu.Unlock()
	stopWriters(sctx)
	wmu.Lock()
	stopF := stopFollower
	wmu.Unlock()
	stopF(sctx)
	stopRemoting(sctx)
	if stopped != nil {
		stopped(sctx)
	}
	return nil
}

// limits are the bounds a broker's listeners share (docs/limits.md).
type limits struct {
	net        *netio.Limits
	decompress *netio.Budget
}

// serverConfig applies the limits to a listener's configuration.
func (l limits) serverConfig(cfg Config, c netio.Config) netio.Config {
	c.Limits = l.net
	c.ReadTimeout = cfg.readTimeout()
	return c
}

// close closes the broker state and the store.
func (b *brokerState) close() error {
	if b.repl != nil {
		b.repl.stop()
	}
	b.subs.Close()
	b.offs.Close()
	b.reg.Close()
	if err := b.store.Close(); err != nil {
		return fmt.Errorf("close store %s: %w", b.dir, err)
	}
	return nil
}
