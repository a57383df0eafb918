package compattests

import (
	"context"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/twinmq/twinmq/broker"
	"github.com/twinmq/twinmq/broker/groups"
	"github.com/twinmq/twinmq/broker/kafkaapi"
	"github.com/twinmq/twinmq/broker/offsets"
	"github.com/twinmq/twinmq/broker/topics"
	"github.com/twinmq/twinmq/netio"
	"github.com/twinmq/twinmq/storage"
)

// groupBroker is an in-process twinmq serving Kafka with the group
// coordinator (initial rebalance delay 0), behind a proxy so that a
// restart keeps the address the clients know.
type groupBroker struct {
	t     *testing.T
	dir   string
	addr  string
	proxy *kafkaProxy
	stop  func()
}

func startGroupBroker(t *testing.T, dir string, proxy *kafkaProxy) *groupBroker {
	t.Helper()
	ctx := context.Background()
	log := kafkaLogger()
	store, err := storage.Open(ctx, storage.Config{Dir: dir, SegmentSize: 64 << 20, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	id, stopID, err := broker.LoadIdentity(ctx, store, -1, log)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := topics.Open(ctx, store, log)
	if err != nil {
		t.Fatal(err)
	}
	offs, err := offsets.Open(ctx, store, log)
	if err != nil {
		t.Fatal(err)
	}
	coord, err := groups.Open(ctx, store, offs, groups.CoordinatorConfig{InitialRebalanceDelay: -1, Logger: log,
		ConsumerHeartbeatInterval: 200 * time.Millisecond, ConsumerSessionTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	h, err := kafkaapi.New(kafkaapi.Config{NodeID: id.NodeID, ClusterID: id.ClusterID, Logger: log, Groups: coord}, store, reg)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := netio.New(kafkaapi.ServerConfig("127.0.0.1:0", log), h)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if proxy == nil {
		proxy = newKafkaProxy(t)
	}
	target := srv.Addr().String()
	proxy.target.Store(&target)
	host, port, _ := net.SplitHostPort(proxy.ln.Addr().String())
	p, _ := strconv.Atoi(port)
	h.SetAdvertised(host, int32(p))
	var once sync.Once
	b := &groupBroker{t: t, dir: dir, addr: proxy.ln.Addr().String(), proxy: proxy}
	b.stop = func() {
		once.Do(func() {
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
			coord.Close()
			offs.Close()
			reg.Close()
			stopID()
			if err := store.Close(); err != nil {
				t.Errorf("close store: %v", err)
			}
		})
	}
	t.Cleanup(b.stop)
	return b
}

func (b *groupBroker) restart() *groupBroker {
	b.stop()
	return startGroupBroker(b.t, b.dir, b.proxy)
}

// tracker counts deliveries per (partition, offset).
type tracker struct {
	mu   sync.Mutex
	seen map[[2]int64]int
}

func newTracker() *tracker { return &tracker{seen: map[[2]int64]int{}} }

func (tr *tracker) add(partition int32, offset int64) {
	tr.mu.Lock()
	tr.seen[[2]int64{int64(partition), offset}]++
	tr.mu.Unlock()
}

// counts returns the distinct records seen and the redeliveries.
func (tr *tracker) counts() (distinct, dups int) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for _, n := range tr.seen {
		distinct++
		dups += n - 1
	}
	return distinct, dups
}

// groupWaitFor polls until cond holds or the deadline passes.
func groupWaitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (tr *tracker) wait(t *testing.T, n int) {
	t.Helper()
	groupWaitFor(t, strconv.Itoa(n)+" records", 60*time.Second, func() bool { d, _ := tr.counts(); return d >= n })
}

// waitStable waits until the group is Stable with n members that own all
// partitions between them.
func waitStable(t *testing.T, adm *kadm.Client, group string, n, partitions int) {
	t.Helper()
	groupWaitFor(t, "a stable group of "+strconv.Itoa(n), 60*time.Second, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ds, err := adm.DescribeGroups(ctx, group)
		if err != nil {
			return false
		}
		d := ds[group]
		if d.Err != nil || d.State != "Stable" || len(d.Members) != n {
			return false
		}
		owned := 0
		for _, m := range d.Members {
			if a, ok := m.Assigned.AsConsumer(); ok {
				for _, t := range a.Topics {
					owned += len(t.Partitions)
				}
			}
		}
		return owned == partitions
	})
}

// groupMember is one consumer of a compat scenario; close commits what it
// processed and leaves the group.
type groupMember interface{ close() }

type memberFactory func(t *testing.T, addr, group, topic string, tr *tracker) groupMember

// runGroupScenario: two members share a 6-partition topic, every record
// is processed once and committed; one member leaves and the other takes
// its partitions over from the committed offsets; after a full commit
// kadm's lag is 0; a restarted member resumes exactly after the commits.
func runGroupScenario(t *testing.T, newMember memberFactory) {
	const partitions = 6
	b := startGroupBroker(t, t.TempDir(), nil)
	topic := kafkaTopicName(t, "group")
	group := "g-" + topic
	createTopic(t, b.addr, topic, partitions, nil)
	prod := kgoClient(t, b.addr)
	adm := kadm.NewClient(kgoClient(t, b.addr))
	tr := newTracker()

	m1 := newMember(t, b.addr, group, topic, tr)
	m2 := newMember(t, b.addr, group, topic, tr)
	waitStable(t, adm, group, 2, partitions)
	produceKgo(t, prod, topic, partitions, 300, "a")
	tr.wait(t, 300)
	m2.close()
	waitStable(t, adm, group, 1, partitions)
	produceKgo(t, prod, topic, partitions, 100, "b")
	tr.wait(t, 400)
	m1.close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	lags, err := adm.Lag(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	total := int64(0)
	lags.Each(func(l kadm.DescribedGroupLag) {
		if l.Error() != nil {
			t.Fatalf("lag: %v", l.Error())
		}
		total += l.Lag.Total()
	})
	if total != 0 {
		t.Fatalf("lag after a full commit = %d, want 0", total)
	}

	m3 := newMember(t, b.addr, group, topic, tr)
	produceKgo(t, prod, topic, partitions, 50, "c")
	tr.wait(t, 450)
	m3.close()
	if d, dups := tr.counts(); d != 450 || dups != 0 {
		t.Fatalf("%d distinct records, %d redelivered; want 450, 0", d, dups)
	}
}

// kgoMember consumes with franz-go's group consumer.
func kgoMember(opts ...kgo.Opt) memberFactory {
	return func(t *testing.T, addr, group, topic string, tr *tracker) groupMember {
		cl := kgoClient(t, addr, append([]kgo.Opt{kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}, opts...)...)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			for ctx.Err() == nil {
				fs := cl.PollFetches(ctx)
				fs.EachRecord(func(r *kgo.Record) { tr.add(r.Partition, r.Offset) })
			}
		}()
		return closer(func() {
			cancel()
			<-done
			cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer ccancel()
			if err := cl.CommitUncommittedOffsets(cctx); err != nil {
				t.Errorf("commit: %v", err)
			}
			cl.Close()
		})
	}
}

type closer func()

func (c closer) close() { c() }
