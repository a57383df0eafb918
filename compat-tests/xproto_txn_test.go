package compattests

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestXProtoKafkaTransactionsToRocketMQ: a rocketmq-client-go pull
// consumer of a queue written by Kafka transactions sees only committed
// records, never the markers, and never reads past the last stable
// offset: a pull at an open transaction finds nothing until it ends, and
// once it is aborted the pull goes on past it, skipping its records.
func TestXProtoKafkaTransactionsToRocketMQ(t *testing.T) {
	b := startXBroker(t)
	b.createXTopic(t, "xtxn", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p := kgoClient(t, b.kafkaAddr, kgo.TransactionalID("x1"), kgo.TransactionTimeout(10*time.Minute))
	step := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	step(p.BeginTransaction())
	txnProduce(t, p, "xtxn", "committed", 5)
	step(p.EndTransaction(ctx, kgo.TryCommit))
	step(p.BeginTransaction())
	txnProduce(t, p, "xtxn", "aborted", 5)
	step(p.EndTransaction(ctx, kgo.TryAbort))
	step(p.BeginTransaction())
	txnProduce(t, p, "xtxn", "open", 3)
	produceSentinels(t, b.kafkaAddr, "xtxn", 1) // behind the open transaction

	pc, err := rocketmq.NewPullConsumer(consumer.WithNsResolver(b.rmq.resolver()), consumer.WithInstance(instance(t)),
		consumer.WithGroupName("xtxn-pull"))
	step(err)
	step(pc.Subscribe("xtxn", consumer.MessageSelector{}))
	step(pc.Start())
	defer pc.Shutdown()
	route, _ := b.rmq.ns.Table().Route("xtxn")
	mq := &primitive.MessageQueue{Topic: "xtxn", BrokerName: route.BrokerDatas[0].BrokerName, QueueId: 0}
	var got []string
	next := int64(0)
	pull := func(pctx context.Context) (int, error) {
		res, err := pc.PullFrom(pctx, mq, next, 32)
		if err != nil {
			return 0, err
		}
		for _, m := range res.GetMessageExts() {
			got = append(got, string(m.Body))
		}
		next = max(next, res.NextBeginOffset)
		return len(res.GetMessageExts()), nil
	}
	// committed (0-4), its marker (5), aborted (6-10), its marker (11),
	// then the open transaction from 12: the pulls stop there.
	for next < 12 {
		if _, err := pull(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if next != 12 || strings.Join(got, ",") != "committed-0,committed-1,committed-2,committed-3,committed-4" {
		t.Fatalf("before the open transaction: next %d, got %v", next, got)
	}
	// Held at the LSO: the broker parks the pull, which the client lets
	// run to its suspend timeout (20 s), and answers it with nothing.
	n, _ := pull(ctx)
	if n != 0 || next != 12 {
		t.Fatalf("a pull read past the last stable offset: %v, next %d", got, next)
	}
	step(p.EndTransaction(ctx, kgo.TryAbort))
	for !strings.HasSuffix(strings.Join(got, ","), endSentinel) {
		if _, err := pull(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != 6 {
		t.Fatalf("after the abort: %v", got)
	}
}
