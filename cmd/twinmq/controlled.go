package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twinmq/twinmq/broker/ha"
	"github.com/twinmq/twinmq/controller"
)

// Controller mode (docs/cluster.md#controller-automatic-failover), the
// broker's side, as RocketMQ 5's ReplicasManager: the broker registers
// with the controller (which assigns its brokerId), learns whether it is
// its group's master, heartbeats every second, and follows what the
// controller says: a slave the controller elected becomes master without
// a restart; a master the controller replaced stops taking writes at once
// and starts again as a slave (it re-executes itself, which truncates its
// log to the new master's on the way in); a master keeps the group's
// SyncStateSet up to date.

// controllerHeartbeat is how often a broker heartbeats and asks for its
// group's state (RocketMQ's brokerHeartbeatInterval is 1 s; twinmq's
// 500 ms halves the time a slave takes to learn it was elected).
const controllerHeartbeat = 500 * time.Millisecond

// controlled is a controller-mode broker's link to its controller.
type controlled struct {
	cfg    Config
	client *controller.Client
	id     int64
	haAddr string // what this broker registers as its address: its HA address
	logger *slog.Logger

	// Owned by run's goroutine after start.
	epoch   int32 // the masterEpoch this broker last acted on
	ssEpoch int32 // the SyncStateSet epoch of the set the master holds

	// heard is when (unix ns) the last heartbeat the controller answered
	// was sent: the master's lease runs from there.
	heard atomic.Int64
}

// leaseFor is how long after a heartbeat the controller answered a master
// keeps taking writes: less than the controller's heartbeat timeout (3 s
// by default), so that by the time the controller can elect another
// master, this one has stopped acknowledging (a stopped or cut-off master
// that comes back refuses writes until it hears from the controller, and
// learns then that it was replaced).
const leaseFor = 2 * time.Second

// leaseValid reports whether the master's lease holds.
func (c *controlled) leaseValid() bool {
	return time.Since(time.Unix(0, c.heard.Load())) < leaseFor
}

// brokerIDFile keeps the id the controller assigned.
func brokerIDFile(cfg Config) string { return filepath.Join(cfg.DataDir, "controller-broker-id") }

// joinController registers with the controller and returns the broker's
// role in cfg (brokerId, brokerRole), retrying until a controller
// answers or ctx ends; a group without a master elects this broker.
func joinController(ctx context.Context, cfg Config, logger *slog.Logger) (Config, *controlled, controller.ReplicaInfo, error) {
	client, err := controller.NewClient(cfg.ControllerAddr)
	if err != nil {
		return cfg, nil, controller.ReplicaInfo{}, err
	}
	client.SetSecret(cfg.RegistrationSecret) // signs heartbeats, elections, registrations

	haAddr, err := advertisedAddr(cfg.AdvertisedHost, cfg.HAAddr)
	if err != nil {
		return cfg, nil, controller.ReplicaInfo{}, fmt.Errorf("haAddr: %w", err)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return cfg, nil, controller.ReplicaInfo{}, fmt.Errorf("data dir: %w", err)
	}
	c := &controlled{cfg: cfg, client: client, haAddr: haAddr, logger: logger}
	if b, err := os.ReadFile(brokerIDFile(cfg)); err == nil {
		c.id, _ = strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	}
	var info controller.ReplicaInfo
	for attempt := 0; ; attempt++ {
		info, err = c.register(ctx)
		if err == nil {
			break
		}
		if attempt == 0 || attempt%30 == 0 {
			logger.Warn("controller: cannot join yet; retrying", "controllerAddr", cfg.ControllerAddr, "err", err)
		}
		select {
		case <-ctx.Done():
			_ = client.Close()
			return cfg, nil, info, ctx.Err()
		case <-time.After(time.Second):
		}
	}
	// A slave registers with the name servers under its id, the master
	// under 0 (RocketMQ 5's controller mode does the same), so that
	// clients find the master where they always do.
	cfg.BrokerID, cfg.BrokerRole = c.id, roleSlave
	if info.MasterID == c.id {
		cfg.BrokerID, cfg.BrokerRole = 0, roleSyncMaster
	}
	c.cfg = cfg
	logger.Info("controller: joined", "brokerId", c.id, "role", cfg.BrokerRole, "masterId", info.MasterID,
		"masterEpoch", info.MasterEpoch, "syncStateSet", info.SyncStateSet)
	return cfg, c, info, nil
}

// register registers (the controller assigns an id on the first start)
// and, when the group has no master, asks to be it.
func (c *controlled) register(ctx context.Context) (controller.ReplicaInfo, error) {
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	reg, err := c.client.Register(rctx, c.cfg.BrokerClusterName, c.cfg.BrokerName, c.haAddr, c.id)
	if err != nil {
		return controller.ReplicaInfo{}, err
	}
	if reg.BrokerID != c.id {
		c.id = reg.BrokerID
		if err := os.WriteFile(brokerIDFile(c.cfg), []byte(strconv.FormatInt(c.id, 10)+"\n"), 0o644); err != nil {
			return controller.ReplicaInfo{}, fmt.Errorf("persist brokerId: %w", err)
		}
	}
	info := reg.ReplicaInfo
	if info.MasterID == controller.NoMaster {
		if elected, err := c.client.ElectMaster(rctx, c.cfg.BrokerClusterName, c.cfg.BrokerName, c.id, false); err == nil {
			info = elected
		} else if info, err = c.client.GetReplicaInfo(rctx, c.cfg.BrokerName); err != nil {
			return info, err
		}
	}
	if info.MasterID == controller.NoMaster {
		return info, errors.New("the group has no master yet")
	}
	return info, nil
}

// start sets the replication up for the role joinController found.
func (c *controlled) start(r *replication, info controller.ReplicaInfo) error {
	c.epoch, c.ssEpoch = info.MasterEpoch, info.SyncStateSetEpoch
	c.heard.Store(time.Now().UnixNano()) // registration answered just now
	r.epochPath = epochFile(c.cfg)
	r.lease = c.leaseValid
	r.controllerID = c.id
	if info.MasterID == c.id {
		_, written := r.store.LogRange()
		l, err := ha.LoadEpochs(r.epochPath)
		if err != nil {
			return err
		}
		if n := len(l); n == 0 || l[n-1].Epoch < info.MasterEpoch {
			if err := ha.SaveEpochs(r.epochPath, append(epochsWithin(l, written), ha.Epoch{Epoch: info.MasterEpoch, Start: written})); err != nil {
				return err
			}
		}
		set := info.SyncStateSet
		if !slices.Contains(set, c.id) {
			set = []int64{c.id}
		}
		r.masterEpoch.Store(info.MasterEpoch)
		return r.startMaster(true, c.id, set)
	}
	addr := info.MasterAddr
	r.masterHA.Store(&addr)
	return nil // startReplication starts the slave (cfg.BrokerRole is SLAVE)
}

// run heartbeats and follows the controller until ctx ends. promoted
// starts what a master runs besides replication (Kafka, delay services,
// registering as master).
func (c *controlled) run(ctx context.Context, r *replication, b *brokerState, promoted func(context.Context) error) {
	defer c.client.Close()
	t := time.NewTicker(controllerHeartbeat)
	defer t.Stop()
	var lastErr string
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := c.step(ctx, r, b, promoted)
		if err != nil && ctx.Err() == nil && err.Error() != lastErr {
			c.logger.Warn("controller: step failed", "err", err)
		}
		lastErr = ""
		if err != nil {
			lastErr = err.Error()
		}
	}
}

// step is one round: heartbeat, read the group's state, act on it.
func (c *controlled) step(ctx context.Context, r *replication, b *brokerState, promoted func(context.Context) error) error {
	sctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	_, written := r.store.LogRange()
	sent := time.Now()
	if err := c.client.Heartbeat(sctx, controller.Heartbeat{Cluster: c.cfg.BrokerClusterName, BrokerName: c.cfg.BrokerName,
		BrokerID: c.id, Addr: c.haAddr, Epoch: c.epoch, MaxOffset: written, ConfirmOffset: written}); err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	c.heard.Store(sent.UnixNano())
	info, err := c.client.GetReplicaInfo(sctx, c.cfg.BrokerName)
	if err != nil {
		return fmt.Errorf("replica info: %w", err)
	}
	master, _ := r.current()
	switch {
	case master == nil && info.MasterID == c.id:
		c.logger.Warn("controller: elected master", "epoch", info.MasterEpoch)
		if err := r.promote(ctx, b, info.MasterEpoch, c.id); err != nil {
			return fmt.Errorf("promote: %w", err)
		}
		c.epoch, c.ssEpoch = info.MasterEpoch, info.SyncStateSetEpoch
		r.masterEpoch.Store(info.MasterEpoch)
		return promoted(ctx)
	case master == nil:
		if info.MasterAddr != "" && r.masterAddr() != info.MasterAddr {
			addr := info.MasterAddr
			r.masterHA.Store(&addr)
			c.logger.Info("controller: following a new master", "masterId", info.MasterID, "haAddr", addr, "epoch", info.MasterEpoch)
		}
		c.epoch = info.MasterEpoch
		return nil
	case info.MasterID != c.id && info.MasterEpoch >= c.epoch:
		c.demote(r, info)
		return nil
	}
	// The master keeps the SyncStateSet: first what the controller holds
	// (an election resets it), then what the slaves' progress asks for.
	if info.SyncStateSetEpoch > c.ssEpoch || !slices.Equal(sorted(info.SyncStateSet), sorted(master.SyncStateSet())) {
		master.SetSyncStateSet(c.id, info.SyncStateSet)
		c.ssEpoch = info.SyncStateSetEpoch
	}
	proposal, changed := master.ProposeSyncStateSet(time.Now(), 0)
	if !changed {
		return nil
	}
	epoch, err := c.client.AlterSyncStateSet(sctx, c.cfg.BrokerName, c.id, c.epoch, proposal, c.ssEpoch)
	if err != nil {
		return fmt.Errorf("alter SyncStateSet to %v: %w", proposal, err)
	}
	master.SetSyncStateSet(c.id, proposal)
	c.ssEpoch = epoch
	c.logger.Info("controller: SyncStateSet changed", "syncStateSet", proposal, "syncStateSetEpoch", epoch)
	return nil
}

// demote handles a master the controller replaced (it was cut off, or
// stopped, past the heartbeat timeout): it refuses writes at once, then
// re-executes the broker, which joins as a slave and truncates its log to
// the new master's. A restart in place is the simplest correct demotion:
// every table that was a writer becomes a follower by being reopened.
func (c *controlled) demote(r *replication, info controller.ReplicaInfo) {
	r.store.SetReplica(true)
	c.logger.Warn("controller: another broker is master; restarting as a slave", "masterId", info.MasterID,
		"masterEpoch", info.MasterEpoch, "myEpoch", c.epoch)
	exe, err := os.Executable()
	if err == nil {
		err = syscall.Exec(exe, os.Args, os.Environ())
	}
	c.logger.Error("controller: cannot restart; exiting", "err", err)
	os.Exit(3)
}

func sorted(l []int64) []int64 {
	l = slices.Clone(l)
	slices.Sort(l)
	return l
}
