package compattests

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// endSentinel is the value of the plain record produced to every
// partition after a scenario: a consumer that has seen it on each
// partition has seen everything before it (a read_committed one only
// once every transaction before it ended).
const endSentinel = "end"

// produceSentinels writes endSentinel to every partition of topic.
func produceSentinels(t *testing.T, addr, topic string, partitions int32) {
	t.Helper()
	cl := kgoClient(t, addr, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for p := range partitions {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: p, Value: []byte(endSentinel)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}

// consumeToSentinels reads topic from the start with the given isolation
// until every partition's sentinel, and returns the other values in
// order of arrival.
func consumeToSentinels(t *testing.T, addr, topic string, partitions int32, iso kgo.IsolationLevel) []string {
	t.Helper()
	return consumeToNthSentinels(t, addr, topic, partitions, iso, 1)
}

// consumeToNthSentinels is consumeToSentinels up to the nth sentinel of
// each partition.
func consumeToNthSentinels(t *testing.T, addr, topic string, partitions int32, iso kgo.IsolationLevel, nth int) []string {
	t.Helper()
	cl := kgoClient(t, addr, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(iso), kgo.FetchMaxWait(500*time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var values []string
	ended, seen := map[int32]bool{}, map[int32]int{}
	for len(ended) < int(partitions) {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("%s: sentinels of %d partitions after %d records: %v", topic, len(ended), len(values), ctx.Err())
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Logf("fetch: %v", err) })
		fs.EachRecord(func(r *kgo.Record) {
			if string(r.Value) == endSentinel {
				if seen[r.Partition]++; seen[r.Partition] == nth {
					ended[r.Partition] = true
				}
				return
			}
			values = append(values, string(r.Value))
		})
	}
	return values
}

func txnProduce(t *testing.T, cl *kgo.Client, topic, prefix string, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var recs []*kgo.Record
	for i := range n {
		recs = append(recs, &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "%s-%d", prefix, i)})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce %s: %v", prefix, err)
	}
}

func countPrefixes(values []string) map[string]int {
	n := map[string]int{}
	for _, v := range values {
		n[v[:strings.IndexByte(v, '-')]]++
	}
	return n
}

// tv1Versions caps franz-go below KIP-890 part 2 (EndTxn v4): it runs
// the classic protocol (explicit AddPartitionsToTxn and AddOffsetsToTxn,
// one epoch for every transaction) although the broker finalizes
// transaction.version 2, as a client without KIP-890 part 2 does.
func tv1Versions() *kversion.Versions {
	v := kversion.Stable()
	v.SetMaxKeyVersion(int16(kmsg.EndTxn), 4)
	return v
}

// txnEpoch is the producer epoch the coordinator holds for id.
func txnEpoch(t *testing.T, addr, id string) int16 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ds, err := kadm.NewClient(kgoClient(t, addr)).DescribeTransactions(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	d, ok := ds[id]
	if !ok || d.Err != nil {
		t.Fatalf("describe %s: %+v", id, d)
	}
	return d.ProducerEpoch
}

// TestKafkaTxnKgoCommitAbortFence: franz-go's transactional producer
// commits and aborts; a second producer with the same transactional id
// fences the first one's open transaction (aborted, its commit refused);
// read_committed consumers see exactly the committed records,
// read_uncommitted ones everything, control batches never. Run with
// KIP-890 part 2 (franz-go's default against this broker: every commit
// and abort bumps the epoch) and with the classic protocol.
func TestKafkaTxnKgoCommitAbortFence(t *testing.T) {
	for _, tv := range []struct {
		name  string
		opts  []kgo.Opt
		bumps int16 // epoch bumps of an abort and a commit
	}{{"tv2", nil, 2}, {"tv1", []kgo.Opt{kgo.MaxVersions(tv1Versions())}, 0}} {
		t.Run(tv.name, func(t *testing.T) { testKgoCommitAbortFence(t, tv.opts, tv.bumps) })
	}
}

func testKgoCommitAbortFence(t *testing.T, opts []kgo.Opt, bumps int16) {
	b := startTxnBroker(t, t.TempDir(), nil)
	createTopic(t, b.addr, "tx", 2, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	opts = append(opts, kgo.TransactionalID("t1"), kgo.TransactionTimeout(60*time.Second))
	p1 := kgoClient(t, b.addr, opts...)
	step := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	step(p1.BeginTransaction())
	txnProduce(t, p1, "tx", "aborted", 10)
	step(p1.EndTransaction(ctx, kgo.TryAbort))
	step(p1.BeginTransaction())
	txnProduce(t, p1, "tx", "committed", 10)
	step(p1.EndTransaction(ctx, kgo.TryCommit))
	if epoch := txnEpoch(t, b.addr, "t1"); epoch != bumps {
		t.Fatalf("epoch after an abort and a commit: %d, want %d", epoch, bumps)
	}
	step(p1.BeginTransaction())
	txnProduce(t, p1, "tx", "zombie", 5)

	p2 := kgoClient(t, b.addr, opts...)
	step(p2.BeginTransaction())
	txnProduce(t, p2, "tx", "new", 5) // InitProducerId fences p1
	step(p2.EndTransaction(ctx, kgo.TryCommit))
	err := p1.EndTransaction(ctx, kgo.TryCommit)
	if !errors.Is(err, kerr.ProducerFenced) && !errors.Is(err, kerr.InvalidProducerEpoch) {
		t.Fatalf("zombie commit: %v, want fenced", err)
	}

	produceSentinels(t, b.addr, "tx", 2)
	got := countPrefixes(consumeToSentinels(t, b.addr, "tx", 2, kgo.ReadCommitted()))
	if want := map[string]int{"committed": 10, "new": 5}; !mapsEqual(got, want) {
		t.Fatalf("read_committed: %v, want %v", got, want)
	}
	got = countPrefixes(consumeToSentinels(t, b.addr, "tx", 2, kgo.ReadUncommitted()))
	if want := map[string]int{"aborted": 10, "committed": 10, "zombie": 5, "new": 5}; !mapsEqual(got, want) {
		t.Fatalf("read_uncommitted: %v, want %v", got, want)
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestKafkaTxnKgoGroupTransactSession: consume-transform-produce with two
// franz-go GroupTransactSessions in one group (rebalancing as the second
// joins): the output has every input record exactly once, and the
// group's committed offsets cover the whole input.
func TestKafkaTxnKgoGroupTransactSession(t *testing.T) {
	b := startTxnBroker(t, t.TempDir(), nil)
	runETL(t, b, nil)
}

// TestKafkaTxnKgoETLRestart is the same with the broker restarted while
// the sessions run.
func TestKafkaTxnKgoETLRestart(t *testing.T) {
	b := startTxnBroker(t, t.TempDir(), nil)
	runETL(t, b, func(b *txnBroker) *txnBroker { return b.restart() })
}

func runETL(t *testing.T, b *txnBroker, midway func(*txnBroker) *txnBroker) {
	const n, parts = 3000, 3
	createTopic(t, b.addr, "etl-in", parts, nil)
	createTopic(t, b.addr, "etl-out", parts, nil)
	in := kgoClient(t, b.addr, kgo.ProducerBatchMaxBytes(1<<10)) // small batches, many transactions
	pctx, pcancel := context.WithTimeout(context.Background(), 60*time.Second)
	var recs []*kgo.Record
	for i := range n {
		recs = append(recs, &kgo.Record{Topic: "etl-in", Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "v-%d", i)})
	}
	if err := in.ProduceSync(pctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	pcancel()

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var ends sync.Map
	for w := range 2 {
		sess, err := kgo.NewGroupTransactSession(kgo.SeedBrokers(b.addr), kgo.TransactionalID(fmt.Sprint("etl-", w)),
			kgo.ConsumerGroup("etl"), kgo.ConsumeTopics("etl-in"), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
			kgo.DefaultProduceTopic("etl-out"), kgo.TransactionTimeout(20*time.Second),
			// Small fetches: many transactions, so a restart lands among them.
			kgo.FetchMaxBytes(2<<10), kgo.FetchMaxPartitionBytes(1<<10))
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer sess.Close()
			for ctx.Err() == nil {
				fs := sess.PollFetches(ctx)
				if fs.IsClientClosed() || ctx.Err() != nil {
					return
				}
				if err := sess.Begin(); err != nil {
					t.Errorf("begin: %v", err)
					return
				}
				fs.EachRecord(func(r *kgo.Record) {
					sess.Produce(ctx, &kgo.Record{Key: r.Key, Value: r.Value}, nil)
				})
				committed, err := sess.End(ctx, kgo.TryCommit)
				if err != nil && ctx.Err() == nil {
					t.Logf("session %d end: committed %v: %v", w, committed, err)
				}
				ends.Store(w, true)
			}
		}()
	}
	adm := kadm.NewClient(kgoClient(t, b.addr))
	committed := func() int64 {
		octx, ocancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer ocancel()
		offs, err := adm.FetchOffsets(octx, "etl")
		if err != nil {
			return -1
		}
		var sum int64
		offs.Each(func(o kadm.OffsetResponse) { sum += o.At })
		return sum
	}
	deadline := time.Now().Add(3 * time.Minute)
	restarted := midway == nil
	for {
		c := committed()
		if c == n {
			break
		}
		if !restarted && c > 0 {
			b, restarted = midway(b), true
			adm = kadm.NewClient(kgoClient(t, b.addr))
		}
		if time.Now().After(deadline) {
			cancel()
			wg.Wait()
			t.Fatalf("committed offsets at %d of %d", c, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	if !restarted {
		t.Fatal("the input was done before the restart")
	}

	produceSentinels(t, b.addr, "etl-out", parts)
	out := consumeToSentinels(t, b.addr, "etl-out", parts, kgo.ReadCommitted())
	seen := map[string]int{}
	for _, v := range out {
		seen[v]++
	}
	var dups, missing []string
	for i := range n {
		v := fmt.Sprintf("v-%d", i)
		switch seen[v] {
		case 1:
		case 0:
			missing = append(missing, v)
		default:
			dups = append(dups, v)
		}
	}
	if len(out) != n || len(dups) > 0 || len(missing) > 0 {
		slices.Sort(dups)
		t.Fatalf("output: %d records for %d inputs; duplicated %d %v; missing %d %v", len(out), n,
			len(dups), dups[:min(len(dups), 10)], len(missing), missing[:min(len(missing), 10)])
	}
}

// TestKafkaTxnRestartOpenTransaction: a transaction left open by a broker
// stop is open after the start (the LSO still stops before it, rebuilt
// from the log), and an operator's abort ends it: read_committed readers
// then skip its records. A transaction whose producer went away is
// aborted by the broker once its timeout passes.
func TestKafkaTxnRestartOpenTransaction(t *testing.T) {
	b := startTxnBroker(t, t.TempDir(), nil)
	createTopic(t, b.addr, "rs", 1, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p := kgoClient(t, b.addr, kgo.TransactionalID("r1"), kgo.TransactionTimeout(10*time.Minute))
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	txnProduce(t, p, "rs", "open", 5)
	b = b.restart()

	cl := kgoClient(t, b.addr)
	lo := func(iso int8) int64 {
		req := kmsg.NewPtrListOffsetsRequest()
		req.IsolationLevel = iso
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = "rs"
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Timestamp = -1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil || resp.Topics[0].Partitions[0].ErrorCode != 0 {
			t.Fatalf("list offsets: %v %+v", err, resp)
		}
		return resp.Topics[0].Partitions[0].Offset
	}
	if hwm, lso := lo(0), lo(1); hwm != 5 || lso != 0 {
		t.Fatalf("after restart: high watermark %d, last stable offset %d; want 5, 0", hwm, lso)
	}
	if err := b.txns.Abort(ctx, "r1"); err != nil {
		t.Fatal(err)
	}
	produceSentinels(t, b.addr, "rs", 1)
	if got := consumeToSentinels(t, b.addr, "rs", 1, kgo.ReadCommitted()); len(got) != 0 {
		t.Fatalf("read_committed after the abort: %v", got)
	}

	// A producer that begins and goes silent: the broker aborts at its
	// timeout, and the records after it become readable.
	p2 := kgoClient(t, b.addr, kgo.TransactionalID("r2"), kgo.TransactionTimeout(time.Second))
	if err := p2.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	txnProduce(t, p2, "rs", "silent", 3)
	produceSentinels(t, b.addr, "rs", 1) // behind the open transaction
	if got := consumeToNthSentinels(t, b.addr, "rs", 1, kgo.ReadCommitted(), 2); len(got) != 0 {
		t.Fatalf("read_committed after the timeout: %v", got)
	}
}
