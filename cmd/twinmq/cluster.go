package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/twinmq/twinmq/broker/ha"
	"github.com/twinmq/twinmq/broker/httpapi"
	"github.com/twinmq/twinmq/broker/kafkaapi"
	"github.com/twinmq/twinmq/broker/log"
	"github.com/twinmq/twinmq/broker/remotingapi"
	"github.com/twinmq/twinmq/controller"
	"github.com/twinmq/twinmq/storage"
)

// replication is a broker's part in its group (docs/cluster.md): a
// master's HA listener and the log service that waits for its slaves, or a
// slave's stream from its master; a slave can be promoted to master while
// it runs (controller mode).
type replication struct {
	cfg    Config
	store  *storage.Store
	logger *slog.Logger
	// logs is the log service the adapters append through, for the
	// broker's whole life; a master sets its Replicator.
	logs *log.Log
	// epochPath is the broker's epoch file (controller mode; "" in
	// classic mode).
	epochPath string
	// masterHA is the master's HA address a slave streams from, learned
	// from the name servers (OnMaster) or the controller.
	masterHA atomic.Pointer[string]
	// remoting is the RocketMQ adapter (set once it runs): a promotion
	// registers it as master.
	remoting *remotingapi.Broker
	// masterEpoch is the controller's masterEpoch while this broker is
	// its group's master (controller mode), else 0.
	masterEpoch atomic.Int32
	// lease, in controller mode, says whether the master may still take
	// writes (controlled.leaseValid); nil in classic mode.
	lease func() bool
	// controllerID is the id the controller assigned (controller mode).
	controllerID int64

	// mu guards role, master, slave and stopRole: a promotion changes
	// them while metrics read them.
	mu       sync.Mutex
	role     string
	master   *ha.Master
	slave    *ha.Slave
	stopRole func()
}

// currentRole is the broker's role now (ASYNC_MASTER, SYNC_MASTER or
// SLAVE).
func (r *replication) currentRole() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.role
}

// isSlave reports whether the broker is a slave now.
func (r *replication) isSlave() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.role == roleSlave
}

// startReplication sets store up for cfg's role and starts the HA side:
// a master listens on haAddr; a slave turns its store into a replica and
// streams from its master until stop.
func startReplication(ctx context.Context, cfg Config, store *storage.Store, mon *httpapi.Server, logger *slog.Logger,
	ctl *controlled, info controller.ReplicaInfo) (*replication, error) {
	r := &replication{cfg: cfg, store: store, logger: logger, logs: log.New(store)}
	r.metrics(mon)
	var err error
	if ctl != nil {
		if err := ctl.start(r, info); err != nil {
			return nil, err
		}
		if cfg.BrokerRole != roleSlave {
			return r, nil // ctl.start made it master
		}
	}
	if cfg.BrokerRole == roleSlave {
		err = r.startSlave(ctx)
	} else {
		err = r.startMaster(cfg.BrokerRole == roleSyncMaster, -1, nil)
	}
	if err != nil {
		return nil, err
	}
	return r, nil
}

// stop ends the HA side.
func (r *replication) stop() {
	r.mu.Lock()
	stop := r.stopRole
	r.stopRole = nil
	r.mu.Unlock()
	if stop != nil {
		stop()
	}
}

// startSlave makes the store a replica streaming from r's master.
func (r *replication) startSlave(ctx context.Context) error {
	r.store.SetReplica(true)
	// Readers of a slave see only what the master confirmed (the HA
	// stream's confirmed offsets): nothing a failover can take back.
	r.store.GateVisible(true)
	s, err := ha.NewSlave(ha.SlaveConfig{Cluster: r.cfg.BrokerClusterName, Broker: r.cfg.BrokerName, BrokerID: r.cfg.BrokerID,
		Store: r.store, MasterAddr: r.masterAddr, LocalAddr: localAddr(r.cfg), EpochPath: r.epochPath, Logger: r.logger})
	if err != nil {
		return err
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() { _ = s.Run(sctx) })
	r.mu.Lock()
	r.role, r.slave, r.stopRole = roleSlave, s, func() { cancel(); wg.Wait() }
	r.mu.Unlock()
	r.logger.Info("slave of broker group", "cluster", r.cfg.BrokerClusterName, "broker", r.cfg.BrokerName,
		"brokerId", r.cfg.BrokerID, "haMasterAddress", r.cfg.HAMasterAddress)
	return nil
}

// startMaster opens the HA listener and serves slaves. With syncAck the
// master acknowledges and shows records once its slaves hold them; with
// a set (controller mode) exactly the SyncStateSet's members, self being
// this broker's id.
func (r *replication) startMaster(syncAck bool, self int64, set []int64) error {
	r.store.GateVisible(syncAck)
	mcfg := ha.MasterConfig{Cluster: r.cfg.BrokerClusterName, Broker: r.cfg.BrokerName, Store: r.store,
		Sync: syncAck, MinInSyncReplicas: r.cfg.MinInSyncReplicas, InSyncReplicas: r.cfg.InSyncReplicas, Lease: r.lease, Logger: r.logger}
	if r.epochPath != "" {
		path := r.epochPath
		mcfg.Epochs = func() []ha.Epoch {
			l, err := ha.LoadEpochs(path)
			if err != nil {
				r.logger.Error("ha: epoch file", "err", err)
			}
			return l
		}
	}
	m, err := ha.NewMaster(mcfg)
	if err != nil {
		return err
	}
	if set != nil {
		m.SetSyncStateSet(self, set)
	}
	addr, err := fixPort(r.cfg.HAAddr)
	if err != nil {
		_ = m.Close()
		return fmt.Errorf("ha: %w", portInUse(err, "haAddr", r.cfg.HAAddr))
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		_ = m.Close()
		return fmt.Errorf("ha: %w", portInUse(err, "haAddr", addr))
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := m.Serve(ln); err != nil {
			r.logger.Error("ha: listener failed", "err", err)
		}
	})
	if syncAck {
		r.logs.SetReplicator(m)
	}
	role := roleAsyncMaster
	if syncAck {
		role = roleSyncMaster
	}
	r.mu.Lock()
	r.role, r.master, r.slave = role, m, nil
	r.stopRole = func() { r.logs.SetReplicator(nil); _ = m.Close(); wg.Wait() }
	r.mu.Unlock()
	r.logger.Info("master of broker group", "cluster", r.cfg.BrokerClusterName, "broker", r.cfg.BrokerName,
		"role", role, "ha", ln.Addr().String())
	return nil
}

// promote turns this slave into the group's master of epoch (controller
// mode): the stream stops, the store takes writes again, the epoch
// starts at the store's written end, the broker state stops following,
// and the HA listener opens with the set {self}. The caller then starts
// what writes (Kafka, delay services) and registers as master.
func (r *replication) promote(ctx context.Context, b *brokerState, epoch int32, self int64) error {
	r.mu.Lock()
	if r.role != roleSlave {
		r.mu.Unlock()
		return errors.New("ha: promote: not a slave")
	}
	stop := r.stopRole
	r.stopRole = nil
	r.mu.Unlock()
	stop()
	r.store.SetReplica(false)
	_, written := r.store.LogRange()
	if r.epochPath != "" {
		l, err := ha.LoadEpochs(r.epochPath)
		if err != nil {
			return err
		}
		l = epochsWithin(l, written)
		if n := len(l); n == 0 || l[n-1].Epoch < epoch {
			if err := ha.SaveEpochs(r.epochPath, append(l, ha.Epoch{Epoch: epoch, Start: written})); err != nil {
				return err
			}
		}
	}
	if err := b.reg.Promote(ctx); err != nil {
		return fmt.Errorf("promote topics: %w", err)
	}
	if err := b.offs.Promote(ctx); err != nil {
		return fmt.Errorf("promote offsets: %w", err)
	}
	if err := b.subs.Promote(ctx); err != nil {
		return fmt.Errorf("promote subscription groups: %w", err)
	}
	if err := r.startMaster(true, self, []int64{self}); err != nil {
		return err
	}
	r.logger.Warn("promoted to master", "broker", r.cfg.BrokerName, "epoch", epoch, "brokerId", self, "written", written)
	return nil
}

// epochsWithin drops the entries of l that start past end (a promoted
// slave's list is its last master's, which may have gone further).
func epochsWithin(l []ha.Epoch, end int64) []ha.Epoch {
	return slices.DeleteFunc(slices.Clone(l), func(e ha.Epoch) bool { return e.Start > end })
}

// masterAddr is where a slave finds its master's HA port: haMasterAddress,
// else what the controller or the last name server registration said.
func (r *replication) masterAddr() string {
	if r.cfg.HAMasterAddress != "" {
		return r.cfg.HAMasterAddress
	}
	if p := r.masterHA.Load(); p != nil {
		return *p
	}
	return ""
}

// onMaster records the master addresses a name server answered a
// registration with (remotingapi.Config.OnMaster).
func (r *replication) onMaster(_, masterHA string) {
	if masterHA == "" || r.epochPath != "" { // the controller names the master in controller mode
		return
	}
	r.masterHA.Store(&masterHA)
}

// current returns the master or the slave of the moment.
func (r *replication) current() (*ha.Master, *ha.Slave) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.master, r.slave
}

// metrics exports the HA state, whatever the role of the moment.
func (r *replication) metrics(mon *httpapi.Server) {
	mon.Value("twinmq_ha_slave_connected", "1 while this broker is a slave streaming from its master.", httpapi.Gauge,
		func() float64 {
			if _, s := r.current(); s != nil && s.Status().Connected {
				return 1
			}
			return 0
		})
	mon.Value("twinmq_ha_slave_behind_bytes", "On a slave: the master's offset at the last frame minus the slave's written end.",
		httpapi.Gauge, func() float64 {
			if _, s := r.current(); s != nil {
				st := s.Status()
				return float64(max(st.MasterOffset-st.Written, 0))
			}
			return 0
		})
	mon.Value("twinmq_ha_slaves_in_sync", "On a master: slaves in sync (classic mode) or in the SyncStateSet (controller mode).",
		httpapi.Gauge, func() float64 {
			m, _ := r.current()
			if m == nil {
				return 0
			}
			n := 0
			for _, s := range m.Slaves() {
				if s.InSync {
					n++
				}
			}
			return float64(n)
		})
	mon.Metric("twinmq_ha_slave_lag_bytes", "On a master: how far each connected slave is behind.", httpapi.Gauge,
		func() []httpapi.Sample {
			m, _ := r.current()
			if m == nil {
				return nil
			}
			var out []httpapi.Sample
			for _, s := range m.Slaves() {
				out = append(out, httpapi.Sample{Labels: []string{"brokerId", fmt.Sprint(s.BrokerID)}, Value: float64(s.Lag)})
			}
			return out
		})
}

// replLogs is the log service of r, or nil (the adapter's own) without
// replication.
func replLogs(r *replication) *log.Log {
	if r == nil {
		return nil
	}
	return r.logs
}

// localAddr is the address a slave connects to its master from: the host
// of its own remoting listener, when that names one (nil: any).
func localAddr(cfg Config) net.Addr {
	host, _, err := net.SplitHostPort(cfg.RemotingAddr)
	ip := net.ParseIP(host)
	if err != nil || ip == nil || ip.IsUnspecified() {
		return nil
	}
	return &net.TCPAddr{IP: ip}
}

// epochFile is where a controller-mode broker keeps its epoch list.
func epochFile(cfg Config) string { return filepath.Join(cfg.DataDir, "epochs") }

// replGroupSize is the size of r's broker group as its master sees it:
// itself and its connected slaves, or the SyncStateSet if larger
// (controller mode). Nil without replication.
func replGroupSize(r *replication) func() int {
	if r == nil {
		return nil
	}
	return func() int {
		m, _ := r.current()
		if m == nil {
			return 1
		}
		return max(1+len(m.Slaves()), len(m.SyncStateSet()))
	}
}

// kafkaEpochs sets cfg's leader epochs from r (controller mode): the
// master epoch, and the epoch file for OffsetForLeaderEpoch. Without a
// controller every partition stays in epoch 0.
func kafkaEpochs(cfg *kafkaapi.Config, r *replication) {
	if r == nil || r.epochPath == "" {
		return
	}
	cfg.LeaderEpoch = r.masterEpoch.Load
	path, logger := r.epochPath, r.logger
	cfg.Epochs = func() []kafkaapi.EpochStart {
		l, err := ha.LoadEpochs(path)
		if err != nil {
			logger.Error("ha: epoch file", "err", err)
		}
		out := make([]kafkaapi.EpochStart, len(l))
		for i, e := range l {
			out[i] = kafkaapi.EpochStart{Epoch: e.Epoch, Start: e.Start}
		}
		return out
	}
}

// kafkaNodeStride separates the Kafka node ids of a group's members: a
// member's id is its group's node id (the identity every member shares)
// plus kafkaNodeStride times its broker id (the controller's id in
// controller mode, brokerId otherwise), so a classic master keeps the
// group's id and every member has its own.
const kafkaNodeStride = 10000

// memberID is this broker's id within its group.
func (r *replication) memberID() int64 {
	if r == nil {
		return 0
	}
	if r.epochPath != "" {
		return r.controllerID
	}
	return r.cfg.BrokerID
}

// kafkaNode is the Kafka node id of member id of a group whose shared
// node id is base.
func kafkaNode(base int32, id int64) int32 { return base + int32(id)*kafkaNodeStride }

// kafkaReplicas returns the replicas and in-sync replicas of r's group as
// Kafka node ids, this broker first: the replicas are every member this
// master has seen since it started (a slave that left stays one, out of
// sync, as an offline Kafka replica does); the in-sync ones its connected
// slaves within haMaxGapNotInSync or, in controller mode, the
// SyncStateSet. Nil when r is nil.
func kafkaReplicas(r *replication, base int32) func() (replicas, isr []int32) {
	if r == nil {
		return nil
	}
	var mu sync.Mutex
	seen := map[int32]bool{}
	return func() (replicas, isr []int32) {
		self := kafkaNode(base, r.memberID())
		replicas, isr = []int32{self}, []int32{self}
		m, _ := r.current()
		if m == nil {
			return replicas, isr
		}
		mu.Lock()
		defer mu.Unlock()
		set := m.SyncStateSet()
		for _, s := range m.Slaves() {
			n := kafkaNode(base, s.BrokerID)
			seen[n] = true
			if s.InSync && set == nil && !slices.Contains(isr, n) {
				isr = append(isr, n)
			}
		}
		for _, id := range set { // controller mode: the SyncStateSet is the ISR
			if n := kafkaNode(base, id); !slices.Contains(isr, n) {
				isr = append(isr, n)
				seen[n] = true
			}
		}
		for _, n := range slices.Sorted(maps.Keys(seen)) {
			if !slices.Contains(replicas, n) {
				replicas = append(replicas, n)
			}
		}
		return replicas, isr
	}
}

// underReplicatedMetrics registers the under-replicated gauges, Kafka's
// UnderReplicatedPartitions per broker and per partition: a queue of this
// broker is under-replicated while its broker group has fewer replicas
// in sync than replicas (the members this master has seen, as Kafka
// Metadata lists them: kafkaReplicas). Every queue of a broker group
// replicates together, so they are all under-replicated or none. A slave
// reports 0; a broker without a group (serve) reports the broker gauge at
// 0 and no per-queue series.
func underReplicatedMetrics(mon *httpapi.Server, b *brokerState) {
	var counts func() (replicas, isr []int32)
	if b.repl != nil {
		counts = kafkaReplicas(b.repl, 0)
	}
	under := func() bool {
		if counts == nil {
			return false
		}
		replicas, isr := counts()
		return len(isr) < len(replicas)
	}
	mon.Value("kafka_server_replicamanager_underreplicatedpartitions",
		"Kafka JMX UnderReplicatedPartitions: this broker's partitions (queues) whose broker group has fewer replicas in sync than replicas.",
		httpapi.Gauge, func() float64 {
			if !under() {
				return 0
			}
			return float64(len(allQueues(b)))
		})
	if b.repl == nil {
		// serve: no broker group, nothing is ever under-replicated; the
		// per-queue series (one per queue, 4,000 for 1,000 topics) would
		// only add to every scrape.
		return
	}
	mon.Metric("twinmq_queue_under_replicated", "1 while a queue's broker group has fewer replicas in sync than replicas, else 0.",
		httpapi.Gauge, func() []httpapi.Sample {
			v := 0.0
			if under() {
				v = 1
			}
			qs := allQueues(b)
			out := make([]httpapi.Sample, len(qs))
			for i, q := range qs {
				out[i] = httpapi.Sample{Labels: []string{"topic", q.Topic, "queue", strconv.Itoa(int(q.Queue))}, Value: v}
			}
			return out
		})
}
