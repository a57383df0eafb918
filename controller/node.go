package controller

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
)

// ErrNotLeader is returned by a write or a leader read on a controller
// that is not the raft leader (or has not caught up as one yet).
var ErrNotLeader = errors.New("controller: not the leader")

// Defaults of Config.
const (
	DefaultScanInterval = time.Second
	DefaultApplyTimeout = 5 * time.Second
)

// Config configures a Controller. Zero values get defaults in validate.
type Config struct {
	// SelfID is this node's id in Peers (controllerSelfId).
	SelfID string
	// Peers is controllerPeers: "n0-127.0.0.1:9878;n1-...". The raft
	// transport listens on SelfID's address.
	Peers string
	// DataDir holds raft.db (log and stable store) and snapshots/.
	DataDir string
	// Addr is the remoting address this controller answers brokers on
	// (the name server's); a follower tells clients the leader's.
	Addr string
	// Listener, if set, is the raft transport's listener instead of one
	// opened on SelfID's address (tests pass one on port 0).
	Listener net.Listener
	// BrokerHeartbeatTimeout: a broker silent this long is not alive.
	BrokerHeartbeatTimeout time.Duration
	// ScanInterval is how often the leader looks for dead masters.
	ScanInterval time.Duration
	// ElectUncleanMaster allows a master from outside the SyncStateSet
	// (enableElectUncleanMaster, default false).
	ElectUncleanMaster bool
	// ApplyTimeout bounds a raft Apply when the caller's ctx has no
	// deadline.
	ApplyTimeout time.Duration
	Now          func() time.Time
	Logger       *slog.Logger
	// Raft, if set, adjusts the raft configuration (tests shorten its
	// timeouts).
	Raft func(*raft.Config)
}

func (c *Config) validate() error {
	if c.SelfID == "" || c.DataDir == "" {
		return fmt.Errorf("controller: SelfID and DataDir are required")
	}
	if c.BrokerHeartbeatTimeout <= 0 {
		c.BrokerHeartbeatTimeout = DefaultBrokerHeartbeatTimeout
	}
	if c.ScanInterval <= 0 {
		c.ScanInterval = DefaultScanInterval
	}
	if c.ApplyTimeout <= 0 {
		c.ApplyTimeout = DefaultApplyTimeout
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// Controller is one node of the controller group: a raft member whose FSM
// is the State, and, while it leads, the liveness table and the scan that
// elects new masters. Its methods are safe for concurrent use.
type Controller struct {
	cfg   Config
	log   *slog.Logger
	peers []Peer
	fsm   *fsm
	raft  *raft.Raft
	trans *raft.NetworkTransport
	store *raftboltdb.BoltStore

	mu      sync.Mutex // guards live and leading
	live    *Liveness
	leading bool // a leader that has applied its predecessors' log (Barrier) and announced Addr

	stop context.CancelFunc
	done chan struct{}
}

// Open starts the node: it opens DataDir, bootstraps the raft group from
// Peers on the first start (every node bootstraps the same configuration),
// and starts the leadership and scan loop that Close ends.
func Open(cfg Config) (*Controller, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	peers, err := ParsePeers(cfg.Peers)
	if err != nil {
		return nil, err
	}
	self := -1
	for i, p := range peers {
		if p.ID == cfg.SelfID {
			self = i
		}
	}
	if self < 0 {
		return nil, fmt.Errorf("%w: controllerSelfId %q is not in %q", ErrPeers, cfg.SelfID, cfg.Peers)
	}
	c := &Controller{cfg: cfg, log: cfg.Logger.With("component", "controller", "id", cfg.SelfID),
		peers: peers, fsm: &fsm{state: &State{}}, live: NewLiveness(cfg.BrokerHeartbeatTimeout)}
	if err := c.openRaft(peers[self].Addr); err != nil {
		c.closeStores()
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.stop, c.done = cancel, make(chan struct{})
	go c.loop(ctx)
	return c, nil
}

func (c *Controller) openRaft(selfAddr string) error {
	if err := os.MkdirAll(c.cfg.DataDir, 0o755); err != nil {
		return fmt.Errorf("controller: %w", err)
	}
	store, err := raftboltdb.NewBoltStore(filepath.Join(c.cfg.DataDir, "raft.db"))
	if err != nil {
		return fmt.Errorf("controller: open raft.db: %w", err)
	}
	c.store = store
	logw := &slogWriter{log: c.log}
	snaps, err := raft.NewFileSnapshotStore(c.cfg.DataDir, 2, logw)
	if err != nil {
		return fmt.Errorf("controller: %w", err)
	}
	ln := c.cfg.Listener
	if ln == nil {
		if ln, err = net.Listen("tcp", selfAddr); err != nil {
			return fmt.Errorf("controller: raft listener: %w", err)
		}
	}
	c.trans = raft.NewNetworkTransport(&streamLayer{Listener: ln}, 3, 10*time.Second, logw)
	conf := raft.DefaultConfig()
	conf.LocalID = raft.ServerID(c.cfg.SelfID)
	conf.LogOutput, conf.LogLevel = logw, "WARN"
	if c.cfg.Raft != nil {
		c.cfg.Raft(conf)
	}
	had, err := raft.HasExistingState(store, store, snaps)
	if err != nil {
		return fmt.Errorf("controller: %w", err)
	}
	if !had {
		var servers []raft.Server
		for _, p := range c.peers {
			servers = append(servers, raft.Server{ID: raft.ServerID(p.ID), Address: raft.ServerAddress(p.Addr)})
		}
		if err := raft.BootstrapCluster(conf, store, store, snaps, c.trans, raft.Configuration{Servers: servers}); err != nil {
			return fmt.Errorf("controller: bootstrap: %w", err)
		}
	}
	logs, err := raft.NewLogCache(512, store)
	if err != nil {
		return fmt.Errorf("controller: %w", err)
	}
	if c.raft, err = raft.NewRaft(conf, c.fsm, logs, store, snaps, c.trans); err != nil {
		return fmt.Errorf("controller: start raft: %w", err)
	}
	return nil
}

// Close stops the node: the loop, raft, the transport and the store.
func (c *Controller) Close() error {
	c.stop()
	<-c.done
	err := c.raft.Shutdown().Error()
	c.closeStores()
	return err
}

func (c *Controller) closeStores() {
	if c.trans != nil {
		_ = c.trans.Close()
	}
	if c.store != nil {
		_ = c.store.Close()
	}
}

// loop follows leadership and, while leading, scans for dead masters.
func (c *Controller) loop(ctx context.Context) {
	defer close(c.done)
	tick := time.NewTicker(c.cfg.ScanInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.raft.LeaderCh():
			c.followLeadership()
		case <-tick.C:
			c.followLeadership()
			c.scan(ctx)
		}
	}
}

// followLeadership notices a change of this node's raft state. A new
// leader first waits until its FSM holds every entry of earlier terms
// (Barrier), then forgets liveness (its grace period starts) and
// announces its remoting address.
func (c *Controller) followLeadership() {
	isLeader := c.raft.State() == raft.Leader
	c.mu.Lock()
	was := c.leading
	c.mu.Unlock()
	switch {
	case isLeader && !was:
		if err := c.raft.Barrier(c.cfg.ApplyTimeout).Error(); err != nil {
			c.log.Warn("barrier as new leader failed; retrying", "err", err)
			return
		}
		var known string
		c.fsm.view(func(s *State) { known = s.ControllerAddr(c.cfg.SelfID) })
		if known != c.cfg.Addr {
			b, _ := EncodeCommand(nil, &SetControllerAddr{ID: c.cfg.SelfID, Addr: c.cfg.Addr})
			if err := c.raft.Apply(b, c.cfg.ApplyTimeout).Error(); err != nil {
				c.log.Warn("announcing the leader's address failed; retrying", "err", err)
				return
			}
		}
		c.mu.Lock()
		c.live.Lead(c.cfg.Now())
		c.leading = true
		c.mu.Unlock()
		c.log.Info("controller leads", "addr", c.cfg.Addr, "grace", c.cfg.BrokerHeartbeatTimeout)
	case !isLeader && was:
		c.mu.Lock()
		c.leading = false
		c.mu.Unlock()
		c.log.Info("controller no longer leads")
	}
}

// scan elects a master for each group whose master stopped heartbeating
// while another member did not (ControllerManager.onBrokerInactive).
func (c *Controller) scan(ctx context.Context) {
	if !c.IsLeader() {
		return
	}
	var groups []Group
	c.fsm.view(func(s *State) { groups = s.Groups() })
	now := c.cfg.Now()
	var cmds []*ElectMaster
	c.mu.Lock()
	for _, name := range c.live.NeedElect(groups, now) {
		for i := range groups {
			if groups[i].Name == name {
				cmds = append(cmds, &ElectMaster{Cluster: groups[i].Cluster, BrokerName: name, BrokerID: ControllerTrigger,
					Alive: c.live.Ranked(&groups[i], now), Unclean: c.cfg.ElectUncleanMaster})
			}
		}
	}
	c.mu.Unlock()
	for _, cmd := range cmds {
		r, err := c.propose(ctx, cmd)
		if err != nil {
			c.log.Warn("electing a master failed", "brokerName", cmd.BrokerName, "err", err)
			continue
		}
		c.log.Warn("master not alive; elected", "brokerName", cmd.BrokerName, "code", r.Code.String(),
			"master", r.Group.MasterID, "masterEpoch", r.Group.MasterEpoch, "syncStateSet", r.Group.SyncStateSet)
	}
}

// IsLeader reports whether this node leads and serves writes.
func (c *Controller) IsLeader() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.leading && c.raft.State() == raft.Leader
}

// Leader returns the raft id of the leader and the remoting address it
// announced; both are "" while there is none or it has not announced.
func (c *Controller) Leader() (id, addr string) {
	_, lid := c.raft.LeaderWithID()
	id = string(lid)
	c.fsm.view(func(s *State) { addr = s.ControllerAddr(id) })
	return id, addr
}

// Peers returns the raft group as configured.
func (c *Controller) Peers() []Peer { return append([]Peer(nil), c.peers...) }

// State returns a copy of the state this node has applied.
func (c *Controller) State() *State {
	var out *State
	c.fsm.view(func(s *State) { out = s.Clone() })
	return out
}

// Snapshot asks raft for a snapshot now (it also takes them by itself).
func (c *Controller) Snapshot() error {
	if err := c.raft.Snapshot().Error(); err != nil {
		return fmt.Errorf("controller: snapshot: %w", err)
	}
	return nil
}

// propose replicates cmd through raft and returns its Result as the
// leader's FSM applied it.
func (c *Controller) propose(ctx context.Context, cmd Command) (Result, error) {
	if !c.IsLeader() {
		return Result{}, ErrNotLeader
	}
	b, err := EncodeCommand(nil, cmd)
	if err != nil {
		return Result{}, err
	}
	timeout := c.cfg.ApplyTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl))
	}
	f := c.raft.Apply(b, timeout)
	if err := f.Error(); err != nil {
		if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) || errors.Is(err, raft.ErrLeadershipTransferInProgress) {
			return Result{}, fmt.Errorf("%w: %v", ErrNotLeader, err)
		}
		return Result{}, fmt.Errorf("controller: raft apply: %w", err)
	}
	r, ok := f.Response().(Result)
	if !ok {
		return Result{}, fmt.Errorf("controller: raft apply returned %T", f.Response())
	}
	return r, nil
}

// streamLayer is raft's TCP stream layer over a listener we may have
// opened ourselves (raft.NewTCPTransport insists on binding its own).
type streamLayer struct{ net.Listener }

func (s *streamLayer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return net.DialTimeout("tcp", string(addr), timeout)
}

// slogWriter turns raft's hclog lines into slog records.
type slogWriter struct{ log *slog.Logger }

func (w *slogWriter) Write(p []byte) (int, error) {
	for _, line := range bytes.Split(bytes.TrimSpace(p), []byte("\n")) {
		if len(line) > 0 {
			w.log.Info("raft", "line", string(line))
		}
	}
	return len(p), nil
}
