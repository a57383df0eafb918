package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"

	"github.com/twinmq/twinmq/broker/ha"
	"github.com/twinmq/twinmq/broker/httpapi"
	"github.com/twinmq/twinmq/broker/log"
	"github.com/twinmq/twinmq/storage"
)

// replication is a broker's part in its group (docs/cluster.md): a
// master's HA listener and, on a SYNC_MASTER, the log service that waits
// for the slaves; a slave's stream from its master.
type replication struct {
	role   string
	master *ha.Master // masters
	slave  *ha.Slave  // slaves
	logs   *log.Log   // the log service the adapters append through
	// masterHA is the master's HA address a slave learned from a name
	// server registration (OnMaster).
	masterHA atomic.Pointer[string]
	stop     func()
}

// isSlave reports whether the broker is a slave.
func (r *replication) isSlave() bool { return r.role == roleSlave }

// startReplication sets store up for cfg's role and starts the HA side:
// a master listens on haAddr; a slave turns its store into a replica and
// streams from its master until stop.
func startReplication(ctx context.Context, cfg Config, store *storage.Store, mon *httpapi.Server, logger *slog.Logger) (*replication, error) {
	r := &replication{role: cfg.BrokerRole}
	if r.isSlave() {
		store.SetReplica(true)
		s, err := ha.NewSlave(ha.SlaveConfig{Cluster: cfg.BrokerClusterName, Broker: cfg.BrokerName, BrokerID: cfg.BrokerID,
			Store: store, MasterAddr: r.masterAddr(cfg), LocalAddr: localAddr(cfg), Logger: logger})
		if err != nil {
			return nil, err
		}
		r.slave, r.logs = s, log.New(store)
		sctx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Go(func() { _ = s.Run(sctx) })
		r.stop = func() { cancel(); wg.Wait() }
		mon.Value("twinmq_ha_slave_connected", "1 while the slave streams from its master.", httpapi.Gauge,
			func() float64 {
				if s.Status().Connected {
					return 1
				}
				return 0
			})
		mon.Value("twinmq_ha_slave_behind_bytes", "The master's offset at the last frame minus the slave's written end.",
			httpapi.Gauge, func() float64 { st := s.Status(); return float64(max(st.MasterOffset-st.Written, 0)) })
		logger.Info("slave of broker group", "cluster", cfg.BrokerClusterName, "broker", cfg.BrokerName,
			"brokerId", cfg.BrokerID, "haMasterAddress", cfg.HAMasterAddress)
		return r, nil
	}

	syncMaster := cfg.BrokerRole == roleSyncMaster
	store.GateVisible(syncMaster)
	m, err := ha.NewMaster(ha.MasterConfig{Cluster: cfg.BrokerClusterName, Broker: cfg.BrokerName, Store: store,
		Sync: syncMaster, MinInSyncReplicas: cfg.MinInSyncReplicas, Logger: logger})
	if err != nil {
		return nil, err
	}
	addr, err := fixPort(cfg.HAAddr)
	if err != nil {
		return nil, fmt.Errorf("ha: %w", portInUse(err, "haAddr", cfg.HAAddr))
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("ha: %w", portInUse(err, "haAddr", addr))
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := m.Serve(ln); err != nil {
			logger.Error("ha: listener failed", "err", err)
		}
	})
	r.master = m
	r.logs = log.New(store)
	if syncMaster {
		r.logs = log.NewReplicated(store, m)
	}
	r.stop = func() { _ = m.Close(); wg.Wait() }
	mon.Value("twinmq_ha_slaves_in_sync", "Slaves in sync with this master.", httpapi.Gauge, func() float64 {
		n := 0
		for _, s := range m.Slaves() {
			if s.InSync {
				n++
			}
		}
		return float64(n)
	})
	mon.Metric("twinmq_ha_slave_lag_bytes", "How far each connected slave is behind this master.", httpapi.Gauge,
		func() []httpapi.Sample {
			var out []httpapi.Sample
			for _, s := range m.Slaves() {
				out = append(out, httpapi.Sample{Labels: []string{"brokerId", fmt.Sprint(s.BrokerID)}, Value: float64(s.Lag)})
			}
			return out
		})
	logger.Info("master of broker group", "cluster", cfg.BrokerClusterName, "broker", cfg.BrokerName,
		"role", cfg.BrokerRole, "ha", ln.Addr().String())
	return r, nil
}

// masterAddr is where a slave finds its master's HA port: haMasterAddress,
// else what the last name server registration said.
func (r *replication) masterAddr(cfg Config) func() string {
	return func() string {
		if cfg.HAMasterAddress != "" {
			return cfg.HAMasterAddress
		}
		if p := r.masterHA.Load(); p != nil {
			return *p
		}
		return ""
	}
}

// onMaster records the master addresses a name server answered a
// registration with (remotingapi.Config.OnMaster).
func (r *replication) onMaster(_, masterHA string) {
	if !r.isSlave() || masterHA == "" {
		return
	}
	if old := r.masterHA.Swap(&masterHA); old == nil || *old != masterHA {
		slog.Default().Debug("ha: master learned from a name server", "haAddr", masterHA)
	}
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
