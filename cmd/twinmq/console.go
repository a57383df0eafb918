package main

import (
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/twinmq/twinmq/broker/console"
	"github.com/twinmq/twinmq/broker/delay"
	"github.com/twinmq/twinmq/broker/httpapi"
	"github.com/twinmq/twinmq/broker/kafkaapi"
	"github.com/twinmq/twinmq/broker/remotingapi"
	"github.com/twinmq/twinmq/broker/timer"
)

// consoleHook is the web console of a broker (broker/console) and what
// it shows about the broker, filled in as the listeners start. Every
// method does nothing on a nil hook (--console-enable=false).
type consoleHook struct {
	srv *console.Server

	mu        sync.Mutex // guards info and storeHost
	info      console.BrokerInfo
	storeHost netip.AddrPort
}

// startConsole mounts the web console on mon, over b's state, when
// cfg.ConsoleEnable; the adapters join it as they start.
func startConsole(cfg Config, b *brokerState, mon *httpapi.Server, logger *slog.Logger) (*consoleHook, error) {
	if !cfg.ConsoleEnable {
		return nil, nil
	}
	c := &consoleHook{info: console.BrokerInfo{
		Version: buildVersion(), ClusterName: cfg.BrokerClusterName, BrokerName: cfg.BrokerName,
		BrokerID: cfg.BrokerID, Role: cfg.BrokerRole, StartedMs: time.Now().UnixMilli(),
		Listeners: map[string]string{"http": mon.Addr().String()},
	}}
	srv, err := console.New(console.Config{
		Store: b.store, Topics: b.reg, Offsets: b.offs, Logs: replLogs(b.repl), Gatherer: mon.Gatherer(),
		Logger: logger, ReadOnly: cfg.ConsoleReadOnly,
		Info: func() console.BrokerInfo {
			c.mu.Lock()
			defer c.mu.Unlock()
			info := c.info
			if b.repl != nil && b.repl.isSlave() {
				info.Role = roleSlave
			}
			return info
		},
		StoreHost: func() netip.AddrPort {
			c.mu.Lock()
			defer c.mu.Unlock()
			return c.storeHost
		},
	})
	if err != nil {
		return nil, err
	}
	c.srv = srv
	for _, p := range console.Patterns() {
		mon.Handle(p, srv.Handler())
	}
	logger.Info("web console", "url", "http://"+mon.Addr().String()+"/console/", "readOnly", cfg.ConsoleReadOnly)
	return c, nil
}

// kafka makes the Kafka adapter the console's (its admin requests run
// through it) once it listens.
func (c *consoleHook) kafka(h *kafkaapi.Handler, advertised string, nodeID int32, clusterID string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.info.Listeners["kafka"], c.info.NodeID, c.info.ClusterID = advertised, nodeID, clusterID
	c.mu.Unlock()
	c.srv.SetKafka(h)
}

// remoting makes the RocketMQ adapter the console's.
func (c *consoleHook) remoting(b *remotingapi.Broker, advertised string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.info.Listeners["rocketmq"], c.storeHost = advertised, b.StoreHost()
	c.mu.Unlock()
	c.srv.SetRocketMQ(b)
}

// cluster shows the cluster's broker groups (the name servers' view).
func (c *consoleHook) cluster(cv *groupsView) {
	if c == nil || cv == nil {
		return
	}
	c.srv.SetCluster(cv.poller.View)
}

// delay shows the delivery services' progress.
func (c *consoleHook) delay(svc *timer.Services, p delay.Policy) {
	if c == nil || svc == nil {
		return
	}
	d := console.DelayStats{Levels: p.Levels, Progress: svc.Levels.Progress}
	if t := svc.Timer; t != nil {
		d.Timer = func() console.TimerStats {
			s := t.Stats()
			return console.TimerStats{Ingested: s.Ingested, Fired: s.Fired, Dropped: s.Dropped,
				PendingSlots: s.PendingSlots, InHeap: s.InHeap}
		}
	}
	c.srv.SetDelay(d)
}
