package compattests

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/broker/cluster"
)

// TestClusterKafkaTxnAcrossGroups: two broker groups (b1, b2: one master
// each) as processes behind one name server; a topic's 4 partitions are
// 0-1 on b1 and 2-3 on b2. Transactional franz-go producers write to every
// partition, one whose transactional id b1 coordinates and one b2's, with
// KIP-890 part 2 and with the classic protocol: each commits, aborts and
// commits again. The coordinator writes its own group's markers and sends
// the other group's master WriteTxnMarkers; the other master asks the
// coordinator (AddPartitionsToTxn) before appending a batch of a
// transaction it does not coordinate. read_committed consumers see
// exactly the committed records, read_uncommitted ones everything; a
// WriteTxnMarkers from a client is refused with
// CLUSTER_AUTHORIZATION_FAILED and writes nothing. Then
// consume-transform-produce across the groups (clusterETL).
func TestClusterKafkaTxnAcrossGroups(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	g := startTwoGroups(t, "127.0.2.71", "127.0.2.72", "127.0.2.73")
	nodes := g.nodes
	b1, b2 := g.kafka["b1"], g.kafka["b2"]
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	const topic = "TxnAcrossGroups"
	a1, a2 := kadm.NewClient(kgoClient(t, b1)), kadm.NewClient(kgoClient(t, b2))
	if res, err := a1.CreateTopic(ctx, 4, -1, nil, topic); err != nil || res.Err != nil {
		t.Fatalf("create topic: %v / %v", err, res.Err)
	}
	waitPartitions(t, topic, 4, b1, b2)

	// One transactional id per coordinating group (the hash every broker
	// computes over the sorted groups).
	view := cluster.View{Groups: []cluster.Group{{Name: "b1"}, {Name: "b2"}}}
	ids := map[string]string{}
	for i := 0; len(ids) < 2; i++ {
		id := fmt.Sprintf("xg-%d", i)
		if g, _ := view.Coordinator(id); ids[g.Name] == "" {
			ids[g.Name] = id
		}
	}

	want := map[string]int{}
	for _, coord := range []string{"b1", "b2"} {
		for _, tv := range []struct {
			name string
			opts []kgo.Opt
		}{{"tv2", nil}, {"tv1", []kgo.Opt{kgo.MaxVersions(tv1Versions())}}} {
			id := ids[coord] + "-" + tv.name
			if g, _ := view.Coordinator(id); g.Name != coord {
				// The suffix moved the hash: find another id of coord.
				for i := 0; g.Name != coord; i++ {
					id = fmt.Sprintf("%s-%s-%d", ids[coord], tv.name, i)
					g, _ = view.Coordinator(id)
				}
			}
			p := kgoClient(t, b1, append(tv.opts, kgo.TransactionalID(id), kgo.TransactionTimeout(60*time.Second),
				kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
			for _, end := range []struct {
				prefix string
				commit kgo.TransactionEndTry
			}{{"c1", kgo.TryCommit}, {"ab", kgo.TryAbort}, {"c2", kgo.TryCommit}} {
				prefix := coord + tv.name + end.prefix
				if err := p.BeginTransaction(); err != nil {
					t.Fatal(err)
				}
				var recs []*kgo.Record
				for part := range int32(4) {
					for i := range 3 {
						recs = append(recs, &kgo.Record{Topic: topic, Partition: part, Value: fmt.Appendf(nil, "%s-%d-%d", prefix, part, i)})
					}
				}
				if err := p.ProduceSync(ctx, recs...).FirstErr(); err != nil {
					t.Fatalf("%s: produce: %v", id, err)
				}
				// The coordinator holds all four, whichever group leads them.
				if d, err := a2.DescribeTransactions(ctx, id); err != nil || d[id].State != "Ongoing" || len(d[id].Topics[topic]) != 4 {
					t.Fatalf("%s: open transaction: %v %+v", id, err, d[id])
				}
				if err := p.EndTransaction(ctx, end.commit); err != nil {
					t.Fatalf("%s: end %s: %v", id, prefix, err)
				}
				if end.commit == kgo.TryCommit {
					want[prefix] = 12
				}
			}
			d, err := a1.DescribeTransactions(ctx, id)
			if err != nil || d[id].Err != nil || d[id].State != "CompleteCommit" {
				t.Fatalf("%s: %v %+v", id, err, d[id])
			}
		}
	}

	// A client's WriteTxnMarkers (an ABORT for a producer id) is refused.
	raw := kgoClient(t, b2)
	wm := kmsg.NewPtrWriteTxnMarkersRequest()
	m := kmsg.NewWriteTxnMarkersRequestMarker()
	m.ProducerID, m.ProducerEpoch = 1, 0
	mt := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
	mt.Topic, mt.Partitions = topic, []int32{2, 3}
	m.Topics = append(m.Topics, mt)
	wm.Markers = append(wm.Markers, m)
	wresp, err := wm.RequestWith(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range wresp.Markers[0].Topics[0].Partitions {
		if p.ErrorCode != kerr.ClusterAuthorizationFailed.Code {
			t.Errorf("WriteTxnMarkers from a client: partition %d: error %d", p.Partition, p.ErrorCode)
		}
	}
	ends, err := a2.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}

	produceSentinels(t, b1, topic, 4)
	got := countPrefixes(consumeToSentinels(t, b1, topic, 4, kgo.ReadCommitted()))
	if !mapsEqual(got, want) {
		t.Fatalf("read_committed: %v, want %v", got, want)
	}
	got = countPrefixes(consumeToSentinels(t, b2, topic, 4, kgo.ReadUncommitted()))
	if len(got) != 12 {
		t.Fatalf("read_uncommitted: %v", got)
	}
	// Nothing was written by the refused WriteTxnMarkers: each of b2's
	// partitions grew by its sentinel alone.
	after, err := a2.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []int32{2, 3} {
		b, _ := ends.Lookup(topic, p)
		a, _ := after.Lookup(topic, p)
		if a.Offset != b.Offset+1 {
			t.Errorf("partition %d: end offset %d before the sentinel, %d after", p, b.Offset, a.Offset)
		}
	}

	clusterETL(t, b1, b2, view)
	clusterCommitAcrossRestart(t, b1, b2, ids["b1"], nodes["b2"])
}

// clusterCommitAcrossRestart: b2's master is killed after a transaction
// coordinated by b1 wrote to both groups' partitions, then committed: the
// transaction stays in PrepareCommit while b2 is away (its markers cannot
// be written), and completes once b2 is back; read_committed consumers
// then see its records on both groups.
func clusterCommitAcrossRestart(t *testing.T, b1, b2, id string, n2 *node) {
	const topic = "TxnAcrossRestart"
	a1 := kadm.NewClient(kgoClient(t, b1))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if res, err := a1.CreateTopic(ctx, 4, -1, nil, topic); err != nil || res.Err != nil {
		t.Fatalf("create %s: %v / %v", topic, err, res.Err)
	}
	waitPartitions(t, topic, 4, b1, b2)
	id += "-restart"
	p := kgoClient(t, b1, kgo.TransactionalID(id), kgo.TransactionTimeout(60*time.Second),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	var recs []*kgo.Record
	for part := range int32(4) {
		recs = append(recs, &kgo.Record{Topic: topic, Partition: part, Value: fmt.Appendf(nil, "restart-%d", part)})
	}
	if err := p.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	state := func() string {
		d, err := a1.DescribeTransactions(ctx, id)
		if err != nil {
			return ""
		}
		return d[id].State
	}
	n2.kill9()
	ended := make(chan error, 1)
	go func() { ended <- p.EndTransaction(ctx, kgo.TryCommit) }()
	waitFor(t, 30*time.Second, func() bool { return state() == "PrepareCommit" })
	n2.restart(t)
	waitFor(t, 90*time.Second, func() bool { return state() == "CompleteCommit" })
	if err := <-ended; err != nil {
		t.Logf("EndTransaction across the restart: %v (the commit completed all the same)", err)
	}
	produceSentinels(t, b1, topic, 4)
	got := countPrefixes(consumeToSentinels(t, b2, topic, 4, kgo.ReadCommitted()))
	if !mapsEqual(got, map[string]int{"restart": 4}) {
		t.Fatalf("read_committed: %v", got)
	}
}

// clusterETL: two franz-go GroupTransactSessions consume-transform-produce
// between topics spread over both groups; the consumer group is
// coordinated by one group, one session's transactional id by the other
// (its TxnOffsetCommit goes to the group's coordinator, which forwards it
// to the transaction's), the other's by the same. Every input record is
// in the output exactly once (read_committed), and the group's committed
// offsets reach the input's end.
func clusterETL(t *testing.T, b1, b2 string, view cluster.View) {
	const n, parts = 1000, 4
	in, out := "XgEtlIn", "XgEtlOut"
	a := kadm.NewClient(kgoClient(t, b1))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, tp := range []string{in, out} {
		if res, err := a.CreateTopic(ctx, parts, -1, nil, tp); err != nil || res.Err != nil {
			t.Fatalf("create %s: %v / %v", tp, err, res.Err)
		}
		waitPartitions(t, tp, parts, b1, b2)
	}
	var group string
	for i := 0; group == ""; i++ {
		if g, _ := view.Coordinator(fmt.Sprint("xg-etl-", i)); g.Name == "b1" {
			group = fmt.Sprint("xg-etl-", i)
		}
	}
	txnIDs := map[string]string{}
	for i := 0; len(txnIDs) < 2; i++ {
		id := fmt.Sprint("xg-etl-txn-", i)
		if g, _ := view.Coordinator(id); txnIDs[g.Name] == "" {
			txnIDs[g.Name] = id
		}
	}
	prod := kgoClient(t, b2)
	var recs []*kgo.Record
	for i := range n {
		recs = append(recs, &kgo.Record{Topic: in, Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "v-%d", i)})
	}
	if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	sctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, id := range []string{txnIDs["b1"], txnIDs["b2"]} {
		sess, err := kgo.NewGroupTransactSession(kgo.SeedBrokers(b1), kgo.TransactionalID(id),
			kgo.ConsumerGroup(group), kgo.ConsumeTopics(in), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DefaultProduceTopic(out),
			kgo.TransactionTimeout(20*time.Second), kgo.FetchMaxBytes(4<<10), kgo.FetchMaxPartitionBytes(2<<10))
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer sess.Close()
			for sctx.Err() == nil {
				fs := sess.PollFetches(sctx)
				if fs.IsClientClosed() || sctx.Err() != nil {
					return
				}
				if err := sess.Begin(); err != nil {
					t.Errorf("%s: begin: %v", id, err)
					return
				}
				fs.EachRecord(func(r *kgo.Record) { sess.Produce(sctx, &kgo.Record{Key: r.Key, Value: r.Value}, nil) })
				if _, err := sess.End(sctx, kgo.TryCommit); err != nil && sctx.Err() == nil {
					t.Logf("%s: end: %v", id, err)
				}
			}
		}()
	}
	adm := kadm.NewClient(kgoClient(t, b2))
	committed := func() int64 {
		offs, err := adm.FetchOffsets(ctx, group)
		if err != nil {
			return -1
		}
		var sum int64
		offs.Each(func(o kadm.OffsetResponse) {
			if o.Topic == in {
				sum += o.At
			}
		})
		return sum
	}
	for c := committed(); c != n; c = committed() {
		if ctx.Err() != nil {
			stop()
			wg.Wait()
			t.Fatalf("committed offsets at %d of %d", c, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	wg.Wait()

	produceSentinels(t, b1, out, parts)
	seen := map[string]int{}
	for _, v := range consumeToSentinels(t, b1, out, parts, kgo.ReadCommitted()) {
		seen[v]++
	}
	for i := range n {
		if v := fmt.Sprintf("v-%d", i); seen[v] != 1 {
			t.Errorf("%s in the output %d times", v, seen[v])
		}
	}
	if len(seen) != n {
		t.Errorf("%d distinct output records for %d inputs", len(seen), n)
	}
}

// waitPartitions waits until every broker's Metadata shows topic's n
// partitions (the other group's brokers learn a new topic's share within
// a view refresh), each asked with a new client (kgo caches Metadata).
func waitPartitions(t *testing.T, topic string, n int, brokers ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	parts := func(addr string) int {
		c, err := kgo.NewClient(kgo.SeedBrokers(addr))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		td, err := kadm.NewClient(c).ListTopics(ctx, topic)
		if err != nil {
			return 0
		}
		return len(td[topic].Partitions)
	}
	waitFor(t, 20*time.Second, func() bool {
		for _, b := range brokers {
			if parts(b) != n {
				return false
			}
		}
		return true
	})
}
