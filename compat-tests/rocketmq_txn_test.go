package compattests

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/twinmq/twinmq/broker/halfmsg"
)

const (
	commitState   = primitive.CommitMessageState
	rollbackState = primitive.RollbackMessageState
	unknownState  = primitive.UnkonwnState
)

// TestRocketMQTransactions: rocketmq-client-go's transaction producer
// against twinmq. A committed transaction reaches its topic with the
// msgId, tag, key and property the producer sent; a rolled-back one never
// does; one whose local branch says "unknown" is checked back and
// committed by the producer's answer; one that stays unknown is checked
// again and again and stays out. Consumers of both protocols see the same
// two messages: a RocketMQ push consumer, and franz-go with
// read_committed and read_uncommitted (the message is only written at
// commit).
func TestRocketMQTransactions(t *testing.T) {
	c := startTxnCluster(t, halfmsg.Config{Timeout: 300 * time.Millisecond, Interval: 300 * time.Millisecond, MaxChecks: 1000})
	const topic = "RmqTxnTopic"
	l := newTxnListener(map[string]primitive.LocalTransactionState{
		"commit": commitState, "rollback": rollbackState, "unknown": unknownState, "pending": unknownState,
	}, func(body string) primitive.LocalTransactionState {
		if body == "unknown" {
			return commitState
		}
		return unknownState
	})
	p := c.txnProducer(t, "pg_txn", l)
	defer p.Shutdown()
	sent := map[string]*primitive.TransactionSendResult{}
	for _, body := range []string{"commit", "rollback", "unknown", "pending"} {
		sent[body] = sendTxn(t, p, topic, body)
	}
	for body, want := range map[string]primitive.LocalTransactionState{"commit": commitState, "rollback": rollbackState, "unknown": unknownState} {
		if sent[body].State != want {
			t.Errorf("%s: local state %v, want %v", body, sent[body].State, want)
		}
	}

	// "pending" is checked back repeatedly; by then "unknown" was
	// committed by its first check.
	waitFor(t, 60*time.Second, func() bool { return l.checked("pending") >= 3 && l.checked("unknown") >= 1 })
	waitFor(t, 10*time.Second, func() bool { return c.stored(topic) == 2 })
	if n := c.current().svc.Pending(); n != 1 {
		t.Fatalf("%d half messages pending, want 1 (pending)", n)
	}
	if l.checked("unknown") != 1 {
		t.Errorf("unknown checked %d times after its commit", l.checked("unknown"))
	}

	col := newCollector()
	pc := c.rmq().pushConsumer(t, "cg_txn")
	if err := pc.Subscribe(topic, consumer.MessageSelector{}, col.handler); err != nil {
		t.Fatal(err)
	}
	if err := pc.Start(); err != nil {
		t.Fatal(err)
	}
	defer pc.Shutdown()
	waitFor(t, 30*time.Second, func() bool { return col.n.Load() >= 2 })
	col.mu.Lock()
	for _, body := range []string{"commit", "unknown"} {
		ms := col.msgs[body]
		if len(ms) != 1 {
			t.Fatalf("%s consumed %d times", body, len(ms))
		}
		m, s := ms[0], sent[body]
		if m.MsgId != s.MsgID || m.GetTags() != "TagTx" || m.GetKeys() != "k-"+body || m.GetProperty("p") != body ||
			m.Queue.QueueId != s.MessageQueue.QueueId || m.Topic != topic {
			t.Errorf("%s: consumed msgId %s tags %q keys %q p %q q%d topic %s; sent msgId %s q%d", body, m.MsgId, m.GetTags(),
				m.GetKeys(), m.GetProperty("p"), m.Queue.QueueId, m.Topic, s.MsgID, s.MessageQueue.QueueId)
		}
		for _, k := range []string{"TRAN_MSG", "REAL_TOPIC", "REAL_QID"} {
			if v := m.GetProperty(k); v != "" {
				t.Errorf("%s: consumed message has %s=%s", body, k, v)
			}
		}
	}
	col.mu.Unlock()

	for _, iso := range []kgo.IsolationLevel{kgo.ReadCommitted(), kgo.ReadUncommitted()} {
		from := map[int32]kgo.Offset{}
		for q := range int32(4) {
			from[q] = kgo.NewOffset().AtStart()
		}
		cl := kgoClient(t, c.kafkaURL, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: from}),
			kgo.FetchMaxWait(200*time.Millisecond), kgo.FetchIsolationLevel(iso))
		var got []string
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		for len(got) < 2 && ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			fs.EachError(func(tp string, p int32, err error) {
				if ctx.Err() == nil {
					t.Errorf("fetch %s/%d: %v", tp, p, err)
				}
			})
			fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
		}
		cancel()
		slices.Sort(got)
		if !slices.Equal(got, []string{"commit", "unknown"}) {
			t.Errorf("franz-go (%v) consumed %q, want [commit unknown]", iso, got)
		}
	}
}

// TestRocketMQTransactionCheckedBackOnAnotherProducer: a producer sends a
// transactional message and goes away in the middle of its local
// transaction, before any END_TRANSACTION; the check-back asks a second
// instance of the same producer group, whose answer commits it.
func TestRocketMQTransactionCheckedBackOnAnotherProducer(t *testing.T) {
	c := startTxnCluster(t, halfmsg.Config{Timeout: 300 * time.Millisecond, Interval: 300 * time.Millisecond, MaxChecks: 1000})
	const topic = "RmqTxnOrphan"
	release := make(chan struct{})
	first := newTxnListener(map[string]primitive.LocalTransactionState{"orphan": rollbackState},
		func(string) primitive.LocalTransactionState { return rollbackState })
	first.onExecute = func(string) { <-release } // the local transaction never ends while it matters
	p1 := c.txnProducer(t, "pg_orphan", first)
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		m := primitive.NewMessage(topic, []byte("orphan"))
		if _, err := p1.SendMessageInTransaction(context.Background(), m); err != nil {
			t.Logf("first producer, after its shutdown: %v", err)
		}
	}()
	waitFor(t, 30*time.Second, func() bool { return c.current().svc.Pending() == 1 })
	if err := p1.Shutdown(); err != nil {
		t.Fatal(err)
	}

	second := newTxnListener(map[string]primitive.LocalTransactionState{"own": commitState},
		func(body string) primitive.LocalTransactionState {
			if body == "orphan" {
				return commitState
			}
			return unknownState
		})
	p2 := c.txnProducer(t, "pg_orphan", second)
	defer p2.Shutdown()
	sendTxn(t, p2, topic, "own") // learns the broker: its next heartbeat registers the group there
	waitFor(t, 90*time.Second, func() bool { return c.stored(topic) == 2 })
	if second.checked("orphan") != 1 {
		t.Errorf("the second producer was asked %d times about orphan, want 1", second.checked("orphan"))
	}
	if n := first.any.Load(); n != 0 {
		t.Errorf("the stopped producer was asked %d times", n)
	}
	if n := c.current().svc.Pending(); n != 0 {
		t.Errorf("%d half messages pending", n)
	}
	// The first producer's local transaction ends now: whatever it sends
	// (a rollback, if its stopped client sends anything) changes nothing.
	close(release)
	<-sent
	if got := c.stored(topic); got != 2 {
		t.Errorf("%s holds %d messages after the late end, want 2", topic, got)
	}
}

// TestRocketMQTransactionBrokerRestart: half messages and their check
// counts survive a broker restart in the middle of their check-backs;
// after it the producer's answers commit one and roll back the other, and
// a transaction committed before the restart is neither checked again nor
// written twice. Another restart finds nothing pending and nothing
// doubled.
func TestRocketMQTransactionBrokerRestart(t *testing.T) {
	c := startTxnCluster(t, halfmsg.Config{Timeout: 300 * time.Millisecond, Interval: 300 * time.Millisecond, MaxChecks: 1000})
	const topic = "RmqTxnRestart"
	var decided atomic.Bool
	l := newTxnListener(map[string]primitive.LocalTransactionState{"before": commitState, "x": unknownState, "y": unknownState},
		func(body string) primitive.LocalTransactionState {
			switch {
			case !decided.Load():
				return unknownState
			case body == "x":
				return commitState
			case body == "y":
				return rollbackState
			}
			return unknownState
		})
	p := c.txnProducer(t, "pg_restart", l)
	defer p.Shutdown()
	for _, body := range []string{"before", "x", "y"} {
		sendTxn(t, p, topic, body)
	}
	waitFor(t, 60*time.Second, func() bool { return l.checked("x") >= 1 && l.checked("y") >= 1 })
	beforeChecks := l.checked("before")

	c.restart()
	if n := c.current().svc.Pending(); n != 2 {
		t.Fatalf("%d half messages pending after the restart, want 2", n)
	}
	decided.Store(true)
	// The producer's next heartbeat (every 30 s) registers it again.
	waitFor(t, 90*time.Second, func() bool { return c.current().svc.Pending() == 0 })
	waitFor(t, 10*time.Second, func() bool { return c.stored(topic) == 2 })
	if n := l.checked("before"); n != beforeChecks {
		t.Errorf("before, committed before the restart, checked %d more times", n-beforeChecks)
	}

	c.restart()
	if n := c.current().svc.Pending(); n != 0 {
		t.Fatalf("%d half messages pending after the second restart", n)
	}
	col := newCollector()
	pc := c.rmq().pushConsumer(t, "cg_txn_restart")
	if err := pc.Subscribe(topic, consumer.MessageSelector{}, col.handler); err != nil {
		t.Fatal(err)
	}
	if err := pc.Start(); err != nil {
		t.Fatal(err)
	}
	defer pc.Shutdown()
	waitFor(t, 30*time.Second, func() bool { return col.n.Load() >= 2 })
	col.mu.Lock()
	defer col.mu.Unlock()
	if len(col.msgs["before"]) != 1 || len(col.msgs["x"]) != 1 || len(col.msgs["y"]) != 0 || c.stored(topic) != 2 {
		t.Fatalf("consumed before %d, x %d, y %d; stored %d", len(col.msgs["before"]), len(col.msgs["x"]), len(col.msgs["y"]), c.stored(topic))
	}
}

// TestRocketMQTransactionGivenUpIsPullable: a half message whose producer
// answers "unknown" to every check is given up after transactionCheckMax
// checks and copied to TRANS_CHECK_MAX_TIME_TOPIC, which is then a topic
// like any other for consumers (as in RocketMQ, where an operator reads
// it to settle such transactions by hand): the name server routes it, a
// rocketmq-client-go push consumer reads the message with the msgId, key
// and property the producer sent, and producers still may not send to it.
func TestRocketMQTransactionGivenUpIsPullable(t *testing.T) {
	c := startTxnCluster(t, halfmsg.Config{Timeout: 200 * time.Millisecond, Interval: 200 * time.Millisecond, MaxChecks: 2})
	l := newTxnListener(map[string]primitive.LocalTransactionState{"giveup": unknownState},
		func(string) primitive.LocalTransactionState { return unknownState })
	p := c.txnProducer(t, "pg_txn_giveup", l)
	defer p.Shutdown()
	sent := sendTxn(t, p, "RmqTxnGiveUp", "giveup")
	waitFor(t, 30*time.Second, func() bool { return c.current().svc.Pending() == 0 })

	col := newCollector()
	pc := c.rmq().pushConsumer(t, "cg_txn_giveup")
	if err := pc.Subscribe(halfmsg.CheckMaxTopic, consumer.MessageSelector{}, col.handler); err != nil {
		t.Fatal(err)
	}
	if err := pc.Start(); err != nil {
		t.Fatal(err)
	}
	defer pc.Shutdown()
	waitFor(t, 30*time.Second, func() bool { return col.n.Load() >= 1 })
	col.mu.Lock()
	ms := col.msgs["giveup"]
	col.mu.Unlock()
	if len(ms) != 1 {
		t.Fatalf("consumed %d copies", len(ms))
	}
	if m := ms[0]; m.Topic != halfmsg.CheckMaxTopic || m.GetKeys() != "k-giveup" || m.GetProperty("p") != "giveup" ||
		m.GetProperty("UNIQ_KEY") != sent.MsgID {
		t.Errorf("consumed topic %s keys %q p %q uniq %q; sent msgId %s", m.Topic, m.GetKeys(), m.GetProperty("p"),
			m.GetProperty("UNIQ_KEY"), sent.MsgID)
	}
	plain := c.rmq().producer(t)
	if _, err := plain.SendSync(context.Background(), primitive.NewMessage(halfmsg.CheckMaxTopic, []byte("x"))); err == nil {
		t.Error("a producer sent to " + halfmsg.CheckMaxTopic)
	}
}
