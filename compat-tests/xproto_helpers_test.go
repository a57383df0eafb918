package compattests

import (
	"context"
	"fmt"
	"maps"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/twinmq/twinmq/broker"
	"github.com/twinmq/twinmq/broker/groups"
	"github.com/twinmq/twinmq/broker/kafkaapi"
	blog "github.com/twinmq/twinmq/broker/log"
	"github.com/twinmq/twinmq/broker/offsets"
	"github.com/twinmq/twinmq/broker/remotingapi"
	"github.com/twinmq/twinmq/broker/topics"
	"github.com/twinmq/twinmq/broker/txn"
	"github.com/twinmq/twinmq/nameserver"
	"github.com/twinmq/twinmq/netio"
	"github.com/twinmq/twinmq/storage"
	"github.com/twinmq/twinmq/wire/remoting"
)

// xBroker is one in-process twinmq speaking both protocols over one
// store: a name server, the RocketMQ broker, and the Kafka listener with
// the group coordinator (no initial rebalance delay), as `twinmq serve`.
type xBroker struct {
	kafkaAddr string
	rmq       *rmqCluster // the name server and remoting parts, for the RocketMQ helpers
	store     *storage.Store
	reg       *topics.Registry
	offs      *offsets.Table
	kafka     *kafkaapi.Handler
}

func startXBroker(t *testing.T) *xBroker {
	t.Helper()
	ctx := context.Background()
	log := testLogger()
	dir := t.TempDir()
	ns := nameserver.New(nameserver.Config{Logger: log})
	nsSrv, nsStop, err := nameserver.Listen(ctx, "127.0.0.1:0", ns)
	if err != nil {
		t.Fatal(err)
	}
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
	coord, err := groups.Open(ctx, store, offs, groups.CoordinatorConfig{InitialRebalanceDelay: -1, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	// Kafka transactions, their index shared with the RocketMQ pulls.
	txns, err := txn.Open(ctx, store, txn.Config{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	txIndex := blog.NewTxns(store, 100_000, kafkaapi.LoadTxnBatch)
	kh, err := kafkaapi.New(kafkaapi.Config{NodeID: id.NodeID, ClusterID: id.ClusterID, Logger: log, Groups: coord,
		Transactions: txns, Txns: txIndex}, store, reg)
	if err != nil {
		t.Fatal(err)
	}
	ksrv, err := netio.New(kafkaapi.ServerConfig("127.0.0.1:0", log), kh)
	if err != nil {
		t.Fatal(err)
	}
	if err := ksrv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(ksrv.Addr().String())
	p, _ := strconv.Atoi(port)
	kh.SetAdvertised(host, int32(p))

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	raddr := ln.Addr().String()
	ln.Close()
	rb, err := remotingapi.New(remotingapi.Config{AdvertisedAddr: raddr, NamesrvAddrs: []string{nsSrv.Addr().String()}, Logger: log,
		Txns: txIndex},
		store, reg, offs)
	if err != nil {
		t.Fatal(err)
	}
	rsrv, err := netio.New(netio.Config{Addr: raddr, Framer: netio.LengthPrefixed{Max: remoting.MaxFrameSize - 4},
		Ordering: netio.Concurrent, Logger: log}, rb)
	if err != nil {
		t.Fatal(err)
	}
	if err := rsrv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	rb.Start()
	c := &rmqCluster{nsAddr: nsSrv.Addr().String(), ns: ns, brokerAddr: raddr, dir: dir}
	c.rmqBroker = rmqBroker{store: store, topics: reg, offsets: offs, broker: rb}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			_ = rsrv.Shutdown(sctx) // as cmd/twinmq: requests already read finish first
			rb.Close(sctx)
			_ = ksrv.Shutdown(sctx)
			txns.Close()
			coord.Close()
			offs.Close()
			reg.Close()
			stopID()
			if err := store.Close(); err != nil {
				t.Errorf("close store: %v", err)
			}
			_ = nsStop(sctx)
		})
	}
	c.rmqBroker.stopFn = stop
	c.stopNS = func() {}
	t.Cleanup(stop)
	waitFor(t, 5*time.Second, func() bool { r, ok := ns.Table().Route("TBW102"); return ok && len(r.BrokerDatas) > 0 })
	return &xBroker{kafkaAddr: ksrv.Addr().String(), rmq: c, store: store, reg: reg, offs: offs, kafka: kh}
}

// createXTopic creates a topic with the Kafka admin API and waits until
// the name server routes it, so RocketMQ clients find it at once.
func (b *xBroker) createXTopic(t *testing.T, topic string, queues int32) {
	t.Helper()
	createTopic(t, b.kafkaAddr, topic, queues, nil)
	b.waitRoute(t, topic)
}

func (b *xBroker) waitRoute(t *testing.T, topic string) {
	t.Helper()
	waitFor(t, 10*time.Second, func() bool { r, ok := b.rmq.ns.Table().Route(topic); return ok && len(r.QueueDatas) > 0 })
}

// xMatrixN is the number of messages per producer in the matrix: small,
// to keep 49 pairs fast. Message xMatrixN-1 has a 5 KiB value, over the
// RocketMQ clients' 4 KiB body-compression threshold.
const xMatrixN = 6

// xmsg is a message as one client saw it, in neutral form: Kafka headers
// and RocketMQ user properties are both props.
type xmsg struct {
	value, key, tags string
	props            map[string]string
	ts               int64 // record timestamp / born timestamp (ms)
	storeTS          int64 // RocketMQ store timestamp (0 on the Kafka side)
	partition        int32
	offset           int64
	msgID            string // RocketMQ MsgId (UNIQ_KEY)
	offsetMsgID      string // RocketMQ offsetMsgId (store host + CommitLog offset)
	phys             int64  // RocketMQ CommitLog offset
}

// xsent is what a producer sent: message i of the matrix, and the range
// its timestamp must fall in (exact for Kafka producers that set it).
type xsent struct {
	i         int
	tsMin     int64
	tsMax     int64
	fromKafka bool
}

func xValue(producer string, i int) string {
	v := fmt.Sprintf("%s-value-%d", producer, i)
	if i == xMatrixN-1 {
		v += strings.Repeat("x", 5<<10)
	}
	return v
}

func xKey(i int) string      { return fmt.Sprintf("key-%d", i) }
func xHeader(i int) string   { return fmt.Sprintf("hv-%d", i) }
func xPartition(i int) int32 { return int32(i % 2) }

// xTag is TagA for even messages, TagB for odd: a RocketMQ consumer
// subscribed to TagA gets only the even ones, filtered by the broker.
func xTag(i int) string {
	if i%2 == 0 {
		return "TagA"
	}
	return "TagB"
}

// xBaseTS is the record timestamp Kafka producers set on message 0 (an
// hour ago, so it cannot be mistaken for an append time).
func xBaseTS() int64 { return time.Now().Add(-time.Hour).Truncate(time.Second).UnixMilli() }

// checkXMessages asserts the table of docs/design.md section 4 on what a
// consumer got: exactly the wanted messages (all, or only TagA ones),
// once each, with value, key, the user header/property, the tag and the
// timestamp; Kafka consumers see dense offsets.
func checkXMessages(t *testing.T, producer string, sent []xsent, got []xmsg, onlyTagA, kafkaSide bool) {
	t.Helper()
	byValue := map[string][]xmsg{}
	for _, m := range got {
		byValue[m.value] = append(byValue[m.value], m)
	}
	want := 0
	for _, s := range sent {
		v := xValue(producer, s.i)
		ms := byValue[v]
		if onlyTagA && xTag(s.i) != "TagA" {
			if len(ms) != 0 {
				t.Errorf("message %d (TagB) reached a TagA subscriber", s.i)
			}
			continue
		}
		want++
		if len(ms) != 1 {
			t.Errorf("message %d delivered %d times", s.i, len(ms))
			continue
		}
		m := ms[0]
		if m.key != xKey(s.i) || m.tags != xTag(s.i) || m.props["h"] != xHeader(s.i) {
			t.Errorf("message %d: key %q tags %q h %q; want %q %q %q", s.i, m.key, m.tags, m.props["h"], xKey(s.i), xTag(s.i), xHeader(s.i))
		}
		if m.ts < s.tsMin || m.ts > s.tsMax {
			t.Errorf("message %d: timestamp %d not in [%d, %d]", s.i, m.ts, s.tsMin, s.tsMax)
		}
		if !kafkaSide && (m.msgID == "" || m.storeTS < m.ts) {
			t.Errorf("message %d: MsgId %q store time %d born %d", s.i, m.msgID, m.storeTS, m.ts)
		}
	}
	if len(got) != want {
		t.Errorf("got %d messages, want %d", len(got), want)
	}
	if kafkaSide {
		checkDense(t, got)
	}
}

// checkDense asserts every partition's offsets run 0, 1, 2, ... with no
// gap: the Kafka offsets are the RocketMQ queue offsets.
func checkDense(t *testing.T, got []xmsg) {
	t.Helper()
	byPart := map[int32][]int64{}
	for _, m := range got {
		byPart[m.partition] = append(byPart[m.partition], m.offset)
	}
	for _, p := range slices.Sorted(maps.Keys(byPart)) {
		offs := byPart[p]
		sort.Slice(offs, func(i, j int) bool { return offs[i] < offs[j] })
		for i, o := range offs {
			if o != int64(i) {
				t.Errorf("partition %d offsets %v, want 0..%d", p, offs, len(offs)-1)
				break
			}
		}
	}
}

// fromRocketMQ is the neutral form of a RocketMQ message.
func fromRocketMQ(m *primitive.MessageExt) xmsg {
	return xmsg{value: string(m.Body), key: m.GetKeys(), tags: m.GetTags(), props: m.GetProperties(),
		ts: m.BornTimestamp, storeTS: m.StoreTimestamp, partition: int32(m.Queue.QueueId), offset: m.QueueOffset, msgID: m.MsgId,
		offsetMsgID: m.OffsetMsgId, phys: m.CommitLogOffset}
}

// xCollector gathers what a consumer got until a count is reached.
type xCollector struct {
	mu   sync.Mutex
	msgs []xmsg
}

func (c *xCollector) add(m xmsg) {
	c.mu.Lock()
	c.msgs = append(c.msgs, m)
	c.mu.Unlock()
}

func (c *xCollector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.msgs)
}

// wait polls until n messages arrived (or fails), then returns a copy.
func (c *xCollector) wait(t *testing.T, n int, d time.Duration) []xmsg {
	t.Helper()
	deadline := time.Now().Add(d)
	for c.count() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d messages within %v", c.count(), n, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.msgs)
}
