package compattests

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"syscall"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestClusterMinInSyncReplicas: a SYNC_MASTER with minInSyncReplicas 2
// and its slave, as processes. With the slave in sync, rocketmq-client-go
// sends (SEND_OK) and franz-go acks=all produces succeed; with the slave
// killed, both are refused (SLAVE_NOT_AVAILABLE, NOT_ENOUGH_REPLICAS) and
// nothing refused is stored; once the slave is back, both succeed again.
// A Kafka consumer of the topic then reads exactly the acknowledged
// messages of both protocols.
func TestClusterMinInSyncReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	g := startGroup(t, "SYNC_MASTER", "--min-in-sync-replicas", "2")
	const topic = "ClusterMinIsrTopic"
	p, err := rocketmq.NewProducer(producer.WithNsResolver(g.resolver()), producer.WithInstanceName(instance(t)),
		producer.WithGroupName("pg_cluster_isr"), producer.WithRetry(0))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown()
	kc, err := kgo.NewClient(kgo.SeedBrokers("127.0.2.11:9092"), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordRetries(1), kgo.ProducerLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()

	var acked []string
	rmq := func(i int) primitive.SendStatus {
		t.Helper()
		var r *primitive.SendResult
		waitFor(t, 60*time.Second, func() bool { // the route of a new topic
			r, err = p.SendSync(context.Background(), newMsg(topic, "TagI", i))
			return err == nil
		})
		if r.Status == primitive.SendOK {
			acked = append(acked, fmt.Sprint("body-", i))
		}
		return r.Status
	}
	kafka := func(i int) error {
		t.Helper()
		v := fmt.Sprint("kafka-", i)
		err := kc.ProduceSync(context.Background(), &kgo.Record{Topic: topic, Partition: int32(i % 4), Value: []byte(v)}).FirstErr()
		if err == nil {
			acked = append(acked, v)
		}
		return err
	}

	for i := range 10 {
		if s := rmq(i); s != primitive.SendOK {
			t.Fatalf("send %d with the slave in sync: status %v", i, s)
		}
		if err := kafka(i); err != nil {
			t.Fatalf("produce %d with the slave in sync: %v", i, err)
		}
	}

	// Kafka Metadata shows the group: master and slave as replicas, both
	// in sync; once the slave is gone, still a replica, out of sync.
	replicasOf := func() (int, int) {
		c, err := kgo.NewClient(kgo.SeedBrokers("127.0.2.11:9092"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		td, err := kadm.NewClient(c).ListTopics(context.Background(), topic)
		if err != nil || td[topic].Err != nil || len(td[topic].Partitions) == 0 {
			return -1, -1
		}
		p := td[topic].Partitions[0]
		return len(p.Replicas), len(p.ISR)
	}
	waitFor(t, 20*time.Second, func() bool { r, i := replicasOf(); return r == 2 && i == 2 })
	if v, _ := metric(g.masterHTTP, "kafka_server_replicamanager_underreplicatedpartitions"); v != "0" {
		t.Errorf("under-replicated partitions with the slave in sync: %q, want 0", v)
	}
	g.slave.kill9()
	waitFor(t, 30*time.Second, func() bool { v, _ := metric(g.masterHTTP, "twinmq_ha_slaves_in_sync"); return v == "0" })
	if r, i := replicasOf(); r != 2 || i != 1 {
		t.Errorf("metadata with the slave gone: %d replicas, %d in sync; want 2 and 1", r, i)
	}
	// Every queue of the group is under-replicated now (the topic's 4 at
	// least), as Kafka's UnderReplicatedPartitions counts them.
	if v, _ := metric(g.masterHTTP, "kafka_server_replicamanager_underreplicatedpartitions"); v == "" || v == "0" {
		t.Errorf("under-replicated partitions with the slave gone: %q, want the group's queues", v)
	}
	for i := 10; i < 15; i++ {
		if s := rmq(i); s != primitive.SendSlaveNotAvailable {
			t.Errorf("send %d without the slave: status %v, want SLAVE_NOT_AVAILABLE", i, s)
		}
		if err := kafka(i); !errors.Is(err, kerr.NotEnoughReplicas) {
			t.Errorf("produce %d without the slave: %v, want NOT_ENOUGH_REPLICAS", i, err)
		}
	}

	g.slave.restart(t)
	g.waitInSync(t)
	for i := 15; i < 25; i++ {
		if s := rmq(i); s != primitive.SendOK {
			t.Fatalf("send %d with the slave back: status %v", i, s)
		}
		if err := kafka(i); err != nil {
			t.Fatalf("produce %d with the slave back: %v", i, err)
		}
	}

	// Everything stored, read by a Kafka consumer from the start.
	cc, err := kgo.NewClient(kgo.SeedBrokers("127.0.2.11:9092"), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	var got []string
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for len(got) < len(acked) && ctx.Err() == nil {
		cc.PollFetches(ctx).EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	// Nothing more arrives: a refused message stored anyway would show.
	short, cancel2 := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel2()
	cc.PollFetches(short).EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	sort.Strings(got)
	sort.Strings(acked)
	if fmt.Sprint(got) != fmt.Sprint(acked) {
		t.Fatalf("consumed %d records:\n%v\nacknowledged %d:\n%v", len(got), got, len(acked), acked)
	}
}

// TestClusterInSyncReplicas: a SYNC_MASTER with two slaves and
// inSyncReplicas 2 (RocketMQ 5: the master and any one slave). With one
// slave stopped (SIGSTOP: connected, silent) every rocketmq-client-go send
// is SEND_OK and every franz-go acks=all produce succeeds at once, where
// the default (every in-sync slave) answers FLUSH_SLAVE_TIMEOUT until the
// silent slave is dropped (TestClusterSlaveStoppedUnderSyncMaster). The
// running slave holds every acknowledged message.
func TestClusterInSyncReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	dir := t.TempDir()
	const ns = "127.0.2.1:9876"
	hosts := []string{"127.0.2.11", "127.0.2.12", "127.0.2.14"}
	for _, h := range hosts {
		if listening(h + ":10911") {
			t.Skipf("%s is taken", h)
		}
	}
	if listening(ns) {
		t.Skipf("%s is taken", ns)
	}
	startNode(t, dir, "ns", "namesrv", "--namesrv-listen", ns)
	waitFor(t, 20*time.Second, func() bool { return listening(ns) })
	var nodes []*node
	for i, h := range hosts {
		role := "SLAVE"
		if i == 0 {
			role = "SYNC_MASTER"
		}
		nodes = append(nodes, startNode(t, dir, fmt.Sprint("b", i), "broker", "--data-dir", filepath.Join(dir, fmt.Sprint("b", i)),
			"--broker-cluster-name", "C", "--broker-name", "b1", "--broker-id", fmt.Sprint(i), "--broker-role", role,
			"--in-sync-replicas", "2", "--segment-size", fmt.Sprint(64<<20),
			"--kafka-addr", h+":9092", "--remoting-addr", h+":10911", "--ha-addr", h+":10912",
			"--http-addr", h+":8080", "--namesrv-addr", ns))
	}
	waitFor(t, 60*time.Second, func() bool { v, _ := metric(hosts[0]+":8080", "twinmq_ha_slaves_in_sync"); return v == "2" })

	const topic = "ClusterInSyncReplicas"
	p, err := rocketmq.NewProducer(producer.WithNsResolver(primitive.NewPassthroughResolver([]string{ns})),
		producer.WithInstanceName(instance(t)), producer.WithGroupName("pg_isr2"), producer.WithRetry(0))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown()
	kc, err := kgo.NewClient(kgo.SeedBrokers(hosts[0]+":9092"), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordRetries(0), kgo.ProducerLinger(0), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	waitFor(t, 60*time.Second, func() bool {
		r, err := p.SendSync(context.Background(), newMsg(topic, "TagI", -1))
		return err == nil && r.Status == primitive.SendOK
	})

	nodes[2].signal(syscall.SIGSTOP)
	defer nodes[2].signal(syscall.SIGCONT)
	for i := range 20 {
		r, err := p.SendSync(context.Background(), newMsg(topic, "TagI", i))
		if err != nil || r.Status != primitive.SendOK {
			t.Fatalf("send %d with one of two slaves stopped: %v %v", i, r, err)
		}
		if err := kc.ProduceSync(context.Background(), &kgo.Record{Value: []byte(fmt.Sprint("kafka-", i))}).FirstErr(); err != nil {
			t.Fatalf("produce %d with one of two slaves stopped: %v", i, err)
		}
	}
	// The running slave has them all: stop everything and compare logs.
	nodes[2].signal(syscall.SIGCONT)
	for _, n := range nodes {
		n.signal(syscall.SIGTERM)
		n.wait()
	}
	master := readStoredLog(t, filepath.Join(dir, "b0", "store"))
	slave := readStoredLog(t, filepath.Join(dir, "b1", "store"))
	if len(slave) != len(master) || string(slave) != string(master) {
		t.Errorf("the running slave holds %d bytes of the master's %d", len(slave), len(master))
	}
}
