package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twinmq/twinmq/nameserver"
	"github.com/twinmq/twinmq/wire/remoting"
)

// freeAddr is a loopback address with a port free a moment ago: for the
// HA listener, whose port a broker registers as configured (port 0 would
// be registered as 0).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startNamesrvForTest runs a name server on a free port until the test
// ends and returns its address.
func startNamesrvForTest(t *testing.T) string {
	t.Helper()
	addr, stop, err := startNamesrv(t.Context(), "127.0.0.1:0", "", "", rocketmqTLS{}, nil, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stop(context.Background()) })
	return addr
}

// startGroupBroker runs `twinmq broker` as member id of group b1 of
// cluster C, registered with nsAddr, until the test ends; it returns the
// broker's remoting and HA addresses and a function that stops it.
func startGroupBroker(t *testing.T, nsAddr string, id int64, role string) (remotingAddr, haAddr string, stop func()) {
	t.Helper()
	haAddr, remotingAddr = freeAddr(t), freeAddr(t)
	cfg := testConfig(t, func(c *Config) {
		c.BrokerClusterName, c.BrokerName, c.BrokerID, c.BrokerRole = "C", "b1", id, role
		c.HAAddr, c.RemotingAddr, c.NamesrvAddr = haAddr, remotingAddr, nsAddr
	})
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- runBroker(ctx, cfg, slog.New(slog.NewTextHandler(logs, nil))) }()
	stop = sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("broker %d: %v", id, err)
		}
	})
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("broker %d logs:\n%s", id, logs)
		}
	})
	return remotingAddr, haAddr, stop
}

// clusterInfoJSON runs `twinmq cluster info --format json` against nsAddr.
func clusterInfoJSON(t *testing.T, nsAddr string) clusterView {
	t.Helper()
	out := mustCmd(t, "cluster", "info", "--namesrv-addr", nsAddr, "--format", "json")
	var v clusterView
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("cluster info --format json: %v\n%s", err, out)
	}
	return v
}

// member finds broker id of group name in v.
func (v clusterView) member(group string, id int64) (memberView, bool) {
	for _, c := range v.Clusters {
		for _, g := range c.Groups {
			for _, m := range g.Members {
				if g.BrokerName == group && m.BrokerID == id {
					return m, true
				}
			}
		}
	}
	return memberView{}, false
}

// TestClusterInfo: against a name server, a SYNC_MASTER and its slave,
// `cluster info` shows each member with its role, addresses, version,
// uptime and CommitLog range; the master its slave in sync, the slave its
// stream; a registered broker that does not answer is a row saying so.
func TestClusterInfo(t *testing.T) {
	ns := startNamesrvForTest(t)
	masterAddr, masterHA, stopMaster := startGroupBroker(t, ns, 0, "SYNC_MASTER")
	// The master holds its ports before the slave starts: the slave's
	// ":0" listeners could otherwise take one freeAddr picked for it.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", masterHA); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the master's HA port %s never opened", masterHA)
		}
	}
	slaveAddr, slaveHA, _ := startGroupBroker(t, ns, 1, "SLAVE")

	// A broker group b2 whose master registered and then stopped
	// answering: its registration lives as long as this connection.
	dead := freeAddr(t)
	c, err := nameserver.Dial(t.Context(), ns)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := remoting.NewRequest(remoting.RegisterBroker, 0)
	req.ExtFields = map[string]string{"brokerName": "b2", "brokerAddr": dead, "clusterName": "C", "brokerId": "0",
		"haServerAddr": dead, "compressed": "false"}
	req.Body = nameserver.EncodeRegisterBody(nil, nameserver.DataVersion{Timestamp: 1})
	if resp, err := c.Invoke(t.Context(), req); err != nil || resp.Code != remoting.Success {
		t.Fatalf("register b2: %v %+v", err, resp)
	}

	var v clusterView
	var master, slave memberView
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		v = clusterInfoJSON(t, ns)
		master, _ = v.member("b1", 0)
		slave, _ = v.member("b1", 1)
		// Connected comes with the handshake, the first bytes a moment
		// later: wait for the slave to hold the master's log.
		if master.InSyncSlaves != nil && *master.InSyncSlaves == 1 && slave.Connected != nil && *slave.Connected &&
			slave.CommitLogMaxOffset > 0 && slave.CommitLogMaxOffset == master.CommitLogMaxOffset {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no in-sync slave in 30 s: %+v", v)
		}
	}
	if len(v.Clusters) != 1 || v.Clusters[0].Name != "C" || len(v.Clusters[0].Groups) != 2 {
		t.Fatalf("clusters %+v, want C with b1 and b2", v.Clusters)
	}
	for _, c := range []struct {
		m              memberView
		role, addr, ha string
	}{{master, "SYNC_MASTER", masterAddr, masterHA}, {slave, "SLAVE", slaveAddr, slaveHA}} {
		if !c.m.Answered || c.m.Role != c.role || c.m.Addr != c.addr || c.m.HAAddr != c.ha || c.m.Version != buildVersion() ||
			c.m.BootTimestamp == 0 || c.m.CommitLogMaxOffset <= 0 {
			t.Errorf("%s: %+v, want addr %s, HA %s, version %s", c.role, c.m, c.addr, c.ha, buildVersion())
		}
	}
	if len(master.Slaves) != 1 || master.Slaves[0].BrokerID != 1 || !master.Slaves[0].InSync {
		t.Errorf("master's slaves %+v", master.Slaves)
	}
	if slave.MasterHAAddr != masterHA || slave.LagBytes == nil {
		t.Errorf("slave's stream: master %q (want %s), lag %v", slave.MasterHAAddr, masterHA, slave.LagBytes)
	}
	if d, ok := v.member("b2", 0); !ok || d.Answered || d.Addr != dead || d.Error == "" {
		t.Errorf("b2 (not answering): %+v", d)
	}

	// The table: one row per broker, the dead one said to be so.
	out := mustCmd(t, "cluster", "info", "--namesrv-addr", ns)
	t.Logf("\n%s", out)
	for _, want := range [][]string{
		{"C", "b1", "0", "SYNC_MASTER", masterAddr, masterHA, buildVersion()},
		{"C", "b1", "1", "SLAVE", slaveAddr, slaveHA, buildVersion()},
		{"C", "b2", "0", "-", dead, "-", "-", "-", "-", "not", "answering:"},
	} {
		if !hasRowPrefix(out, want...) {
			t.Errorf("table lacks a row %q:\n%s", want, out)
		}
	}
	for _, want := range []string{
		"1/1 slaves in sync (id 1: in sync, lag ",
		"streaming from " + masterHA + ", lag ",
		"not answering: ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if !hasRow(out, "CLUSTER", "BROKER", "ID", "ROLE", "ADDR", "HA", "ADDR", "VERSION", "UPTIME", "COMMITLOG", "REPLICATION") {
		t.Errorf("no header row:\n%s", out)
	}

	// A second name server that is down is reported, not fatal; none up is.
	out = mustCmd(t, "cluster", "info", "--namesrv-addr", ns+";"+dead)
	if !strings.Contains(out, "name server "+dead+" did not answer") || !strings.Contains(out, masterAddr) {
		t.Errorf("with one name server down:\n%s", out)
	}
	if out, err := twinmqCmd(t, "cluster", "info", "--namesrv-addr", dead); err == nil || !strings.Contains(err.Error(), "no name server answered") {
		t.Errorf("no name server up: err %v\n%s", err, out)
	}
	if _, err := twinmqCmd(t, "cluster", "info", "--format", "yaml"); err == nil {
		t.Error("--format yaml accepted")
	}

	// The master stops (and unregisters): its slave, still listed, shows
	// that it lost its stream.
	stopMaster()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		v = clusterInfoJSON(t, ns)
		_, ok := v.member("b1", 0)
		slave, _ = v.member("b1", 1)
		if !ok && slave.Connected != nil && !*slave.Connected {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("10 s after the master stopped: %+v", v)
		}
	}
	out = mustCmd(t, "cluster", "info", "--namesrv-addr", ns)
	if !hasRowPrefix(out, "C", "b1", "1", "SLAVE", slaveAddr, slaveHA, buildVersion()) ||
		!strings.Contains(out, "not connected to master "+masterHA) {
		t.Errorf("after the master stopped:\n%s", out)
	}
}

// hasRowPrefix reports whether out has a line whose first fields are
// fields.
func hasRowPrefix(out string, fields ...string) bool {
	for line := range strings.Lines(out) {
		if f := strings.Fields(line); len(f) >= len(fields) && slices.Equal(f[:len(fields)], fields) {
			return true
		}
	}
	return false
}

func TestParseRuntime(t *testing.T) {
	for s, want := range map[string]int64{
		"[ 0 days, 0 hours, 0 minutes, 7 seconds ]": 7,
		"[ 1 days, 2 hours, 3 minutes, 4 seconds ]": 93784,
	} {
		if got, ok := parseRuntime(s); !ok || got != want {
			t.Errorf("parseRuntime(%q) = %d, %v; want %d", s, got, ok, want)
		}
	}
	if _, ok := parseRuntime("soon"); ok {
		t.Error("parseRuntime accepted garbage")
	}
}
