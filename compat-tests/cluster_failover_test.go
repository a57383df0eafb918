package compattests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/controller"
	"github.com/twinmq/twinmq/nameserver"
	"github.com/twinmq/twinmq/wire/remoting"
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
	nss     [3]*node
}

// startCtlGroup starts it on net (e.g. "127.0.5"): name servers on .1-.3,
// brokers on .11 and .12; extra arguments go to every node (a
// --registration-secret).
func startCtlGroup(t *testing.T, net string, extra ...string) *ctlGroup {
	t.Helper()
	g := &ctlGroup{dir: t.TempDir(), hosts: [2]string{net + ".11", net + ".12"}}
	peers := fmt.Sprintf("n0-%[1]s.1:9878;n1-%[1]s.2:9878;n2-%[1]s.3:9878", net)
	g.ns = fmt.Sprintf("%[1]s.1:9876;%[1]s.2:9876;%[1]s.3:9876", net)
	for _, a := range []string{net + ".1:9876", net + ".11:10911", net + ".12:10911"} {
		if listening(a) {
			t.Skipf("%s is taken", a)
		}
	}
	for i := range 3 {
		args := []string{"namesrv", "--namesrv-listen", fmt.Sprintf("%s.%d:9876", net, i+1),
			"--data-dir", filepath.Join(g.dir, fmt.Sprint("ns", i)), "--enable-controller-in-namesrv",
			"--controller-peers", peers, "--controller-self-id", fmt.Sprint("n", i)}
		g.nss[i] = startNode(t, g.dir, fmt.Sprint("ns", i), append(args, extra...)...)
	}
	for i, h := range g.hosts {
		args := []string{"broker", "--data-dir", filepath.Join(g.dir, fmt.Sprint("b", i)),
			"--broker-cluster-name", "C", "--broker-name", "b1", "--segment-size", fmt.Sprint(64 << 20),
			"--kafka-addr", h + ":9092", "--remoting-addr", h + ":10911", "--ha-addr", h + ":10912", "--http-addr", h + ":8080",
			"--namesrv-addr", g.ns, "--enable-controller-mode", "--controller-addr", g.ns}
		g.brokers[i] = startNode(t, g.dir, fmt.Sprint("b", i), append(args, extra...)...)
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
	g := startCtlGroup(t, "127.0.5", "--registration-secret", "failover-secret") // controller requests signed
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

	g.stopAndCheck(t, m, topic, acked)
}

func splitNS(s string) []string {
	var out []string
	for _, a := range bytes.Split([]byte(s), []byte(";")) {
		out = append(out, string(a))
	}
	return out
}

// TestClusterControllerStoppedMaster: the master is stopped (SIGSTOP) past
// the controller's heartbeat timeout; the slave is elected and takes
// writes. When the old master continues (SIGCONT) it acknowledges nothing:
// a send to it directly is refused while its lease has lapsed, and it then
// rejoins as the slave, its unreplicated tail cut. Every acknowledged
// message is on the final master.
func TestClusterControllerStoppedMaster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	g := startCtlGroup(t, "127.0.6")
	const topic = "ClusterStoppedMasterTopic"
	resolver := primitive.NewPassthroughResolver(splitNS(g.ns))
	var seq int
	var acked []string
	send := func(opts ...producer.Option) (primitive.SendStatus, error) {
		seq++
		p, err := rocketmq.NewProducer(append([]producer.Option{producer.WithNsResolver(resolver),
			producer.WithInstanceName(fmt.Sprint(instance(t), "-", seq)), producer.WithGroupName("pg_stopped"),
			producer.WithRetry(0), producer.WithSendMsgTimeout(3 * time.Second)}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Start(); err != nil {
			t.Fatal(err)
		}
		defer p.Shutdown()
		r, err := p.SendSync(context.Background(), newMsg(topic, "TagS", seq))
		if err != nil {
			return 0, err
		}
		if r.Status == primitive.SendOK {
			acked = append(acked, fmt.Sprint("body-", seq))
		}
		return r.Status, nil
	}
	m := g.master(t)
	waitFor(t, 60*time.Second, func() bool { s, err := send(); return err == nil && s == primitive.SendOK })
	for range 20 {
		if s, err := send(); err != nil || s != primitive.SendOK {
			t.Fatalf("send before the stop: %v %v", s, err)
		}
	}

	stopped := time.Now()
	g.brokers[m].signal(syscall.SIGSTOP)
	waitFor(t, 60*time.Second, func() bool { s, err := send(); return err == nil && s == primitive.SendOK })
	t.Logf("a new master took a write %v after the old one stopped", time.Since(stopped))

	// The old master continues: a send addressed to it alone is refused.
	g.brokers[m].signal(syscall.SIGCONT)
	refused := 0
	for i := range 5 {
		code, err := sendTo(g.hosts[m]+":10911", topic, i)
		if err == nil && code == remoting.Success {
			t.Fatalf("the stale master acknowledged a send after SIGCONT")
		}
		if err == nil {
			refused++
		}
	}
	t.Logf("the stale master refused %d of 5 direct sends (the others found it restarting)", refused)
	m2 := g.master(t) // the old master back as the slave, in sync
	if m2 == m {
		t.Fatalf("broker %d is master again", m)
	}
	for range 20 {
		if s, err := send(); err != nil || s != primitive.SendOK {
			t.Fatalf("send after the heal: %v %v", s, err)
		}
	}
	g.stopAndCheck(t, m2, topic, acked)
}

// sendTo sends one message to the broker at addr itself (SEND_MESSAGE)
// and returns the response code.
func sendTo(addr, topic string, i int) (int32, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	c, err := nameserver.Dial(ctx, addr)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	req := remoting.NewRequest(remoting.SendMessage, 0)
	for k, v := range map[string]string{"producerGroup": "pg_direct", "topic": topic, "defaultTopic": "TBW102",
		"defaultTopicQueueNums": "4", "queueId": "0", "sysFlag": "0", "bornTimestamp": fmt.Sprint(time.Now().UnixMilli()),
		"flag": "0", "properties": "TAGS\x01D\x02"} {
		req.ExtFields[k] = v
	}
	req.Body = fmt.Appendf(nil, "direct-%d", i)
	resp, err := c.Invoke(ctx, req)
	if err != nil {
		return 0, err
	}
	return resp.Code, nil
}

// TestClusterControllerFailoverKafka: franz-go, sarama and librdkafka
// across a failover. The clients know both brokers as seeds (only the
// master listens for Kafka). An acks=all franz-go producer writes before
// the master is killed, a sarama one and a librdkafka one (both made
// before the kill) after; a
// consumer group reads with commits. Every acknowledged record
// is consumed, in order per partition, and once the group has committed
// past a record on the old master, no member gets it again from the new
// one (the committed offsets and the group came with the CommitLog).
func TestClusterControllerFailoverKafka(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	g := startCtlGroup(t, "127.0.7")
	m := g.master(t)
	seeds := kgo.SeedBrokers(g.hosts[0]+":9092", g.hosts[1]+":9092")
	const topic, n1, n2, n3, n4 = "cluster-failover-kafka", 200, 200, 50, 50
	p, err := kgo.NewClient(seeds, kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(0),
		kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	produce := func(from, n int) {
		t.Helper()
		for i := from; i < from+n; i++ {
			r := &kgo.Record{Partition: int32(i % 2), Key: []byte(fmt.Sprint("k", i%2)), Value: []byte(fmt.Sprint(i))}
			waitFor(t, 60*time.Second, func() bool { return p.ProduceSync(context.Background(), r).FirstErr() == nil })
		}
	}
	adm, err := kgo.NewClient(seeds)
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	waitFor(t, 60*time.Second, func() bool {
		req := kmsg.NewPtrCreateTopicsRequest()
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, 2, -1
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(context.Background(), adm)
		return err == nil && (resp.Topics[0].ErrorCode == 0 || resp.Topics[0].ErrorCode == 36)
	})
	produce(0, n1)

	got := map[int32][]int{}
	var gmu sync.Mutex
	consume := func(c *kgo.Client, until int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		for {
			gmu.Lock()
			total := len(got[0]) + len(got[1])
			gmu.Unlock()
			if total >= until || ctx.Err() != nil {
				return
			}
			fs := c.PollFetches(ctx)
			fs.EachRecord(func(r *kgo.Record) {
				v, _ := strconv.Atoi(string(r.Value))
				gmu.Lock()
				got[r.Partition] = append(got[r.Partition], v)
				gmu.Unlock()
			})
			_ = c.CommitUncommittedOffsets(ctx)
		}
	}
	c, err := kgo.NewClient(seeds, kgo.ConsumerGroup("cg-cluster-kafka"), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	if err != nil {
		t.Fatal(err)
	}
	consume(c, n1)
	if err := c.CommitUncommittedOffsets(context.Background()); err != nil {
		t.Fatal(err)
	}
	c.Close() // leaves the group with its offsets committed

	// The second half is sarama's (acks=all), a client made while the old
	// master still ran.
	scfg := saramaConfig(sarama.V2_8_0_0, sarama.WaitForAll, sarama.CompressionNone)
	scfg.Producer.Retry.Max, scfg.Producer.Retry.Backoff = 100, 100*time.Millisecond
	scfg.Metadata.Retry.Max, scfg.Metadata.Retry.Backoff = 100, 100*time.Millisecond
	sp, err := sarama.NewSyncProducer([]string{g.hosts[0] + ":9092", g.hosts[1] + ":9092"}, scfg)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	// And librdkafka's (confluent-kafka-go, idempotent, acks=all), also
	// made before the kill.
	rp, err := ckafka.NewProducer(&ckafka.ConfigMap{"bootstrap.servers": g.hosts[0] + ":9092," + g.hosts[1] + ":9092",
		"enable.idempotence": true, "acks": "all", "linger.ms": 0, "log_level": 2}) // quiet: the dead master refuses connections
	if err != nil {
		t.Fatal(err)
	}
	defer rp.Close()
	g.brokers[m].kill9()
	for i := n1; i < n1+n2; i++ { // to the new master, through the seeds
		msg := &sarama.ProducerMessage{Topic: topic, Partition: int32(i % 2), Key: sarama.StringEncoder(fmt.Sprint("k", i%2)),
			Value: sarama.StringEncoder(fmt.Sprint(i))}
		waitFor(t, 60*time.Second, func() bool { _, _, err := sp.SendMessage(msg); return err == nil })
	}
	// The idempotent franz-go producer goes on too: its producer id and
	// sequence numbers came with the CommitLog, so the new master takes
	// its next batches in sequence.
	produce(n1+n2, n3)
	for i := n1 + n2 + n3; i < n1+n2+n3+n4; i++ {
		tp := topic
		waitFor(t, 60*time.Second, func() bool {
			done := make(chan ckafka.Event, 1)
			err := rp.Produce(&ckafka.Message{TopicPartition: ckafka.TopicPartition{Topic: &tp, Partition: int32(i % 2)},
				Key: []byte(fmt.Sprint("k", i%2)), Value: []byte(fmt.Sprint(i))}, done)
			if err != nil {
				return false
			}
			m, ok := (<-done).(*ckafka.Message)
			return ok && m.TopicPartition.Error == nil
		})
	}
	c2, err := kgo.NewClient(seeds, kgo.ConsumerGroup("cg-cluster-kafka"), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	consume(c2, n1+n2+n3+n4)
	gmu.Lock()
	defer gmu.Unlock()
	for part, vs := range got {
		want := []int{}
		for i := int(part); i < n1+n2+n3+n4; i += 2 {
			want = append(want, i)
		}
		if !slices.Equal(vs, want) {
			t.Errorf("partition %d: consumed %d records %v..., want %d in order, each once", part, len(vs), vs[:min(10, len(vs))], len(want))
		}
	}
}

// TestClusterControllerRestartAll: every process of a controller-mode
// cluster stops (SIGTERM) and starts again on its data: the controllers
// recover their raft state, the brokers their ids and roles, and
// everything acknowledged before is still there, on the master and its
// slave alike.
func TestClusterControllerRestartAll(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	g := startCtlGroup(t, "127.0.8")
	const topic = "ClusterRestartAllTopic"
	p, err := rocketmq.NewProducer(producer.WithNsResolver(primitive.NewPassthroughResolver(splitNS(g.ns))),
		producer.WithInstanceName(instance(t)), producer.WithGroupName("pg_restart_all"), producer.WithRetry(0))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	var acked []string
	send := func(from, n int) {
		t.Helper()
		for i := from; i < from+n; i++ {
			waitFor(t, 60*time.Second, func() bool {
				r, err := p.SendSync(context.Background(), newMsg(topic, "TagA", i))
				return err == nil && r.Status == primitive.SendOK
			})
			acked = append(acked, fmt.Sprint("body-", i))
		}
	}
	m := g.master(t)
	send(0, 100)
	p.Shutdown()

	for _, n := range append(g.brokers[:], g.nss[:]...) {
		n.signal(syscall.SIGTERM)
		n.wait()
	}
	for _, n := range append(g.nss[:], g.brokers[:]...) {
		n.restart(t)
	}
	m2 := g.master(t)
	t.Logf("master before the restart: broker %d, after: broker %d", m, m2)
	g.checkClusterInfo(t)
	p, err = rocketmq.NewProducer(producer.WithNsResolver(primitive.NewPassthroughResolver(splitNS(g.ns))),
		producer.WithInstanceName(instance(t)+"-2"), producer.WithGroupName("pg_restart_all"), producer.WithRetry(0))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown()
	send(100, 100)
	g.waitSlaveCaughtUp(t, m2)
	for _, b := range g.brokers {
		b.signal(syscall.SIGTERM)
		b.wait()
	}
	for i := range g.brokers {
		bodies, _ := readStoredBodies(t, filepath.Join(g.dir, fmt.Sprint("b", i), "store"), topic)
		for _, b := range acked {
			if !bodies[b] {
				t.Errorf("broker %d lacks %s", i, b)
			}
		}
	}
}

// waitSlaveCaughtUp waits until master m reports its slave 0 bytes
// behind.
func (g *ctlGroup) waitSlaveCaughtUp(t *testing.T, m int) {
	t.Helper()
	waitFor(t, 60*time.Second, func() bool {
		c := http.Client{Timeout: 2 * time.Second}
		resp, err := c.Get("http://" + g.hosts[m] + ":8080/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		for _, line := range bytes.Split(b, []byte("\n")) {
			if bytes.HasPrefix(line, []byte("twinmq_ha_slave_lag_bytes{")) && bytes.HasSuffix(line, []byte("} 0")) {
				return true
			}
		}
		return false
	})
}

// checkClusterInfo runs `twinmq cluster info --format json` and checks
// what an operator reads there in controller mode: one master (id 0) with
// its masterEpoch and a SyncStateSet of both brokers, and one slave
// streaming from it.
func (g *ctlGroup) checkClusterInfo(t *testing.T) {
	t.Helper()
	var view struct {
		Clusters []struct {
			Groups []struct {
				Members []struct {
					BrokerID     int64   `json:"brokerId"`
					Role         string  `json:"role"`
					MasterEpoch  *int32  `json:"masterEpoch"`
					SyncStateSet []int64 `json:"syncStateSet"`
					Connected    *bool   `json:"connected"`
				} `json:"members"`
			} `json:"brokerGroups"`
		} `json:"clusters"`
	}
	waitFor(t, 30*time.Second, func() bool {
		out, err := exec.Command(buildTwinmq(t), "cluster", "info", "--namesrv-addr", g.ns, "--format", "json").Output()
		if err != nil || json.Unmarshal(out, &view) != nil || len(view.Clusters) != 1 || len(view.Clusters[0].Groups) != 1 {
			return false
		}
		ms := view.Clusters[0].Groups[0].Members
		if len(ms) != 2 {
			return false
		}
		master, slave := ms[0], ms[1]
		return master.BrokerID == 0 && master.Role == "SYNC_MASTER" && master.MasterEpoch != nil &&
			len(master.SyncStateSet) == 2 && slave.Role == "SLAVE" && slave.Connected != nil && *slave.Connected
	})
}

// TestClusterControllerSlaveAndControllerLoss: under a steady producer,
// the slave of a controller-mode group is killed (the master drops it from
// the SyncStateSet through the controller and goes on alone) and comes
// back (it rejoins the set); then the controller's raft leader, a name
// server, is killed (the other two elect a leader and the brokers go on).
// Writes resume after each fault, and every acknowledged message is on
// the master at the end, its slave's log a prefix of its own.
func TestClusterControllerSlaveAndControllerLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	g := startCtlGroup(t, "127.0.9")
	const topic = "ClusterSlaveLossTopic"
	p, err := rocketmq.NewProducer(producer.WithNsResolver(primitive.NewPassthroughResolver(splitNS(g.ns))),
		producer.WithInstanceName(instance(t)), producer.WithGroupName("pg_slave_loss"), producer.WithRetry(0))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown()
	var (
		mu    sync.Mutex
		acked []string
	)
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
	stop := make(chan struct{})
	var wg sync.WaitGroup
	m := g.master(t)
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			r, err := p.SendSync(context.Background(), newMsg(topic, "TagL", i))
			if err == nil && r.Status == primitive.SendOK {
				mu.Lock()
				acked = append(acked, fmt.Sprint("body-", i))
				mu.Unlock()
			} else {
				time.Sleep(20 * time.Millisecond)
			}
		}
	})
	progress := func(what string) {
		t.Helper()
		n := count()
		waitFor(t, 60*time.Second, func() bool { return count() >= n+50 })
		t.Logf("%s: writes go on (%d acknowledged)", what, count())
	}
	progress("before the faults")

	g.brokers[1-m].kill9()
	progress("slave killed")
	g.brokers[1-m].restart(t)
	if got := g.master(t); got != m {
		t.Fatalf("the master changed from %d to %d", m, got)
	}
	progress("slave back in the SyncStateSet")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := controller.NewClient(g.ns)
	if err != nil {
		t.Fatal(err)
	}
	md, err := c.Metadata(ctx, splitNS(g.ns)[0])
	c.Close()
	if err != nil {
		t.Fatal(err)
	}
	leader := -1
	for i := range g.nss {
		if md.LeaderID == fmt.Sprint("n", i) {
			leader = i
		}
	}
	if leader < 0 {
		t.Fatalf("no controller leader in %+v", md)
	}
	g.nss[leader].kill9()
	progress(fmt.Sprintf("controller leader n%d killed", leader))

	close(stop)
	wg.Wait()
	g.stopAndCheck(t, m, topic, acked)
}

// TestClusterControllerFailoverKeepsDelays: messages sent with a delay
// level to the master, which is killed before they are due, are delivered
// by the new master when due: the delay queues and their progress came
// with the CommitLog. Each arrives once, with its tag and key.
func TestClusterControllerFailoverKeepsDelays(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	g := startCtlGroup(t, "127.0.10")
	const topic, group, n = "ClusterDelayTopic", "cg_cluster_delay", 10
	resolver := primitive.NewPassthroughResolver(splitNS(g.ns))
	p, err := rocketmq.NewProducer(producer.WithNsResolver(resolver), producer.WithInstanceName(instance(t)),
		producer.WithGroupName("pg_cluster_delay"), producer.WithRetry(0))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	m := g.master(t)
	waitFor(t, 60*time.Second, func() bool { // the topic, created by a plain message
		r, err := p.SendSync(context.Background(), newMsg(topic, "TagPlain", -1))
		return err == nil && r.Status == primitive.SendOK
	})
	for i := range n {
		msg := newMsg(topic, "TagD", i)
		msg.WithDelayTimeLevel(3) // 10 s
		if r, err := p.SendSync(context.Background(), msg); err != nil || r.Status != primitive.SendOK {
			t.Fatalf("delayed send %d: %v %v", i, r, err)
		}
	}
	p.Shutdown()
	g.brokers[m].kill9()
	sent := time.Now()

	col := newCollector()
	waitFor(t, 60*time.Second, func() bool { return listening(g.hosts[1-m] + ":9092") }) // promoted: its writers run
	pc, err := rocketmq.NewPushConsumer(consumer.WithNsResolver(resolver), consumer.WithInstance(instance(t)),
		consumer.WithGroupName(group), consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset))
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.Subscribe(topic, consumer.MessageSelector{Type: consumer.TAG, Expression: "TagD"}, col.handler); err != nil {
		t.Fatal(err)
	}
	if err := pc.Start(); err != nil {
		t.Fatal(err)
	}
	defer pc.Shutdown()
	waitFor(t, 90*time.Second, func() bool { return col.n.Load() >= n })
	t.Logf("%d delayed messages delivered by the new master %v after the old one died", n, time.Since(sent))
	time.Sleep(2 * time.Second) // a second delivery would show here
	col.mu.Lock()
	defer col.mu.Unlock()
	for i := range n {
		got := col.msgs[fmt.Sprint("body-", i)]
		if len(got) != 1 {
			t.Errorf("delayed message %d delivered %d times", i, len(got))
			continue
		}
		if got[0].GetTags() != "TagD" || got[0].GetKeys() != fmt.Sprint("k", i) {
			t.Errorf("delayed message %d: tags %q keys %q", i, got[0].GetTags(), got[0].GetKeys())
		}
	}
}

// stopAndCheck stops both brokers of g (SIGTERM) and checks what the
// cluster tests promise: every message of acked is in the store of broker
// master, and the other broker's CommitLog is a byte prefix of its.
func (g *ctlGroup) stopAndCheck(t *testing.T, master int, topic string, acked []string) {
	t.Helper()
	for _, b := range g.brokers {
		b.signal(syscall.SIGTERM)
		b.wait()
	}
	bodies, masterLog := readStoredBodies(t, filepath.Join(g.dir, fmt.Sprint("b", master), "store"), topic)
	_, slaveLog := readStoredBodies(t, filepath.Join(g.dir, fmt.Sprint("b", 1-master), "store"), topic)
	lost := 0
	for _, b := range acked {
		if !bodies[b] {
			lost++
		}
	}
	t.Logf("acknowledged %d, lost %d", len(acked), lost)
	if lost > 0 {
		t.Errorf("%d acknowledged messages are not on the master", lost)
	}
	if len(slaveLog) > len(masterLog) || !bytes.Equal(slaveLog, masterLog[:len(slaveLog)]) {
		t.Errorf("the slave's CommitLog (%d bytes) is not a prefix of the master's (%d)", len(slaveLog), len(masterLog))
	}
}

// TestClusterControllerFailoverKafkaTransactions: a franz-go transactional
// producer across a failover. A transaction committed on the first master
// stays committed; one left open when that master is killed is aborted
// through the new master, whose coordinator state and transaction index
// came with the CommitLog; a transaction on the new master commits. A
// read_committed consumer then reads exactly the committed records.
func TestClusterControllerFailoverKafkaTransactions(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	g := startCtlGroup(t, "127.0.11")
	m := g.master(t)
	seeds := kgo.SeedBrokers(g.hosts[0]+":9092", g.hosts[1]+":9092")
	const topic = "cluster-failover-txn"
	adm, err := kgo.NewClient(seeds)
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	waitFor(t, 60*time.Second, func() bool {
		req := kmsg.NewPtrCreateTopicsRequest()
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, 2, -1
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(context.Background(), adm)
		return err == nil && (resp.Topics[0].ErrorCode == 0 || resp.Topics[0].ErrorCode == 36)
	})
	p, err := kgo.NewClient(seeds, kgo.TransactionalID("txn-failover"), kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.TransactionTimeout(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	produce := func(prefix string, n int) {
		t.Helper()
		for i := range n {
			r := &kgo.Record{Partition: int32(i % 2), Value: []byte(fmt.Sprint(prefix, i))}
			if err := p.ProduceSync(ctx, r).FirstErr(); err != nil {
				t.Fatalf("produce %s%d: %v", prefix, i, err)
			}
		}
	}
	txn := func(prefix string, n int, commit kgo.TransactionEndTry) {
		t.Helper()
		waitFor(t, 60*time.Second, func() bool { return p.BeginTransaction() == nil })
		produce(prefix, n)
		if err := p.EndTransaction(ctx, commit); err != nil {
			t.Fatalf("end %s: %v", prefix, err)
		}
	}
	txn("committed-before-", 10, kgo.TryCommit)

	// An open transaction when the master dies.
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	produce("open-at-kill-", 10)
	g.brokers[m].kill9()
	waitFor(t, 90*time.Second, func() bool {
		actx, acancel := context.WithTimeout(ctx, 10*time.Second)
		defer acancel()
		return p.EndTransaction(actx, kgo.TryAbort) == nil
	})
	txn("committed-after-", 10, kgo.TryCommit)

	c, err := kgo.NewClient(seeds, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got := map[string]int{}
	deadline := time.Now().Add(60 * time.Second)
	for len(got) < 20 && time.Now().Before(deadline) {
		pctx, pcancel := context.WithTimeout(ctx, 5*time.Second)
		c.PollFetches(pctx).EachRecord(func(r *kgo.Record) { got[string(r.Value)]++ })
		pcancel()
	}
	// Nothing more arrives: the aborted transaction stays invisible.
	pctx, pcancel := context.WithTimeout(ctx, 3*time.Second)
	c.PollFetches(pctx).EachRecord(func(r *kgo.Record) { got[string(r.Value)]++ })
	pcancel()
	for _, prefix := range []string{"committed-before-", "committed-after-"} {
		for i := range 10 {
			if n := got[fmt.Sprint(prefix, i)]; n != 1 {
				t.Errorf("%s%d read %d times", prefix, i, n)
			}
		}
	}
	for v := range got {
		if strings.HasPrefix(v, "open-at-kill-") {
			t.Errorf("read %s of the transaction aborted after the failover", v)
		}
	}
}
