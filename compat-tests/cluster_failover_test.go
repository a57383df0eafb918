package compattests

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
)

// ctlGroup is three name servers with the embedded controller and one
// broker group of two brokers in controller mode, as processes on
// 127.0.5.x with the default ports: the README's cluster commands, for
// one group.
type ctlGroup struct {
	dir     string
	ns      string // ';'-separated name servers
	brokers [2]*node
	hosts   [2]string
}

func startCtlGroup(t *testing.T) *ctlGroup {
	t.Helper()
	g := &ctlGroup{dir: t.TempDir(), hosts: [2]string{"127.0.5.11", "127.0.5.12"}}
	peers := "n0-127.0.5.1:9878;n1-127.0.5.2:9878;n2-127.0.5.3:9878"
	g.ns = "127.0.5.1:9876;127.0.5.2:9876;127.0.5.3:9876"
	for _, a := range []string{"127.0.5.1:9876", "127.0.5.11:10911", "127.0.5.12:10911"} {
		if listening(a) {
			t.Skipf("%s is taken", a)
		}
	}
	for i := range 3 {
		startNode(t, g.dir, fmt.Sprint("ns", i), "namesrv", "--namesrv-listen", fmt.Sprintf("127.0.5.%d:9876", i+1),
			"--data-dir", filepath.Join(g.dir, fmt.Sprint("ns", i)), "--enable-controller-in-namesrv",
			"--controller-peers", peers, "--controller-self-id", fmt.Sprint("n", i))
	}
	for i, h := range g.hosts {
		g.brokers[i] = startNode(t, g.dir, fmt.Sprint("b", i), "broker", "--data-dir", filepath.Join(g.dir, fmt.Sprint("b", i)),
			"--broker-cluster-name", "C", "--broker-name", "b1", "--segment-size", fmt.Sprint(64<<20),
			"--kafka-addr", h+":9092", "--remoting-addr", h+":10911", "--ha-addr", h+":10912", "--http-addr", h+":8080",
			"--namesrv-addr", g.ns, "--enable-controller-mode", "--controller-addr", g.ns)
	}
	return g
}

// master returns the index of the broker that is master with its slave in
// sync, once there is one.
func (g *ctlGroup) master(t *testing.T) int {
	t.Helper()
	m := -1
	waitFor(t, 60*time.Second, func() bool {
		for i, h := range g.hosts {
			if v, _ := metric(h+":8080", "twinmq_ha_slaves_in_sync"); v == "1" {
				m = i
				return true
			}
		}
		return false
	})
	return m
}

// TestClusterControllerFailover: the controller elects the slave when the
// master is killed (kill -9), the old master rejoins as a slave when it
// restarts, and that repeats. A producer sends throughout; every message
// acknowledged with SEND_OK is in the final master's store, and the two
// stores hold the same CommitLog at the end. RTO is the time from the
// kill to the first SEND_OK of a producer that looks the route up afresh;
// TWINMQ_FAILOVER_KILLS sets the number of kills (default 2).
func TestClusterControllerFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	kills := 2
	if v, err := strconv.Atoi(os.Getenv("TWINMQ_FAILOVER_KILLS")); err == nil && v > 0 {
		kills = v
	}
	g := startCtlGroup(t)
	const topic = "ClusterFailoverTopic"
	resolver := primitive.NewPassthroughResolver(splitNS(g.ns))
	newProducer := func(name string) rocketmq.Producer {
		p, err := rocketmq.NewProducer(producer.WithNsResolver(resolver), producer.WithInstanceName(name),
			producer.WithGroupName("pg_failover"), producer.WithRetry(0), producer.WithSendMsgTimeout(3*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Start(); err != nil {
			t.Fatal(err)
		}
		return p
	}
	var (
		mu    sync.Mutex
		acked []string
		seq   int
	)
	// sendOnce sends one message with a fresh producer (a fresh route).
	sendOnce := func() (time.Time, bool) {
		mu.Lock()
		i := seq
		seq++
		mu.Unlock()
		p := newProducer(fmt.Sprint(instance(t), "-", i))
		defer p.Shutdown()
		r, err := p.SendSync(context.Background(), newMsg(topic, "TagF", i))
		if err != nil || r.Status != primitive.SendOK {
			return time.Time{}, false
		}
		mu.Lock()
		acked = append(acked, fmt.Sprint("body-", i))
		mu.Unlock()
		return time.Now(), true
	}
	m := g.master(t)
	waitFor(t, 60*time.Second, func() bool { _, ok := sendOnce(); return ok })

	// A steady producer, whose acknowledged sends the end checks too.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		p := newProducer(instance(t) + "-steady")
		defer p.Shutdown()
		for i := 1_000_000; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			r, err := p.SendSync(context.Background(), newMsg(topic, "TagF", i))
			if err == nil && r.Status == primitive.SendOK {
				mu.Lock()
				acked = append(acked, fmt.Sprint("body-", i))
				mu.Unlock()
			} else {
				time.Sleep(50 * time.Millisecond)
			}
		}
	})

	var rtos []time.Duration
	for k := range kills {
		time.Sleep(time.Second) // some traffic on this master
		killed := time.Now()
		g.brokers[m].kill9()
		var rto time.Duration
		waitFor(t, 60*time.Second, func() bool {
			at, ok := sendOnce()
			if ok {
				rto = at.Sub(killed)
			}
			return ok
		})
		rtos = append(rtos, rto)
		t.Logf("kill %d: broker %d killed, RTO %v", k+1, m, rto)
		g.brokers[m].restart(t) // rejoins as the slave
		m = g.master(t)
	}
	close(stop)
	wg.Wait()
	slices.Sort(rtos)
	t.Logf("RTO over %d kills: min %v, p50 %v, max %v", len(rtos), rtos[0], rtos[len(rtos)/2], rtos[len(rtos)-1])

	// Stop both; the master's store holds every acknowledged message and
	// the slave's log is the master's.
	for _, b := range g.brokers {
		b.signal(syscall.SIGTERM)
		b.wait()
	}
	bodies, masterLog := readStoredBodies(t, filepath.Join(g.dir, fmt.Sprint("b", m), "store"), topic)
	_, slaveLog := readStoredBodies(t, filepath.Join(g.dir, fmt.Sprint("b", 1-m), "store"), topic)
	lost := 0
	for _, b := range acked {
		if !bodies[b] {
			lost++
		}
	}
	t.Logf("acknowledged %d, lost %d", len(acked), lost)
	if lost > 0 {
		t.Errorf("%d acknowledged messages are not on the final master", lost)
	}
	if len(slaveLog) > len(masterLog) || !bytes.Equal(slaveLog, masterLog[:len(slaveLog)]) {
		t.Errorf("the slave's CommitLog (%d bytes) is not a prefix of the master's (%d)", len(slaveLog), len(masterLog))
	}
}

func splitNS(s string) []string {
	var out []string
	for _, a := range bytes.Split([]byte(s), []byte(";")) {
		out = append(out, string(a))
	}
	return out
}
