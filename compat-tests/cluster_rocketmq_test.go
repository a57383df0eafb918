package compattests

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"

	"github.com/twinmq/twinmq/nameserver"
	"github.com/twinmq/twinmq/storage"
	"github.com/twinmq/twinmq/wire/remoting"
)

// TestClusterPushConsumerReadsFromSlave: a broker group of a SYNC_MASTER
// and a slave, as processes. A rocketmq-client-go push consumer runs
// while the master is killed (kill -9): it consumes every message the
// producer sent with SEND_OK, from the slave, once, with tags, keys,
// properties and ids as sent. When the master returns, the messages sent
// to it reach the same consumer, none of the earlier ones come again, and
// the offsets the consumer commits reach the master.
func TestClusterPushConsumerReadsFromSlave(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	g := startGroup(t, "SYNC_MASTER")
	const topic, group, tag, n1, n2 = "ClusterSlaveReadTopic", "cg_cluster_slave", "TagS", 60, 20

	p, err := rocketmq.NewProducer(producer.WithNsResolver(g.resolver()), producer.WithInstanceName(instance(t)),
		producer.WithGroupName("pg_cluster"), producer.WithRetry(2))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown()
	send := func(from, n int) []sentMsg {
		var out []sentMsg
		for i := from; i < from+n; i++ {
			m := newMsg(topic, tag, i)
			born := time.Now()
			var r *primitive.SendResult
			waitFor(t, 60*time.Second, func() bool { // the route may lag a (re)started master
				r, err = p.SendSync(context.Background(), m)
				return err == nil
			})
			if r.Status != primitive.SendOK {
				t.Fatalf("send %d: status %v", i, r.Status)
			}
			out = append(out, sentFrom(i, m, r, born))
		}
		return out
	}
	sent := send(0, 1) // creates the topic

	// The consumer takes one message at a time and holds it until gate
	// opens, so that most of what is sent next is still on the brokers
	// when the master dies.
	col := newCollector()
	gate := make(chan struct{})
	pc, err := rocketmq.NewPushConsumer(consumer.WithNsResolver(g.resolver()), consumer.WithInstance(instance(t)),
		consumer.WithGroupName(group), consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
		consumer.WithPullBatchSize(1), consumer.WithPullThresholdForQueue(1), consumer.WithConsumeMessageBatchMaxSize(1))
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.Subscribe(topic, consumer.MessageSelector{Type: consumer.TAG, Expression: tag},
		func(ctx context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
			col.add(msgs...)
			<-gate
			return consumer.ConsumeSuccess, nil
		}); err != nil {
		t.Fatal(err)
	}
	if err := pc.Start(); err != nil {
		t.Fatal(err)
	}
	defer pc.Shutdown()
	defer func() {
		select {
		case <-gate:
		default:
			close(gate)
		}
	}()
	waitFor(t, 60*time.Second, func() bool { return col.n.Load() >= 1 })
	sent = append(sent, send(1, n1-1)...)

	g.master.kill9()
	if got := col.n.Load(); got >= n1/2 {
		t.Fatalf("the consumer took %d of %d messages from the master: too few left for the slave", got, n1)
	}
	close(gate)
	waitFor(t, 120*time.Second, func() bool { return col.n.Load() >= n1 })
	checkAll := func(sent []sentMsg) {
		t.Helper()
		col.mu.Lock()
		defer col.mu.Unlock()
		for _, s := range sent {
			got := col.msgs[fmt.Sprint("body-", s.i)]
			if len(got) != 1 {
				t.Errorf("message %d consumed %d times", s.i, len(got))
				continue
			}
			checkMsg(t, got[0], topic, tag, s)
		}
	}
	checkAll(sent)

	// The master returns with its data; the producer writes to it again.
	g.master.restart(t)
	g.waitInSync(t)
	sent = append(sent, send(n1, n2)...)
	waitFor(t, 120*time.Second, func() bool { return col.n.Load() >= n1+n2 })
	// The consumer commits to the master every 5 s (persistConsumerOffset).
	waitFor(t, 60*time.Second, func() bool { return brokerCommitted(t, "127.0.2.11:10911", group, topic) == n1+n2 })
	if got := col.n.Load(); got != n1+n2 {
		t.Errorf("consumed %d messages, sent %d", got, n1+n2)
	}
	checkAll(sent)
}

// brokerCommitted is the sum over the topic's queues of the group's offsets on
// the broker at addr (QUERY_CONSUMER_OFFSET), -1 if a query fails.
func brokerCommitted(t *testing.T, addr, group, topic string) int64 {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	c, err := nameserver.Dial(ctx, addr)
	if err != nil {
		return -1
	}
	defer c.Close()
	var sum int64
	for q := range 4 {
		req := remoting.NewRequest(remoting.QueryConsumerOffset, 0)
		req.ExtFields["consumerGroup"], req.ExtFields["topic"], req.ExtFields["queueId"] = group, topic, strconv.Itoa(q)
		resp, err := c.Invoke(ctx, req)
		if err != nil {
			return -1
		}
		if resp.Code != remoting.Success {
			continue // a queue the producer did not use
		}
		off, err := strconv.ParseInt(resp.ExtFields["offset"], 10, 64)
		if err != nil {
			return -1
		}
		sum += off
	}
	return sum
}

// TestClusterKillMasterLosesNothingAcknowledged: producers send to a
// SYNC_MASTER while it is killed (kill -9). Every message acknowledged
// with SEND_OK is on the slave, read back from the slave's own store; and
// after the master returns and the slave catches up, the two CommitLogs
// do not diverge (the slave's is a prefix of the master's, byte for
// byte).
func TestClusterKillMasterLosesNothingAcknowledged(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	g := startGroup(t, "SYNC_MASTER")
	const topic = "ClusterKillMasterTopic"
	p, err := rocketmq.NewProducer(producer.WithNsResolver(g.resolver()), producer.WithInstanceName(instance(t)),
		producer.WithGroupName("pg_cluster_kill"), producer.WithRetry(0))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown()
	waitFor(t, 60*time.Second, func() bool {
		_, err := p.SendSync(context.Background(), newMsg(topic, "TagK", -1))
		return err == nil
	})

	// Four senders; the master dies under them.
	var mu sync.Mutex
	acked := map[string]bool{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := w; ; i += 4 {
				select {
				case <-stop:
					return
				default:
				}
				r, err := p.SendSync(context.Background(), newMsg(topic, "TagK", i))
				if err == nil && r.Status == primitive.SendOK {
					mu.Lock()
					acked[fmt.Sprint("body-", i)] = true
					mu.Unlock()
				}
			}
		})
	}
	waitFor(t, 60*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return len(acked) >= 400 })
	g.master.kill9()
	close(stop)
	wg.Wait()

	// The slave's store, read directly once it has stopped.
	g.slave.signal(syscall.SIGTERM)
	g.slave.wait()
	bodies, _ := readStoredBodies(t, filepath.Join(g.dir, "b1", "store"), topic)
	lost := 0
	for b := range acked {
		if !bodies[b] {
			lost++
		}
	}
	t.Logf("acknowledged %d messages; lost %d; the slave holds %d", len(acked), lost, len(bodies))
	if lost > 0 {
		t.Fatalf("%d acknowledged messages are not on the slave", lost)
	}

	// Heal: both come back, the slave catches up; no divergence.
	g.master.restart(t)
	g.slave.restart(t)
	g.waitInSync(t)
	g.slave.signal(syscall.SIGTERM)
	g.master.signal(syscall.SIGTERM)
	g.slave.wait()
	g.master.wait()
	_, masterLog := readStoredBodies(t, filepath.Join(g.dir, "b0", "store"), topic)
	_, slaveLog := readStoredBodies(t, filepath.Join(g.dir, "b1", "store"), topic)
	if len(slaveLog) > len(masterLog) || !bytes.Equal(slaveLog, masterLog[:len(slaveLog)]) {
		t.Fatalf("the slave's CommitLog (%d bytes) is not a prefix of the master's (%d bytes)", len(slaveLog), len(masterLog))
	}
}

// readStoredBodies opens a stopped broker's store and returns the bodies
// of every message of topic in it, and its whole CommitLog.
func readStoredBodies(t *testing.T, dir, topic string) (map[string]bool, []byte) {
	t.Helper()
	s, err := storage.Open(context.Background(), storage.Config{Dir: dir, SegmentSize: 64 << 20, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	bodies := map[string]bool{}
	for _, q := range s.Queues(topic) {
		for off := q.Min; off < q.Max; {
			r, err := s.Read(topic, q.Queue, off, storage.ReadOptions{MaxEntries: 256})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range r.Entries {
				m, _, err := remoting.DecodeStoredMessage(e.Payload)
				if err != nil {
					t.Fatalf("%s/%d@%d: %v", topic, q.Queue, off, err)
				}
				bodies[string(m.Body)] = true
			}
			next := r.NextOffset
			r.Release()
			if next <= off {
				break
			}
			off = next
		}
	}
	return bodies, storedLog(t, s)
}

// readStoredLog is the CommitLog bytes of the store in dir.
func readStoredLog(t *testing.T, dir string) []byte {
	t.Helper()
	s, err := storage.Open(context.Background(), storage.Config{Dir: dir, SegmentSize: 64 << 20, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	return storedLog(t, s)
}

func storedLog(t *testing.T, s *storage.Store) []byte {
	t.Helper()
	min, written := s.LogRange()
	log := make([]byte, 0, written-min)
	buf := make([]byte, 1<<20)
	for at := min; at < written; {
		n, err := s.ReadLog(at, buf)
		if err != nil || n == 0 {
			t.Fatalf("read the log at %d: %d %v", at, n, err)
		}
		log = append(log, buf[:n]...)
		at += int64(n)
	}
	return log
}

// TestClusterSlaveStoppedUnderSyncMaster: the slave of a SYNC_MASTER is
// stopped (SIGSTOP) while a producer sends. Sends are answered
// FLUSH_SLAVE_TIMEOUT (stored on the master, not confirmed) until the
// master drops the silent slave, then SEND_OK from the master alone; none
// fails or is lost. After SIGCONT the slave catches up: both stores hold
// every message that was answered, and the same CommitLog.
func TestClusterSlaveStoppedUnderSyncMaster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	g := startGroup(t, "SYNC_MASTER")
	const topic = "ClusterSlaveStopTopic"
	p, err := rocketmq.NewProducer(producer.WithNsResolver(g.resolver()), producer.WithInstanceName(instance(t)),
		producer.WithGroupName("pg_cluster_stop"), producer.WithRetry(0), producer.WithSendMsgTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown()
	answered := map[string]bool{}
	counts := map[primitive.SendStatus]int{}
	send := func(i int) primitive.SendStatus {
		t.Helper()
		r, err := p.SendSync(context.Background(), newMsg(topic, "TagP", i))
		if err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		counts[r.Status]++
		if r.Status == primitive.SendOK || r.Status == primitive.SendFlushSlaveTimeout {
			answered[fmt.Sprint("body-", i)] = true
		}
		return r.Status
	}
	waitFor(t, 60*time.Second, func() bool { // the new topic's route
		_, err := p.SendSync(context.Background(), newMsg(topic, "TagP", -1))
		return err == nil
	})
	i := 0
	for ; i < 20; i++ {
		if s := send(i); s != primitive.SendOK {
			t.Fatalf("send %d with the slave in sync: %v", i, s)
		}
	}

	g.slave.signal(syscall.SIGSTOP)
	timedOut, okAfter := 0, 0
	for deadline := time.Now().Add(90 * time.Second); okAfter < 10; i++ {
		if time.Now().After(deadline) {
			t.Fatalf("no SEND_OK after the slave stopped: %v", counts)
		}
		switch s := send(i); {
		case s == primitive.SendFlushSlaveTimeout && okAfter == 0:
			timedOut++
		case s == primitive.SendOK && timedOut > 0:
			okAfter++
		case s == primitive.SendOK:
			// sent before the master noticed anything
		default:
			t.Fatalf("send %d: status %v after %d timeouts and %d OK", i, s, timedOut, okAfter)
		}
	}
	t.Logf("with the slave stopped: %v (FLUSH_SLAVE_TIMEOUT is %d, SEND_OK %d)", counts,
		primitive.SendFlushSlaveTimeout, primitive.SendOK)
	if timedOut == 0 {
		t.Fatal("no send waited for the stopped slave")
	}

	g.slave.signal(syscall.SIGCONT)
	g.waitInSync(t)
	for j := 0; j < 10; j, i = j+1, i+1 {
		if s := send(i); s != primitive.SendOK {
			t.Fatalf("send %d with the slave back: %v", i, s)
		}
	}
	g.slave.signal(syscall.SIGTERM)
	g.master.signal(syscall.SIGTERM)
	g.slave.wait()
	g.master.wait()
	masterBodies, masterLog := readStoredBodies(t, filepath.Join(g.dir, "b0", "store"), topic)
	slaveBodies, slaveLog := readStoredBodies(t, filepath.Join(g.dir, "b1", "store"), topic)
	for b := range answered {
		if !masterBodies[b] || !slaveBodies[b] {
			t.Errorf("%s answered but on the master %v, on the slave %v", b, masterBodies[b], slaveBodies[b])
		}
	}
	if !bytes.Equal(slaveLog, masterLog) {
		t.Fatalf("the CommitLogs differ: slave %d bytes, master %d", len(slaveLog), len(masterLog))
	}
}

// TestClusterSlowConsumerSentToSlave: a master with slaveReadEnable and
// accessMessageInMemoryMaxRatio 0 (any consumer behind its written end
// counts as slow) answers pulls with suggestWhichBrokerId 1, and a
// rocketmq-client-go push consumer then pulls from the slave (the slave
// serves PULL_MESSAGE requests), consuming every message once. Without
// the setting the slave serves none (TestClusterPushConsumerReadsFromSlave
// reads from it only while the master is down).
func TestClusterSlowConsumerSentToSlave(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	g := startGroup(t, "ASYNC_MASTER", "--slave-read-enable", "--access-message-in-memory-max-ratio", "0")
	const topic, group, n = "ClusterSlowConsumerTopic", "cg_cluster_slow", 100
	p, err := rocketmq.NewProducer(producer.WithNsResolver(g.resolver()), producer.WithInstanceName(instance(t)),
		producer.WithGroupName("pg_cluster_slow"))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown()
	for i := range n {
		m := newMsg(topic, "TagW", i)
		waitFor(t, 60*time.Second, func() bool {
			r, err := p.SendSync(context.Background(), m)
			return err == nil && r.Status == primitive.SendOK
		})
	}
	g.waitInSync(t)
	col := newCollector()
	pc, err := rocketmq.NewPushConsumer(consumer.WithNsResolver(g.resolver()), consumer.WithInstance(instance(t)),
		consumer.WithGroupName(group), consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
		consumer.WithPullBatchSize(4))
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.Subscribe(topic, consumer.MessageSelector{Type: consumer.TAG, Expression: "*"},
		func(ctx context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
			col.add(msgs...)
			return consumer.ConsumeSuccess, nil
		}); err != nil {
		t.Fatal(err)
	}
	if err := pc.Start(); err != nil {
		t.Fatal(err)
	}
	defer pc.Shutdown()
	waitFor(t, 60*time.Second, func() bool { return col.n.Load() >= n })
	col.mu.Lock()
	for i := range n {
		if c := len(col.msgs[fmt.Sprint("body-", i)]); c != 1 {
			t.Errorf("message %d consumed %d times", i, c)
		}
	}
	col.mu.Unlock()
	pulls := labelled(t, "127.0.2.12:8080", `twinmq_remoting_requests_total{code="11"}`)
	if pulls == 0 {
		t.Error("the slave served no PULL_MESSAGE: the consumer never followed suggestWhichBrokerId 1")
	}
	t.Logf("pulls served by the slave: %v", pulls)
}

// labelled reads one labelled sample (name{labels} as written) from a
// node's /metrics; 0 when absent.
func labelled(t *testing.T, addr, series string) float64 {
	t.Helper()
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f
		}
	}
	return 0
}
