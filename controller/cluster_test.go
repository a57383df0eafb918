package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/twinmq/twinmq/nameserver"
	"github.com/twinmq/twinmq/wire/remoting"
)

// node is one controller hosted by a name server, as `twinmq namesrv
// --enable-controller-in-namesrv` runs it.
type node struct {
	id, raftAddr, dir string
	ctl               *Controller
	nsAddr            string
	stopNS            func(context.Context) error
}

const testHeartbeatTimeout = time.Second

func testRaft(c *raft.Config) {
	c.HeartbeatTimeout = 200 * time.Millisecond
	c.ElectionTimeout = 200 * time.Millisecond
	c.LeaderLeaseTimeout = 100 * time.Millisecond
	c.CommitTimeout = 10 * time.Millisecond
}

// startNode opens the controller of n on ln (nil: listen on n.raftAddr)
// behind a fresh name server on a random port.
func startNode(t *testing.T, n *node, peers string, ln net.Listener) {
	t.Helper()
	ns := nameserver.New(nameserver.Config{Logger: slog.New(slog.DiscardHandler)})
	srv, stop, err := nameserver.Listen(context.Background(), "127.0.0.1:0", ns)
	if err != nil {
		t.Fatal(err)
	}
	if ln == nil {
		if ln, err = net.Listen("tcp", n.raftAddr); err != nil {
			_ = stop(context.Background())
			t.Fatal(err)
		}
	}
	n.nsAddr, n.stopNS = srv.Addr().String(), stop
	n.ctl, err = Open(Config{SelfID: n.id, Peers: peers, DataDir: n.dir, Addr: n.nsAddr, Listener: ln,
		BrokerHeartbeatTimeout: testHeartbeatTimeout, ScanInterval: 50 * time.Millisecond, Raft: testRaft,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		_ = stop(context.Background())
		t.Fatal(err)
	}
	ns.HostController(n.ctl.Route)
}

func (n *node) stop(t *testing.T) {
	t.Helper()
	if n.ctl == nil {
		return
	}
	if err := n.ctl.Close(); err != nil {
		t.Errorf("close %s: %v", n.id, err)
	}
	_ = n.stopNS(context.Background())
	n.ctl = nil
}

// startCluster starts size nodes on random 127.0.0.1 ports.
func startCluster(t *testing.T, size int) ([]*node, string) {
	t.Helper()
	var nodes []*node
	var lns []net.Listener
	var peers []string
	for i := range size {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		n := &node{id: fmt.Sprintf("n%d", i), raftAddr: ln.Addr().String(), dir: t.TempDir()}
		nodes, lns, peers = append(nodes, n), append(lns, ln), append(peers, n.id+"-"+n.raftAddr)
	}
	p := strings.Join(peers, ";")
	for i, n := range nodes {
		startNode(t, n, p, lns[i])
	}
	t.Cleanup(func() {
		for _, n := range nodes {
			n.stop(t)
		}
	})
	return nodes, p
}

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func leaderOf(nodes []*node) *node {
	for _, n := range nodes {
		if n.ctl != nil && n.ctl.IsLeader() {
			return n
		}
	}
	return nil
}

func clientOf(t *testing.T, nodes []*node) *Client {
	t.Helper()
	var addrs []string
	for _, n := range nodes {
		addrs = append(addrs, n.nsAddr)
	}
	c, err := NewClient(strings.Join(addrs, ";"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// heartbeater sends a broker's heartbeats every 100 ms while alive is set.
type heartbeater struct {
	alive atomic.Bool
	stop  chan struct{}
	wg    sync.WaitGroup
}

func startHeartbeats(t *testing.T, c *Client, hb Heartbeat) *heartbeater {
	h := &heartbeater{stop: make(chan struct{})}
	h.alive.Store(true)
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-h.stop:
				return
			case <-tick.C:
				if h.alive.Load() {
					ctx, cancel := context.WithTimeout(context.Background(), time.Second)
					_ = c.Heartbeat(ctx, hb)
					cancel()
				}
			}
		}
	}()
	t.Cleanup(func() { close(h.stop); h.wg.Wait() })
	return h
}

// TestClusterFailover: three controllers on raft. Two brokers register;
// the master stops heartbeating and the leader elects the slave from the
// SyncStateSet; the raft leader dies and a new one keeps the state and
// serves; a restarted node comes back with the same state.
func TestClusterFailover(t *testing.T) {
	nodes, peers := startCluster(t, 3)
	cli := clientOf(t, nodes)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	md, err := cli.Metadata(ctx, nodes[0].nsAddr)
	if err != nil || md.Peers != peers {
		t.Fatalf("metadata %+v %v", md, err)
	}
	a, err := cli.Register(ctx, "C", "b1", "10.0.0.1:10911", 0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := cli.Register(ctx, "C", "b1", "10.0.0.2:10911", 0)
	if err != nil {
		t.Fatal(err)
	}
	if a.BrokerID != 1 || b.BrokerID != 2 || a.MasterID != NoMaster {
		t.Fatalf("registrations %+v %+v", a, b)
	}
	ha := startHeartbeats(t, cli, Heartbeat{Cluster: "C", BrokerName: "b1", BrokerID: 1, Addr: "10.0.0.1:10911", Epoch: 1, MaxOffset: 100})
	startHeartbeats(t, cli, Heartbeat{Cluster: "C", BrokerName: "b1", BrokerID: 2, Addr: "10.0.0.2:10911", Epoch: 1, MaxOffset: 100})

	ri, err := cli.ElectMaster(ctx, "C", "b1", 1, false)
	if err != nil || ri.MasterID != 1 || ri.MasterEpoch != 1 || ri.MasterAddr != "10.0.0.1:10911" {
		t.Fatalf("first election %+v %v", ri, err)
	}
	// The slave joins the SyncStateSet once the leader has its heartbeat.
	var sssEpoch int32
	waitFor(t, 5*time.Second, "the SyncStateSet {1,2}", func() bool {
		sssEpoch, err = cli.AlterSyncStateSet(ctx, "b1", 1, 1, []int64{1, 2}, ri.SyncStateSetEpoch)
		return err == nil
	})
	if sssEpoch != ri.SyncStateSetEpoch+1 {
		t.Fatalf("new syncStateSetEpoch %d after %d", sssEpoch, ri.SyncStateSetEpoch)
	}
	if _, err := cli.AlterSyncStateSet(ctx, "b1", 1, 1, []int64{1}, ri.SyncStateSetEpoch); !IsCode(err, ControllerFencedSyncStateSetEpoch) {
		t.Fatalf("stale syncStateSetEpoch: %v", err)
	}
	if _, err := cli.ElectMaster(ctx, "C", "b1", 2, false); !IsCode(err, ControllerMasterStillExist) {
		t.Fatalf("election while the master lives: %v", err)
	}

	checkFollowerAndSyncStateData(t, ctx, nodes)

	// The master stops heartbeating: the leader elects the slave.
	ha.alive.Store(false)
	waitFor(t, 10*time.Second, "broker 2 elected", func() bool {
		ri, err = cli.GetReplicaInfo(ctx, "b1")
		return err == nil && ri.MasterID == 2
	})
	if ri.MasterEpoch != 2 || !slices.Equal(ri.SyncStateSet, []int64{2}) || ri.MasterAddr != "10.0.0.2:10911" {
		t.Fatalf("after failover %+v", ri)
	}
	// The old master, back with its old view, is fenced.
	if _, err := cli.AlterSyncStateSet(ctx, "b1", 1, 1, []int64{1, 2}, sssEpoch); !IsCode(err, ControllerInvalidMaster) {
		t.Fatalf("old master altering: %v", err)
	}
	if _, err := cli.AlterSyncStateSet(ctx, "b1", 2, 1, []int64{1, 2}, ri.SyncStateSetEpoch); !IsCode(err, ControllerFencedMasterEpoch) {
		t.Fatalf("stale masterEpoch: %v", err)
	}

	// Snapshot every node, then write more, so a restart needs both.
	for _, n := range nodes {
		if err := n.ctl.Snapshot(); err != nil {
			t.Fatal(err)
		}
	}
	c3, err := cli.Register(ctx, "C", "b1", "10.0.0.3:10911", 0)
	if err != nil || c3.BrokerID != 3 || c3.MasterID != 2 {
		t.Fatalf("third broker %+v %v", c3, err)
	}
	want := stateBytes(t, leaderOf(nodes).ctl.State())

	// Kill the raft leader: another node leads with the same state.
	old := leaderOf(nodes)
	old.stop(t)
	waitFor(t, 10*time.Second, "a new leader", func() bool { l := leaderOf(nodes); return l != nil && l != old })
	ri, err = cli.GetReplicaInfo(ctx, "b1")
	if err != nil || ri.MasterID != 2 || ri.MasterEpoch != 2 {
		t.Fatalf("new leader's replica info %+v %v", ri, err)
	}
	if _, err := cli.Register(ctx, "C", "b2", "10.0.1.1:10911", 0); err != nil {
		t.Fatalf("the new leader does not serve writes: %v", err)
	}
	if md, err := cli.Metadata(ctx, leaderOf(nodes).nsAddr); err != nil || !md.IsLeader {
		t.Fatalf("metadata of the new leader %+v %v", md, err)
	}

	// Restart the old leader from its data dir: it has the state again.
	startNode(t, old, peers, nil)
	want = stateBytes(t, leaderOf(nodes).ctl.State())
	waitFor(t, 10*time.Second, "the restarted node to catch up", func() bool {
		return string(stateBytes(t, old.ctl.State())) == string(want)
	})
	g, _ := old.ctl.State().Group("b1")
	if g.MasterID != 2 || g.MasterEpoch != 2 || len(g.Members) != 3 {
		t.Fatalf("restarted node's group %+v", g)
	}
}

// stateBytes is s without the controllers' addresses (which change when a
// node restarts behind a new name server port).
func stateBytes(t *testing.T, s *State) []byte {
	t.Helper()
	s.controllers = nil
	b, err := EncodeState(nil, s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRestartFromDisk: a single node recovers its state from its snapshot
// and the log after it, with no peer to learn it from.
func TestRestartFromDisk(t *testing.T) {
	nodes, peers := startCluster(t, 1)
	n := nodes[0]
	cli := clientOf(t, nodes)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := cli.Register(ctx, "C", "b1", "10.0.0.1:10911", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.ElectMaster(ctx, "C", "b1", 1, false); err != nil {
		t.Fatal(err)
	}
	if err := n.ctl.Snapshot(); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Register(ctx, "C", "b1", "10.0.0.2:10911", 0); err != nil {
		t.Fatal(err)
	}
	want := stateBytes(t, n.ctl.State())
	n.stop(t)
	startNode(t, n, peers, nil)
	waitFor(t, 10*time.Second, "the node to lead again", n.ctl.IsLeader)
	if got := stateBytes(t, n.ctl.State()); string(got) != string(want) {
		t.Fatalf("after restart:\n%s\nwant\n%s", got, want)
	}
}

// checkFollowerAndSyncStateData: a follower answers CONTROLLER_NOT_LEADER
// naming the leader's address; the leader answers GET_SYNC_STATE_DATA.
func checkFollowerAndSyncStateData(t *testing.T, ctx context.Context, nodes []*node) {
	t.Helper()
	leader := leaderOf(nodes)
	var follower *node
	for _, n := range nodes {
		if n != leader {
			follower = n
		}
	}
	conn, err := nameserver.Dial(ctx, follower.nsAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	req := remoting.NewRequest(CodeControllerGetReplicaInfo, 0)
	req.ExtFields = map[string]string{"brokerName": "b1"}
	resp, err := conn.Invoke(ctx, req)
	if err != nil || resp.Code != int32(ControllerNotLeader) || resp.ExtFields["controllerLeaderAddress"] != leader.nsAddr {
		t.Fatalf("follower: %+v %v (leader at %s)", resp, err, leader.nsAddr)
	}
	lconn, err := nameserver.Dial(ctx, leader.nsAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer lconn.Close()
	req = remoting.NewRequest(CodeControllerGetSyncStateData, 0)
	req.Body = []byte(`["b1","nope"]`)
	resp, err = lconn.Invoke(ctx, req)
	if err != nil || resp.Code != int32(Success) {
		t.Fatalf("GET_SYNC_STATE_DATA: %+v %v", resp, err)
	}
	var info BrokerReplicasInfo
	if err := json.Unmarshal(resp.Body, &info); err != nil {
		t.Fatal(err)
	}
	ri, ok := info.ReplicasInfoTable["b1"]
	if !ok || len(info.ReplicasInfoTable) != 1 || ri.MasterBrokerID == nil || *ri.MasterBrokerID != 1 ||
		len(ri.InSyncReplicas) != 2 || !ri.InSyncReplicas[1].Alive {
		t.Fatalf("GET_SYNC_STATE_DATA body %s", resp.Body)
	}
}
