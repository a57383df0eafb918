package compattests

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestClusterHALinkLatencyAndResets: a SYNC_MASTER and its slave as
// processes, the slave's HA stream through toxiproxy (v2.12.0, in the test
// process). rocketmq-client-go (SendSync) and franz-go (acks=all) send
// all along while the link gets 40±20 ms of latency each way, then has
// its connections dropped by the proxy four times, then heals. Every
// acknowledged message is on the master and readable by a Kafka consumer,
// sends acknowledge again once the link heals, and the slave's CommitLog
// ends a byte prefix of the master's: latency slows acknowledgements,
// resets make the slave reconnect (and may fail sends with
// SLAVE_NOT_AVAILABLE / FLUSH_SLAVE_TIMEOUT, NOT_ENOUGH_REPLICAS), and
// neither loses or forks anything.
func TestClusterHALinkLatencyAndResets(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	dir := t.TempDir()
	const ns, mHost, sHost, proxyAddr = "127.0.2.1:9876", "127.0.2.11", "127.0.2.12", "127.0.2.13:10912"
	for _, a := range []string{ns, mHost + ":10911", sHost + ":10911", mHost + ":10912", proxyAddr} {
		if listening(a) {
			t.Skipf("%s is taken: another cluster test or broker runs here", a)
		}
	}
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	proxy := toxiproxy.NewProxy(srv, "ha", proxyAddr, mHost+":10912")
	if err := proxy.Start(); err != nil {
		t.Fatal(err)
	}
	defer proxy.Stop()
	toxic := func(js string) {
		t.Helper()
		if _, err := proxy.Toxics.AddToxicJson(strings.NewReader(js)); err != nil {
			t.Fatal(err)
		}
	}

	startNode(t, dir, "ns", "namesrv", "--namesrv-listen", ns)
	waitFor(t, 20*time.Second, func() bool { return listening(ns) })
	args := func(host, id, role string, extra ...string) []string {
		return append([]string{"broker", "--data-dir", filepath.Join(dir, "b"+id), "--broker-cluster-name", "C", "--broker-name", "b1",
			"--broker-id", id, "--broker-role", role, "--segment-size", fmt.Sprint(64 << 20),
			"--kafka-addr", host + ":9092", "--remoting-addr", host + ":10911", "--ha-addr", host + ":10912",
			"--http-addr", host + ":8080", "--namesrv-addr", ns}, extra...)
	}
	master := startNode(t, dir, "master", args(mHost, "0", "SYNC_MASTER")...)
	slave := startNode(t, dir, "slave", args(sHost, "1", "SLAVE", "--ha-master-address", proxyAddr)...)
	g := &rmqGroup{dir: dir, nsAddr: ns, master: master, slave: slave, masterHTTP: mHost + ":8080"}
	g.waitInSync(t)

	const topic = "HALinkToxics"
	p, err := rocketmq.NewProducer(producer.WithNsResolver(g.resolver()), producer.WithInstanceName(instance(t)),
		producer.WithGroupName("pg_toxic"), producer.WithRetry(0), producer.WithSendMsgTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown()
	kc, err := kgo.NewClient(kgo.SeedBrokers(mHost+":9092"), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordRetries(2), kgo.ProducerLinger(0), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()

	var mu sync.Mutex
	var acked []string // RocketMQ bodies and Kafka values
	okIn := map[string]int{}
	phase := "clean"
	send := func(ctx context.Context, i int) {
		body := fmt.Sprint("body-", i)
		r, err := p.SendSync(ctx, newMsg(topic, "TagT", i))
		mu.Lock()
		if err == nil && r.Status == primitive.SendOK {
			acked = append(acked, body)
			okIn[phase]++
		}
		mu.Unlock()
		v := fmt.Sprint("kafka-", i)
		if kc.ProduceSync(ctx, &kgo.Record{Value: []byte(v)}).FirstErr() == nil {
			mu.Lock()
			acked = append(acked, v)
			okIn[phase]++
			mu.Unlock()
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	i := 0
	run := func(name string, n int) {
		mu.Lock()
		phase = name
		mu.Unlock()
		for range n {
			send(ctx, i)
			i++
		}
	}
	waitFor(t, 60*time.Second, func() bool { // the topic's route
		r, err := p.SendSync(ctx, newMsg(topic, "TagT", -1))
		if err == nil && r.Status == primitive.SendOK {
			acked = append(acked, "body--1")
		}
		return err == nil
	})
	run("clean", 20)
	toxic(`{"name":"lat_down","type":"latency","stream":"downstream","toxicity":1,"attributes":{"latency":40,"jitter":20}}`)
	toxic(`{"name":"lat_up","type":"latency","stream":"upstream","toxicity":1,"attributes":{"latency":40,"jitter":20}}`)
	run("latency", 40)
	proxy.Toxics.ResetToxics(ctx)
	for range 4 { // the proxy drops every connection of the link, and takes new ones
		g.waitInSync(t)
		proxy.Stop()
		if err := proxy.Start(); err != nil {
			t.Fatal(err)
		}
		run("resets", 10)
	}
	if b, err := os.ReadFile(slave.logf); err != nil || bytes.Count(b, []byte("ha: streaming from the master")) < 4 {
		t.Errorf("the slave's log shows %d HA connections, want several (the resets)", bytes.Count(b, []byte("ha: streaming from the master")))
	}
	g.waitInSync(t)
	run("healed", 20)
	t.Logf("acknowledged by phase: %v", okIn)
	for _, ph := range []string{"clean", "latency", "healed"} {
		if okIn[ph] == 0 {
			t.Errorf("no send acknowledged in phase %s", ph)
		}
	}

	// A Kafka consumer of the master reads every acknowledged message.
	seen := map[string]bool{}
	cons, err := kgo.NewClient(kgo.SeedBrokers(mHost+":9092"), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, a := range acked {
		want[a] = true
	}
	deadline := time.Now().Add(60 * time.Second)
	for missing := len(want); missing > 0 && time.Now().Before(deadline); {
		pctx, pcancel := context.WithTimeout(ctx, 5*time.Second)
		fs := cons.PollFetches(pctx)
		pcancel()
		fs.EachRecord(func(r *kgo.Record) {
			if want[string(r.Value)] && !seen[string(r.Value)] {
				seen[string(r.Value)] = true
				missing--
			}
		})
	}
	cons.Close()
	lost := 0
	for a := range want {
		if !seen[a] {
			lost++
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d acknowledged messages not read back from the master", lost, len(want))
	}

	// The slave's CommitLog is a prefix of the master's.
	for _, n := range []*node{master, slave} {
		n.signal(15)
		n.wait()
	}
	masterLog := readStoredLog(t, filepath.Join(dir, "b0", "store"))
	slaveLog := readStoredLog(t, filepath.Join(dir, "b1", "store"))
	if len(slaveLog) > len(masterLog) || string(slaveLog) != string(masterLog[:len(slaveLog)]) {
		t.Errorf("the slave's CommitLog (%d bytes) is not a prefix of the master's (%d)", len(slaveLog), len(masterLog))
	}
	t.Logf("master CommitLog %d bytes, slave %d", len(masterLog), len(slaveLog))
}
