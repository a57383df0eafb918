package compattests

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"

	"github.com/twinmq/twinmq/wire/remoting"
)

// Partition tests put each process in a network namespace of its own,
// joined by a bridge in the test's namespace (10.231.0.0/24; the test,
// the clients' side, is 10.231.0.254). A partition is a prohibit route in
// one namespace: its packets to the addresses cut off fail at once, so no
// TCP conversation with them goes on, while everything else still
// reaches it. Needs root and `ip`; skipped otherwise. Everything is torn
// down after.

const partNet = "10.231.0"

// netLab is the namespaces and the bridge of one test.
type netLab struct {
	t      *testing.T
	bridge string
	nss    []string
}

func run(args ...string) error {
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

// newNetLab makes the bridge, or skips the test when it cannot.
func newNetLab(t *testing.T) *netLab {
	t.Helper()
	l := &netLab{t: t, bridge: "tqbr0"}
	_ = run("ip", "link", "del", l.bridge) // a leftover of a killed run
	if err := run("ip", "link", "add", l.bridge, "type", "bridge"); err != nil {
		t.Skipf("no bridges here: %v", err)
	}
	if err := run("ip", "netns", "add", "tqprobe"); err != nil {
		_ = run("ip", "link", "del", l.bridge)
		t.Skipf("no network namespaces here: %v", err)
	}
	_ = run("ip", "netns", "del", "tqprobe")
	t.Cleanup(l.close)
	for _, c := range [][]string{
		{"ip", "addr", "add", partNet + ".254/24", "dev", l.bridge},
		{"ip", "link", "set", l.bridge, "up"},
	} {
		if err := run(c...); err != nil {
			t.Fatal(err)
		}
	}
	return l
}

// host makes namespace name with address partNet.<last> on the bridge.
func (l *netLab) host(name string, last int) string {
	l.t.Helper()
	_ = run("ip", "netns", "del", name)
	veth := "tqv" + name[len(name)-2:]
	_ = run("ip", "link", "del", veth)
	ip := fmt.Sprintf("%s.%d", partNet, last)
	for _, c := range [][]string{
		{"ip", "netns", "add", name},
		{"ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", name},
		{"ip", "link", "set", veth, "master", l.bridge},
		{"ip", "link", "set", veth, "up"},
		{"ip", "netns", "exec", name, "ip", "addr", "add", ip + "/24", "dev", "eth0"},
		{"ip", "netns", "exec", name, "ip", "link", "set", "eth0", "up"},
		{"ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"},
	} {
		if err := run(c...); err != nil {
			l.t.Fatal(err)
		}
	}
	l.nss = append(l.nss, name)
	return ip
}

// cut makes ns unable to reach the addresses; heal undoes it.
func (l *netLab) cut(ns string, addrs ...string) {
	l.t.Helper()
	for _, a := range addrs {
		if err := run("ip", "netns", "exec", ns, "ip", "route", "add", "prohibit", a+"/32"); err != nil {
			l.t.Fatal(err)
		}
	}
}

func (l *netLab) heal(ns string, addrs ...string) {
	l.t.Helper()
	for _, a := range addrs {
		if err := run("ip", "netns", "exec", ns, "ip", "route", "del", "prohibit", a+"/32"); err != nil {
			l.t.Fatal(err)
		}
	}
}

func (l *netLab) close() {
	for _, ns := range l.nss {
		_ = run("ip", "netns", "del", ns) // its veth end goes with it, and the peer
	}
	_ = run("ip", "link", "del", l.bridge)
}

// TestClusterPartitionMasterFromControllers: the master of a
// controller-mode group is cut off from the controllers (the name
// servers) but not from clients or its slave. Within its 2 s lease it
// stops acknowledging: sends addressed to it are refused; the controller
// elects the slave, which takes writes. When the partition heals, the old
// master learns it was replaced, restarts as the slave and follows. No
// acknowledged message is lost and the logs agree.
func TestClusterPartitionMasterFromControllers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	l := newNetLab(t)
	g, ctl := startNetCtlGroup(t, l)
	ns := g.ns
	m := g.master(t)
	const topic = "ClusterPartitionTopic"
	resolver := primitive.NewPassthroughResolver(splitNS(ns))
	var (
		mu    sync.Mutex
		acked []string
		seq   int
	)
	sendFresh := func() bool { // a producer that looks the route up afresh
		mu.Lock()
		seq++
		i := seq
		mu.Unlock()
		p, err := rocketmq.NewProducer(producer.WithNsResolver(resolver), producer.WithInstanceName(fmt.Sprint(instance(t), "-", i)),
			producer.WithGroupName("pg_partition"), producer.WithRetry(0), producer.WithSendMsgTimeout(3*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Start(); err != nil {
			t.Fatal(err)
		}
		defer p.Shutdown()
		r, err := p.SendSync(context.Background(), newMsg(topic, "TagP", i))
		if err != nil || r.Status != primitive.SendOK {
			return false
		}
		mu.Lock()
		acked = append(acked, fmt.Sprint("body-", i))
		mu.Unlock()
		return true
	}
	waitFor(t, 60*time.Second, sendFresh)
	for range 20 {
		if !sendFresh() {
			t.Fatal("a send failed before the partition")
		}
	}

	cut := time.Now()
	l.cut(fmt.Sprint("tqb", m), ctl...)
	time.Sleep(2500 * time.Millisecond) // past the master's lease
	for i := range 5 {
		if code, err := sendTo(g.hosts[m]+":10911", topic, 1000+i); err == nil && code == remoting.Success {
			t.Fatal("the master cut off from the controllers acknowledged a send past its lease")
		}
	}
	waitFor(t, 60*time.Second, sendFresh)
	t.Logf("a write on the new master %v after the partition", time.Since(cut))
	for range 20 {
		waitFor(t, 30*time.Second, sendFresh)
	}

	l.heal(fmt.Sprint("tqb", m), ctl...)
	if m2 := g.master(t); m2 == m {
		t.Fatalf("broker %d is master again", m)
	}
	m = 1 - m
	for range 20 {
		waitFor(t, 30*time.Second, sendFresh)
	}
	g.waitSlaveCaughtUp(t, m)
	g.stopAndCheck(t, m, topic, acked)
}

// TestClusterPartitionMasterFromSlave: master and slave of a
// controller-mode group are cut off from each other but not from the
// controllers or clients. The master stays master (its heartbeats reach
// the controllers, so nobody is elected); acknowledgements that need the
// slave stop until the master drops it from the SyncStateSet, then go on
// from the master alone. When the partition heals, the slave catches up
// and is in sync again. No acknowledged message is lost and the slave's
// log ends a prefix of the master's.
func TestClusterPartitionMasterFromSlave(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	l := newNetLab(t)
	g, _ := startNetCtlGroup(t, l)
	ns := g.ns
	m := g.master(t)
	s := 1 - m
	const topic = "ClusterPartitionSlaveTopic"
	resolver := primitive.NewPassthroughResolver(splitNS(ns))
	p, err := rocketmq.NewProducer(producer.WithNsResolver(resolver), producer.WithInstanceName(instance(t)),
		producer.WithGroupName("pg_partition_slave"), producer.WithRetry(0), producer.WithSendMsgTimeout(3*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown()
	var acked []string
	i := 0
	send := func() bool {
		i++
		r, err := p.SendSync(context.Background(), newMsg(topic, "TagS", i))
		if err != nil || r.Status != primitive.SendOK {
			return false
		}
		acked = append(acked, fmt.Sprint("body-", i))
		return true
	}
	waitFor(t, 60*time.Second, send)
	for range 20 {
		if !send() {
			t.Fatal("a send failed before the partition")
		}
	}

	cut := time.Now()
	l.cut(fmt.Sprint("tqb", m), g.hosts[s])
	l.cut(fmt.Sprint("tqb", s), g.hosts[m])
	waitFor(t, 90*time.Second, send) // once the master acknowledges alone
	t.Logf("the master acknowledged alone %v after the partition", time.Since(cut))
	for range 20 {
		waitFor(t, 30*time.Second, send)
	}
	if v, _ := metric(g.hosts[m]+":8080", "twinmq_ha_slaves_in_sync"); v != "0" {
		t.Errorf("the master reports %q slaves in sync while cut off from its slave", v)
	}

	l.heal(fmt.Sprint("tqb", m), g.hosts[s])
	l.heal(fmt.Sprint("tqb", s), g.hosts[m])
	if m2 := g.master(t); m2 != m { // in sync again, the same master
		t.Fatalf("broker %d is master after the heal, want %d: nobody had to be elected", m2, m)
	}
	for range 20 {
		waitFor(t, 30*time.Second, send)
	}
	g.waitSlaveCaughtUp(t, m)
	g.stopAndCheck(t, m, topic, acked)
}

// startNetCtlGroup runs a controller-mode group in l's namespaces: name
// servers with the controller on .1-.3 (their addresses are returned),
// brokers on .11 and .12.
func startNetCtlGroup(t *testing.T, l *netLab) (*ctlGroup, []string) {
	t.Helper()
	dir := t.TempDir()
	var ctl []string
	for i := range 3 {
		ctl = append(ctl, l.host(fmt.Sprint("tqns", i), i+1))
	}
	peers := fmt.Sprintf("n0-%s:9878;n1-%s:9878;n2-%s:9878", ctl[0], ctl[1], ctl[2])
	ns := strings.Join([]string{ctl[0] + ":9876", ctl[1] + ":9876", ctl[2] + ":9876"}, ";")
	for i := range 3 {
		startNodeIn(t, fmt.Sprint("tqns", i), dir, fmt.Sprint("ns", i), "namesrv", "--namesrv-listen", ctl[i]+":9876",
			"--data-dir", filepath.Join(dir, fmt.Sprint("ns", i)), "--enable-controller-in-namesrv",
			"--controller-peers", peers, "--controller-self-id", fmt.Sprint("n", i))
	}
	g := &ctlGroup{dir: dir, ns: ns}
	for i := range 2 {
		h := l.host(fmt.Sprint("tqb", i), 11+i)
		g.hosts[i] = h
		g.brokers[i] = startNodeIn(t, fmt.Sprint("tqb", i), dir, fmt.Sprint("b", i), "broker",
			"--data-dir", filepath.Join(dir, fmt.Sprint("b", i)), "--broker-cluster-name", "C", "--broker-name", "b1",
			"--segment-size", fmt.Sprint(64<<20), "--kafka-addr", h+":9092", "--remoting-addr", h+":10911",
			"--ha-addr", h+":10912", "--http-addr", h+":8080", "--namesrv-addr", ns, "--enable-controller-mode",
			"--controller-addr", ns)
	}
	return g, ctl
}
