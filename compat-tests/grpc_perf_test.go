package compattests

import (
	"context"
	"crypto/rand"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
)

// TestGRPCReceiveAckRatio is issue 18's performance figure, measured in
// one run on one broker: N messages of 1 KiB (random bytes), sent in
// batches by rocketmq-client-go to a topic of 4 queues, are consumed to
// the end by a rocketmq-client-go push consumer (remoting pulls, offsets
// committed) and by a v5 SimpleConsumer (gRPC receive of 32 and one ack
// per message, 4 goroutines; timed to the last ack), each in its own group. It reports both
// rates and their ratio (target >= 0.5).
//
// A measurement, not a check (timings are never asserted); it runs only
// when asked:
//
//	TWINMQ_GRPC_PERF=1 go test ./compat-tests -run GRPCReceiveAckRatio -v
func TestGRPCReceiveAckRatio(t *testing.T) {
	if os.Getenv("TWINMQ_GRPC_PERF") == "" {
		t.Skip("a throughput measurement; set TWINMQ_GRPC_PERF=1 to run it")
	}
	n := 20_000
	if v, err := strconv.Atoi(os.Getenv("TWINMQ_GRPC_PERF_N")); err == nil && v > 0 {
		n = v
	}
	c := startGRPCCluster(t, 0)
	topic := "rmq5-perf"
	c.createTopic(t, topic, 4)
	p := c.rmq().producer(t)
	body := make([]byte, 1<<10)
	_, _ = rand.Read(body)
	for sent := 0; sent < n; {
		k := min(32, n-sent)
		msgs := make([]*primitive.Message, k)
		for i := range msgs {
			msgs[i] = primitive.NewMessage(topic, body)
		}
		if _, err := p.SendSync(context.Background(), msgs...); err != nil {
			t.Fatal(err)
		}
		sent += k
	}

	// Remoting push consumer.
	var pushed atomic.Int64
	done := make(chan struct{})
	var once sync.Once
	pc := c.rmq().pushConsumer(t, "g-perf-push", consumer.WithConsumeMessageBatchMaxSize(32), consumer.WithPullBatchSize(32))
	start := time.Now()
	err := pc.Subscribe(topic, consumer.MessageSelector{Type: consumer.TAG, Expression: "*"},
		func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
			if pushed.Add(int64(len(msgs))) >= int64(n) {
				once.Do(func() { close(done) })
			}
			return consumer.ConsumeSuccess, nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		t.Fatalf("push consumer read %d of %d", pushed.Load(), n)
	}
	pushTime := time.Since(start)
	_ = pc.Shutdown()

	// v5 SimpleConsumer: receive 32, ack each.
	sc := c.simpleConsumer(t, "g-perf-simple", topic, "*", time.Second)
	var acked atomic.Int64
	var simpleDone atomic.Int64 // ns since start when the last ack returned
	start = time.Now()
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			deadline := time.Now().Add(5 * time.Minute)
			for acked.Load() < int64(n) && time.Now().Before(deadline) {
				mvs, err := sc.Receive(context.Background(), 32, time.Minute)
				if err != nil {
					continue // MESSAGE_NOT_FOUND at the end
				}
				for _, mv := range mvs {
					if err := sc.Ack(context.Background(), mv); err == nil && acked.Add(1) == int64(n) {
						simpleDone.Store(int64(time.Since(start)))
					}
				}
			}
		}()
	}
	wg.Wait() // the other goroutines end their last (empty) long polls
	simpleTime := time.Duration(simpleDone.Load())
	if acked.Load() < int64(n) {
		t.Fatalf("SimpleConsumer acked %d of %d", acked.Load(), n)
	}
	pushRate := float64(n) / pushTime.Seconds()
	simpleRate := float64(n) / simpleTime.Seconds()
	t.Logf("N=%d x 1 KiB: remoting push %.0f msg/s (%v), v5 SimpleConsumer receive+ack %.0f msg/s (%v), ratio %.2f",
		n, pushRate, pushTime.Round(time.Millisecond), simpleRate, simpleTime.Round(time.Millisecond), simpleRate/pushRate)
}
