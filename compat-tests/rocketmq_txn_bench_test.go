package compattests

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"

	"github.com/twinmq/twinmq/broker/halfmsg"
)

// BenchmarkRocketMQTransactionSend compares, on one broker in one run, a
// rocketmq-client-go transaction producer (half message, local
// transaction, END_TRANSACTION commit) with plain sync sends of the same
// messages. Each loop ends when every message is readable in its topic:
// a committed message only is, after END_TRANSACTION (sent oneway)
// wrote it. Compare the two ns/op.
func BenchmarkRocketMQTransactionSend(b *testing.B) {
	c := startTxnCluster(b, halfmsg.Config{Timeout: time.Hour, Interval: time.Hour})
	body := make([]byte, 128)
	opts := func(name string) []producer.Option {
		return []producer.Option{producer.WithNsResolver(c.rmq().resolver()), producer.WithInstanceName(fmt.Sprint("bench-", name, "-", instanceSeq.Add(1))),
			producer.WithGroupName("pg_bench_" + name), producer.WithRetry(2)}
	}
	// run times send in a loop on a topic of its own (-count runs
	// again on the same broker: a new cluster each time, but the client
	// library keeps state per instance name).
	run := func(b *testing.B, topic string, send func() error) {
		n := c.stored(topic) + 1
		if err := send(); err != nil { // creates the topic, warms the route
			b.Fatal(err)
		}
		waitForTB(b, 10*time.Second, func() bool { return c.stored(topic) >= n })
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			if err := send(); err != nil {
				b.Fatal(err)
			}
			n++
		}
		waitForTB(b, 60*time.Second, func() bool { return c.stored(topic) >= n })
		if got := c.stored(topic); got != n {
			b.Fatalf("%s holds %d messages, want %d", topic, got, n)
		}
	}

	b.Run("sync-send", func(b *testing.B) {
		p, err := rocketmq.NewProducer(opts("sync")...)
		if err != nil {
			b.Fatal(err)
		}
		if err := p.Start(); err != nil {
			b.Fatal(err)
		}
		defer p.Shutdown()
		run(b, "RmqBenchPlain", func() error {
			_, err := p.SendSync(context.Background(), primitive.NewMessage("RmqBenchPlain", body))
			return err
		})
	})
	b.Run("transaction-commit", func(b *testing.B) {
		l := newTxnListener(nil, func(string) primitive.LocalTransactionState { return primitive.CommitMessageState })
		l.execute = map[string]primitive.LocalTransactionState{string(body): primitive.CommitMessageState}
		p, err := rocketmq.NewTransactionProducer(l, opts("txn")...)
		if err != nil {
			b.Fatal(err)
		}
		if err := p.Start(); err != nil {
			b.Fatal(err)
		}
		defer p.Shutdown()
		run(b, "RmqBenchTxn", func() error {
			r, err := p.SendMessageInTransaction(context.Background(), primitive.NewMessage("RmqBenchTxn", body))
			if err == nil && r.State != primitive.CommitMessageState {
				err = fmt.Errorf("local state %v", r.State)
			}
			return err
		})
	})
}
