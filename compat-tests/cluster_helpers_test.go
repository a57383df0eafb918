package compattests

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Cluster tests run twinmq as real processes, each node on its own
// loopback address with the default ports (docs/cluster.md), as the
// README's cluster commands do. They use 127.0.2.0/24, which no other
// test touches; Linux routes all of 127/8 to lo, so no alias is needed.

var (
	twinmqBinOnce sync.Once
	twinmqBin     string
	twinmqBinErr  error
)

// buildTwinmq builds cmd/twinmq once per test binary.
func buildTwinmq(t *testing.T) string {
	t.Helper()
	twinmqBinOnce.Do(func() {
		dir, err := os.MkdirTemp("", "twinmq-cluster-bin")
		if err != nil {
			twinmqBinErr = err
			return
		}
		twinmqBin = filepath.Join(dir, "twinmq")
		args := []string{"build", "-o", twinmqBin}
		if os.Getenv("TWINMQ_COMPAT_RACE") != "" {
			args = append(args, "-race") // the processes' logs then carry any DATA RACE report
		}
		out, err := exec.Command("go", append(args, "../cmd/twinmq")...).CombinedOutput()
		if err != nil {
			twinmqBinErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if twinmqBinErr != nil {
		t.Fatal(twinmqBinErr)
	}
	return twinmqBin
}

// node is one twinmq process.
type node struct {
	name  string
	netns string // run inside this network namespace ("": the test's)
	args  []string
	logf  string
	cmd   *exec.Cmd
	done  chan struct{}
}

// startNode runs `twinmq args...`, its output in <dir>/<name>.log; the
// test's cleanup kills it.
func startNode(t *testing.T, dir, name string, args ...string) *node {
	t.Helper()
	return startNodeIn(t, "", dir, name, args...)
}

// startNodeIn is startNode inside network namespace netns ("" for the
// test's own).
func startNodeIn(t *testing.T, netns, dir, name string, args ...string) *node {
	t.Helper()
	n := &node{name: name, netns: netns, args: args, logf: filepath.Join(dir, name+".log")}
	n.start(t)
	t.Cleanup(func() {
		n.signal(syscall.SIGKILL)
		n.wait()
		if b, err := os.ReadFile(n.logf); err == nil && bytes.Contains(b, []byte("WARNING: DATA RACE")) {
			t.Errorf("%s: the race detector reported a data race (TWINMQ_COMPAT_RACE build)", name)
		}
		if t.Failed() {
			if b, err := os.ReadFile(n.logf); err == nil {
				t.Logf("--- %s log (last 3000 bytes):\n%s", name, tail(b, 3000))
			}
		}
	})
	return n
}

func (n *node) start(t *testing.T) {
	t.Helper()
	f, err := os.OpenFile(n.logf, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	n.cmd = exec.Command(buildTwinmq(t), n.args...)
	if n.netns != "" { // ip execs the binary: the pid is twinmq's
		n.cmd = exec.Command("ip", append([]string{"netns", "exec", n.netns, buildTwinmq(t)}, n.args...)...)
	}
	// The test's own TWINMQ_* settings (TWINMQ_FAILOVER_KILLS, ...) are
	// not the broker's: twinmq refuses unknown TWINMQ_ variables.
	n.cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "TWINMQ_") })
	n.cmd.Stdout, n.cmd.Stderr = f, f
	if err := n.cmd.Start(); err != nil {
		f.Close()
		t.Fatal(err)
	}
	n.done = make(chan struct{})
	go func() { _ = n.cmd.Wait(); f.Close(); close(n.done) }()
}

func (n *node) signal(sig syscall.Signal) {
	if n.cmd != nil && n.cmd.Process != nil {
		_ = n.cmd.Process.Signal(sig)
	}
}

func (n *node) wait() {
	if n.done != nil {
		<-n.done
	}
}

// kill9 kills the process (SIGKILL) and waits for it.
func (n *node) kill9() { n.signal(syscall.SIGKILL); n.wait() }

// restart starts the process again with the same arguments.
func (n *node) restart(t *testing.T) { t.Helper(); n.start(t) }

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// metric reads one unlabelled sample of name from a node's /metrics; ok
// is false while the node does not answer.
func metric(addr, name string) (string, bool) {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + addr + "/metrics")
	if err != nil {
		return "", false
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}

// listening reports whether addr accepts TCP connections.
func listening(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// rmqGroup is a name server and one broker group (master and slave) as
// processes.
type rmqGroup struct {
	dir           string
	nsAddr        string
	master, slave *node
	masterHTTP    string
}

// startGroup runs a name server on 127.0.2.1 and broker group b1 with a
// master of role on 127.0.2.11 and a slave on 127.0.2.12, and waits until
// the slave is in sync.
func startGroup(t *testing.T, role string, masterArgs ...string) *rmqGroup {
	t.Helper()
	return startGroupWith(t, role, masterArgs, nil)
}

// startGroupWith is startGroup with extra arguments for the slave too.
func startGroupWith(t *testing.T, role string, masterArgs, slaveArgs []string) *rmqGroup {
	t.Helper()
	return startGroupOn(t, groupHosts{ns: "127.0.2.1", master: "127.0.2.11", slave: "127.0.2.12"}, role, masterArgs, slaveArgs)
}

// waitInSync waits until the master reports its slave in sync.
func (g *rmqGroup) waitInSync(t *testing.T) {
	t.Helper()
	waitFor(t, 60*time.Second, func() bool { v, _ := metric(g.masterHTTP, "twinmq_ha_slaves_in_sync"); return v == "1" })
}

func (g *rmqGroup) resolver() primitive.NsResolver {
	return primitive.NewPassthroughResolver([]string{g.nsAddr})
}

// groupHosts are the loopback addresses of a startGroupOn group.
type groupHosts struct{ ns, master, slave string }

// startGroupOn is startGroup on other addresses (a test of its own that
// may run beside the others' groups), with extra arguments for the slave
// too.
func startGroupOn(t *testing.T, h groupHosts, role string, masterArgs, slaveArgs []string) *rmqGroup {
	t.Helper()
	dir := t.TempDir()
	g := &rmqGroup{dir: dir, nsAddr: h.ns + ":9876", masterHTTP: h.master + ":8080"}
	for _, a := range []string{g.nsAddr, h.master + ":10911", h.slave + ":10911", h.master + ":10912"} {
		if listening(a) {
			t.Skipf("%s is taken: another cluster test or broker runs here", a)
		}
	}
	startNode(t, dir, "ns", "namesrv", "--namesrv-listen", g.nsAddr)
	brokerArgs := func(host, id, role string) []string {
		return []string{"broker", "--data-dir", filepath.Join(dir, "b"+id), "--broker-cluster-name", "C", "--broker-name", "b1",
			"--broker-id", id, "--broker-role", role, "--segment-size", fmt.Sprint(64 << 20),
			"--kafka-addr", host + ":9092", "--remoting-addr", host + ":10911", "--ha-addr", host + ":10912",
			"--http-addr", host + ":8080", "--namesrv-addr", g.nsAddr}
	}
	waitFor(t, 20*time.Second, func() bool { return listening(g.nsAddr) })
	g.master = startNode(t, dir, "master", append(brokerArgs(h.master, "0", role), masterArgs...)...)
	g.slave = startNode(t, dir, "slave", append(brokerArgs(h.slave, "1", "SLAVE"), slaveArgs...)...)
	g.waitInSync(t)
	return g
}

// twoGroups is a name server and two broker groups b1 and b2 of cluster C,
// one master each, as processes.
type twoGroups struct {
	dir   string
	ns    string            // the name server's address
	hosts map[string]string // group -> host
	kafka map[string]string // group -> Kafka address
	nodes map[string]*node
}

// startTwoGroups runs them on nsHost, b1Host and b2Host with the default
// ports, and waits until both brokers' Kafka Metadata list both masters.
func startTwoGroups(t *testing.T, nsHost, b1Host, b2Host string) *twoGroups {
	t.Helper()
	g := &twoGroups{dir: t.TempDir(), ns: nsHost + ":9876", hosts: map[string]string{"b1": b1Host, "b2": b2Host},
		kafka: map[string]string{"b1": b1Host + ":9092", "b2": b2Host + ":9092"}, nodes: map[string]*node{}}
	for _, a := range []string{g.ns, b1Host + ":9092", b2Host + ":9092", b1Host + ":10911", b2Host + ":10911"} {
		if listening(a) {
			t.Skipf("%s is taken: another cluster test or broker runs here", a)
		}
	}
	startNode(t, g.dir, "ns", "namesrv", "--namesrv-listen", g.ns)
	waitFor(t, 20*time.Second, func() bool { return listening(g.ns) })
	for _, name := range []string{"b1", "b2"} {
		h := g.hosts[name]
		g.nodes[name] = startNode(t, g.dir, name, "broker", "--data-dir", filepath.Join(g.dir, name), "--broker-cluster-name", "C",
			"--broker-name", name, "--segment-size", fmt.Sprint(64<<20),
			"--kafka-addr", h+":9092", "--remoting-addr", h+":10911", "--ha-addr", h+":10912",
			"--http-addr", h+":8080", "--namesrv-addr", g.ns)
	}
	// kgo caches a Metadata answer for a while: each try asks with a new
	// client until both brokers list both masters.
	brokersSeen := func(seed string) int {
		c, err := kgo.NewClient(kgo.SeedBrokers(seed))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		m, err := kadm.NewClient(c).BrokerMetadata(ctx)
		if err != nil {
			return 0
		}
		return len(m.Brokers)
	}
	waitFor(t, 30*time.Second, func() bool { return brokersSeen(g.kafka["b1"]) == 2 && brokersSeen(g.kafka["b2"]) == 2 })
	return g
}
