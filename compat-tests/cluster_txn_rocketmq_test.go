package compattests

import (
	"context"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"

	"github.com/twinmq/twinmq/nameserver"
	"github.com/twinmq/twinmq/wire/remoting"
)

// unknownListener leaves every transaction to the test: its local
// transaction and its check-backs answer "unknown".
type unknownListener struct{}

func (unknownListener) ExecuteLocalTransaction(*primitive.Message) primitive.LocalTransactionState {
	return primitive.UnkonwnState
}

func (unknownListener) CheckLocalTransaction(*primitive.MessageExt) primitive.LocalTransactionState {
	return primitive.UnkonwnState
}

// TestClusterRocketMQTxnCommitWaitsForSlave: on a SYNC_MASTER, the commit
// of a transactional message (END_TRANSACTION writing the message to its
// topic) waits for the in-sync slave as a sync send does. With the slave
// in sync it answers SUCCESS; with the slave stopped (SIGSTOP) it answers
// FLUSH_SLAVE_TIMEOUT or SLAVE_NOT_AVAILABLE, as Java's
// EndTransactionProcessor does, and the message is committed on the
// master all the same (a second END_TRANSACTION finds it resolved). After
// SIGCONT both stores hold both committed messages. rocketmq-client-go's
// transaction producer sends the half messages (its END_TRANSACTION is
// oneway: the test sends its own and reads the answer).
func TestClusterRocketMQTxnCommitWaitsForSlave(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	g := startGroupOn(t, groupHosts{ns: "127.0.2.81", master: "127.0.2.82", slave: "127.0.2.83"}, "SYNC_MASTER", nil, nil)
	const topic, group = "ClusterTxnSlaveTopic", "pg_cluster_txn_slave"
	plain, err := rocketmq.NewProducer(producer.WithNsResolver(g.resolver()), producer.WithInstanceName(instance(t)),
		producer.WithGroupName("pg_cluster_txn_plain"), producer.WithRetry(0))
	if err != nil {
		t.Fatal(err)
	}
	if err := plain.Start(); err != nil {
		t.Fatal(err)
	}
	defer plain.Shutdown()
	waitFor(t, 60*time.Second, func() bool { // the new topic's route
		_, err := plain.SendSync(context.Background(), newMsg(topic, "TagP", -1))
		return err == nil
	})
	p, err := rocketmq.NewTransactionProducer(unknownListener{}, producer.WithNsResolver(g.resolver()),
		producer.WithInstanceName(instance(t)), producer.WithGroupName(group), producer.WithRetry(0))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = p.Shutdown() }()
	r1, r2 := sendTxn(t, p, topic, "txn-slave-1"), sendTxn(t, p, topic, "txn-slave-2")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := nameserver.Dial(ctx, "127.0.2.82:10911")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	commit := func(r *primitive.TransactionSendResult) int32 {
		t.Helper()
		_, phys, err := remoting.ParseOffsetMsgID(r.OffsetMsgID)
		if err != nil {
			t.Fatal(err)
		}
		req := remoting.NewRequest(remoting.EndTransaction, 0)
		req.ExtFields["producerGroup"], req.ExtFields["msgId"], req.ExtFields["transactionId"] = group, r.MsgID, r.TransactionID
		req.ExtFields["tranStateTableOffset"] = strconv.FormatInt(r.QueueOffset, 10)
		req.ExtFields["commitLogOffset"] = strconv.FormatInt(phys, 10)
		req.ExtFields["commitOrRollback"] = strconv.Itoa(int(remoting.SysFlagTransactionCommit))
		req.ExtFields["fromTransactionCheck"] = "false"
		resp, err := c.Invoke(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		return resp.Code
	}
	if code := commit(r1); code != remoting.Success {
		t.Fatalf("commit with the slave in sync: code %d", code)
	}
	g.slave.signal(syscall.SIGSTOP)
	if code := commit(r2); code != remoting.FlushSlaveTimeout && code != remoting.SlaveNotAvailable {
		g.slave.signal(syscall.SIGCONT)
		t.Fatalf("commit with the slave stopped: code %d, want FLUSH_SLAVE_TIMEOUT (%d) or SLAVE_NOT_AVAILABLE (%d)",
			code, remoting.FlushSlaveTimeout, remoting.SlaveNotAvailable)
	}
	// Committed on the master all the same: it is resolved.
	if code := commit(r2); code == remoting.Success || code == remoting.FlushSlaveTimeout || code == remoting.SlaveNotAvailable {
		g.slave.signal(syscall.SIGCONT)
		t.Fatalf("second commit of a resolved message: code %d", code)
	}
	g.slave.signal(syscall.SIGCONT)
	g.waitInSync(t)
	// One more send, confirmed by the slave: everything before it is on
	// the slave too.
	if r, err := plain.SendSync(context.Background(), newMsg(topic, "TagP", 99)); err != nil || r.Status != primitive.SendOK {
		t.Fatalf("send after the slave came back: %v %v", r, err)
	}
	g.slave.signal(syscall.SIGTERM)
	g.master.signal(syscall.SIGTERM)
	g.slave.wait()
	g.master.wait()
	masterBodies, _ := readStoredBodies(t, filepath.Join(g.dir, "b0", "store"), topic)
	slaveBodies, _ := readStoredBodies(t, filepath.Join(g.dir, "b1", "store"), topic)
	for _, b := range []string{"txn-slave-1", "txn-slave-2"} {
		if !masterBodies[b] || !slaveBodies[b] {
			t.Errorf("%s committed but on the master %v, on the slave %v", b, masterBodies[b], slaveBodies[b])
		}
	}
}
