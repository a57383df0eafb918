package loadtest

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	rmqadmin "github.com/apache/rocketmq-client-go/v2/admin"
	rmqconsumer "github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/apache/rocketmq-client-go/v2/rlog"
	"github.com/twmb/franz-go/pkg/kgo"
)

// RocketMQConfig describes one RocketMQ run: Producers rocketmq-client-go
// producers each send their share of Messages with SendSync (one message
// per SEND_MESSAGE request), while one push consumer receives them.
type RocketMQConfig struct {
	NamesrvAddrs []string
	Topic        string
	Messages     int
	Size         int // bytes per message body (>= 16)
	Producers    int
	Timeout      time.Duration
	// CPU, when set, reports the broker's CPU time so far; the result then
	// gives CPU per message.
	CPU func() (time.Duration, error)
	// ConsumeAfterSend starts the consumer once every send is acknowledged,
	// so the send phase's broker CPU is the sends' alone (with a concurrent
	// consumer one producer's every send also wakes and answers a pull).
	ConsumeAfterSend bool
	// Progress, when set, is called every ProgressEvery (default 1 s)
	// while the run goes, and once at its end.
	Progress      func(Progress)
	ProgressEvery time.Duration
}

// SendResult is a Result with the send phase timed on its own: the rate
// that sync producers reach, and the broker's CPU per message.
type SendResult struct {
	Result
	SendElapsed time.Duration // first send to last acknowledgement
	// SendCPU is the broker's CPU time during the send phase; IdleCPU its
	// CPU time over an idle interval as long as SendElapsed (clients
	// connected, nothing sent), when measured.
	SendCPU, IdleCPU time.Duration
}

// SendCPUPerMessage is the broker's CPU time of the send phase per
// message, idle CPU not subtracted (0 when unknown).
func (r SendResult) SendCPUPerMessage() time.Duration {
	if r.Records == 0 {
		return 0
	}
	return r.SendCPU / time.Duration(r.Records)
}

// SendsPerSec is acknowledged messages per second of the send phase.
func (r SendResult) SendsPerSec() float64 { return float64(r.Records) / r.SendElapsed.Seconds() }

// CPUPerMessage is the broker's CPU time per message sent and consumed
// (0 when unknown).
func (r SendResult) CPUPerMessage() time.Duration {
	if r.Records == 0 {
		return 0
	}
	return r.BrokerCPU / time.Duration(r.Records)
}

func (r SendResult) String() string {
	s := fmt.Sprintf("%-10s sends %8.0f msgs/s  send p50/p99 %v/%v", r.Target, r.SendsPerSec(),
		r.ProduceP50.Round(time.Microsecond), r.ProduceP99.Round(time.Microsecond))
	if r.E2EP50 > 0 {
		s += fmt.Sprintf("  send+consume %8.0f msgs/s  e2e p50/p99 %v/%v  lost %d dup %d", r.MsgsPerSec(),
			r.E2EP50.Round(time.Microsecond), r.E2EP99.Round(time.Microsecond), r.Lost, r.Duplicates)
	}
	if r.BrokerCPU > 0 {
		s += fmt.Sprintf("  broker CPU %v (%.1f µs/msg)", r.BrokerCPU.Round(time.Millisecond), float64(r.CPUPerMessage())/1e3)
	}
	if r.SendCPU > 0 && r.SendCPU != r.BrokerCPU {
		s += fmt.Sprintf("  send phase %.1f µs/msg", float64(r.SendCPUPerMessage())/1e3)
	}
	if r.IdleCPU >= 0 && r.SendCPU > 0 && r.Records > 0 {
		s += fmt.Sprintf("  idle over the send phase %v (%.1f µs/msg)", r.IdleCPU.Round(time.Millisecond),
			float64(r.IdleCPU/time.Duration(r.Records))/1e3)
	}
	return s
}

func (cfg *RocketMQConfig) validate() error {
	if len(cfg.NamesrvAddrs) == 0 {
		return errors.New("loadtest: no name server")
	}
	if cfg.Size < 16 {
		return fmt.Errorf("loadtest: message size %d below the 16-byte stamp", cfg.Size)
	}
	if cfg.Messages <= 0 || cfg.Producers <= 0 {
		return errors.New("loadtest: messages and producers must be positive")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Minute
	}
	return nil
}

// RunRocketMQ runs one send+consume round and checks it. Elapsed, and so
// the message rate, runs from the first send to the last message consumed.
func RunRocketMQ(ctx context.Context, target string, cfg RocketMQConfig) (SendResult, error) {
	if err := cfg.validate(); err != nil {
		return SendResult{}, err
	}
	rlog.SetLogLevel("error")
	ownTopic := cfg.Topic == ""
	if ownTopic {
		cfg.Topic = fmt.Sprintf("twinmq-bench-%d", rand.Uint32())
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	run := fmt.Sprintf("%d", rand.Uint32())
	resolver := primitive.NewPassthroughResolver(cfg.NamesrvAddrs)
	if ownTopic {
		// After the clients below shut down: the topic, and the retry topic
		// the consumer's heartbeats created (their offsets go with them).
		defer deleteRMQTopic(resolver, cfg.NamesrvAddrs, cfg.Topic, "%RETRY%bench_cg_"+run)
	}
	producers := make([]rocketmq.Producer, cfg.Producers)
	for i := range producers {
		// One client (and connection) per producer: the Go client shares
		// one per instance name.
		p, err := rocketmq.NewProducer(producer.WithNsResolver(resolver), producer.WithGroupName("bench_pg"),
			producer.WithInstanceName(fmt.Sprintf("bench-%s-p%d", run, i)), producer.WithRetry(2))
		if err != nil {
			return SendResult{}, fmt.Errorf("loadtest: producer: %w", err)
		}
		if err := p.Start(); err != nil {
			return SendResult{}, fmt.Errorf("loadtest: producer: %w", err)
		}
		defer p.Shutdown()
		producers[i] = p
	}
	// A short warm-up message creates the topic (TBW102 auto-creation) so
	// the consumer finds its route; the consumer skips it.
	if _, err := producers[0].SendSync(ctx, primitive.NewMessage(cfg.Topic, []byte("w"))); err != nil {
		return SendResult{}, fmt.Errorf("loadtest: create topic %s: %w", cfg.Topic, err)
	}
	cons := &rmqConsumer{seen: make([]uint32, cfg.Messages), lat: make([]time.Duration, 0, cfg.Messages), done: make(chan struct{})}
	var pc rocketmq.PushConsumer
	defer func() {
		if pc != nil {
			_ = pc.Shutdown()
		}
	}()
	startConsumer := func() (err error) {
		pc, err = startRMQConsumer(ctx, cfg, resolver, run, cons)
		return err
	}
	if !cfg.ConsumeAfterSend {
		if err := startConsumer(); err != nil {
			return SendResult{}, err
		}
	}

	res := SendResult{Result: Result{Target: target}, SendCPU: -1, IdleCPU: -1}
	var err error
	var cpu0 time.Duration
	if cfg.CPU != nil {
		if cpu0, err = cfg.CPU(); err != nil {
			return res, fmt.Errorf("loadtest: broker CPU: %w", err)
		}
	}
	start := time.Now()
	var sent atomic.Int64
	if cfg.Progress != nil {
		stop := make(chan struct{})
		done := watchProgress(target, cfg.Size, cfg.ProgressEvery, start, &sent, &cons.got, &cons.hist, cfg.Progress, stop)
		defer func() { close(stop); <-done }()
	}
	lat, err := sendRocketMQ(ctx, cfg, producers, &sent)
	if err != nil {
		return res, err
	}
	sendDone := time.Since(start)
	if cfg.CPU != nil {
		cpu1, err := cfg.CPU()
		if err != nil {
			return res, fmt.Errorf("loadtest: broker CPU: %w", err)
		}
		res.SendCPU = cpu1 - cpu0
	}
	if cfg.ConsumeAfterSend {
		if err := startConsumer(); err != nil {
			return res, err
		}
	}
	select {
	case <-cons.done:
	case <-ctx.Done():
		return res, fmt.Errorf("loadtest: consumed %d of %d messages: %w", cons.got.Load(), cfg.Messages, ctx.Err())
	}
	res.Elapsed = time.Since(start)
	if cfg.CPU != nil {
		cpu1, err := cfg.CPU()
		if err != nil {
			return res, fmt.Errorf("loadtest: broker CPU: %w", err)
		}
		res.BrokerCPU = cpu1 - cpu0
		// The same interval idle, to tell per-send CPU from what the broker
		// spends anyway.
		if res.IdleCPU, err = idleCPU(ctx, cfg.CPU, sendDone); err != nil {
			return res, err
		}
	}
	res.SendElapsed = sendDone
	res.Records, res.Bytes = int64(cfg.Messages), int64(cfg.Messages)*int64(cfg.Size)
	res.ProduceP50, res.ProduceP99, res.ProduceP999 = percentiles(lat)
	cons.mu.Lock()
	res.E2EP50, res.E2EP99, res.E2EP999 = percentiles(cons.lat)
	res.Lost, res.Duplicates = checkSeen(cons.seen)
	cons.mu.Unlock()
	return res, nil
}

// idleCPU is the broker's CPU time over d with nothing sent; the clients
// stay connected, so their heartbeats, long polls and the name-server
// registration loop count, as they do during a run.
func idleCPU(ctx context.Context, cpu func() (time.Duration, error), d time.Duration) (time.Duration, error) {
	c0, err := cpu()
	if err != nil {
		return 0, fmt.Errorf("loadtest: broker CPU: %w", err)
	}
	select {
	case <-time.After(d):
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	c1, err := cpu()
	if err != nil {
		return 0, fmt.Errorf("loadtest: broker CPU: %w", err)
	}
	return c1 - c0, nil
}

// sendRocketMQ sends every message with SendSync from cfg.Producers
// goroutines and returns each send's latency.
func sendRocketMQ(ctx context.Context, cfg RocketMQConfig, producers []rocketmq.Producer, acked *atomic.Int64) ([]time.Duration, error) {
	lat := make([]time.Duration, cfg.Messages)
	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	per := (cfg.Messages + len(producers) - 1) / len(producers)
	for pi, p := range producers {
		lo, hi := pi*per, min((pi+1)*per, cfg.Messages)
		wg.Go(func() {
			for i := lo; i < hi && ctx.Err() == nil; i++ {
				body := make([]byte, cfg.Size)
				sent := time.Now()
				binary.BigEndian.PutUint64(body, uint64(sent.UnixNano()))
				binary.BigEndian.PutUint64(body[8:], uint64(i))
				r, err := p.SendSync(ctx, primitive.NewMessage(cfg.Topic, body))
				lat[i] = time.Since(sent)
				if err == nil && r.Status != primitive.SendOK {
					err = fmt.Errorf("status %d", r.Status)
				}
				if err != nil {
					errOnce.Do(func() { firstErr = fmt.Errorf("loadtest: send %d: %w", i, err) })
					return
				}
				acked.Add(1)
			}
		})
	}
	wg.Wait()
	return lat, firstErr
}

// rmqConsumer records deliveries by message id.
type rmqConsumer struct {
	mu   sync.Mutex // guards seen and lat
	seen []uint32
	lat  []time.Duration
	got  atomic.Int64
	hist Histogram // e2e latencies, for progress
	once sync.Once
	done chan struct{}
}

// deleteRMQTopic deletes a run's topics from their broker and the name
// servers (DELETE_TOPIC_IN_BROKER, DELETE_TOPIC_IN_NAMESRV) with the Go
// admin client, with a deadline of its own.
func deleteRMQTopic(resolver primitive.NsResolver, namesrvs []string, topics ...string) {
	adm, err := rmqadmin.NewAdmin(rmqadmin.WithResolver(resolver))
	if err != nil {
		return
	}
	defer adm.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, t := range topics {
		// The name servers given: without them the client asks for the
		// route again after the broker dropped the topic and logs that
		// the topic does not exist.
		_ = adm.DeleteTopic(ctx, rmqadmin.WithTopicDelete(t), rmqadmin.WithNameSrvAddr(namesrvs))
	}
}

// startRMQConsumer starts a push consumer of cfg.Topic. The topic's route
// reaches the name server with the broker's next registration, which topic
// creation triggers; until then Start fails, and a rocketmq-client-go
// consumer whose Start failed cannot be started again, so each attempt
// uses a new one.
func startRMQConsumer(ctx context.Context, cfg RocketMQConfig, resolver primitive.NsResolver, run string, c *rmqConsumer) (rocketmq.PushConsumer, error) {
	for attempt := 0; ; attempt++ {
		pc, err := newRMQConsumer(cfg, resolver, run, attempt, c)
		if err != nil {
			return nil, err
		}
		if err = pc.Start(); err == nil {
			return pc, nil
		}
		_ = pc.Shutdown()
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("loadtest: consumer start: %w", err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func newRMQConsumer(cfg RocketMQConfig, resolver primitive.NsResolver, run string, attempt int, c *rmqConsumer) (rocketmq.PushConsumer, error) {
	pc, err := rocketmq.NewPushConsumer(rmqconsumer.WithNsResolver(resolver), rmqconsumer.WithGroupName("bench_cg_"+run),
		rmqconsumer.WithInstance(fmt.Sprintf("bench-%s-c%d", run, attempt)), rmqconsumer.WithConsumeFromWhere(rmqconsumer.ConsumeFromFirstOffset),
		rmqconsumer.WithConsumeMessageBatchMaxSize(32), rmqconsumer.WithPullBatchSize(32))
	if err != nil {
		return nil, fmt.Errorf("loadtest: consumer: %w", err)
	}
	err = pc.Subscribe(cfg.Topic, rmqconsumer.MessageSelector{}, func(_ context.Context, msgs ...*primitive.MessageExt) (rmqconsumer.ConsumeResult, error) {
		now := time.Now()
		c.mu.Lock()
		for _, m := range msgs {
			if len(m.Body) < 16 {
				continue // the warm-up message
			}
			id := binary.BigEndian.Uint64(m.Body[8:])
			if id < uint64(len(c.seen)) {
				if c.seen[id]++; c.seen[id] == 1 && c.got.Add(1) == int64(len(c.seen)) {
					c.once.Do(func() { close(c.done) })
				}
			}
			d := now.Sub(time.Unix(0, int64(binary.BigEndian.Uint64(m.Body))))
			c.lat = append(c.lat, d)
			c.hist.Record(d)
		}
		c.mu.Unlock()
		return rmqconsumer.ConsumeSuccess, nil
	})
	if err != nil {
		return nil, fmt.Errorf("loadtest: subscribe: %w", err)
	}
	return pc, nil
}

func checkSeen(seen []uint32) (lost, dup int64) {
	for _, n := range seen {
		switch {
		case n == 0:
			lost++
		case n > 1:
			dup += int64(n - 1)
		}
	}
	return lost, dup
}

// RunKafkaSync is the Kafka baseline for RunRocketMQ: Producers kgo
// clients each produce one record at a time with ProduceSync, so every
// Produce request carries one record, as every RocketMQ SEND_MESSAGE
// carries one message. It measures the send phase only.
func RunKafkaSync(ctx context.Context, target string, brokers []string, topic string, messages, size, producers int, cpu func() (time.Duration, error)) (SendResult, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	if topic == "" {
		topic = fmt.Sprintf("twinmq-bench-%d", rand.Uint32())
	}
	if err := createTopic(ctx, KafkaConfig{Brokers: brokers, Topic: topic, Partitions: 4}); err != nil {
		return SendResult{}, err
	}
	lat := make([]time.Duration, messages)
	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	per := (messages + producers - 1) / producers
	var cpu0 time.Duration
	if cpu != nil {
		var err error
		if cpu0, err = cpu(); err != nil {
			return SendResult{}, fmt.Errorf("loadtest: broker CPU: %w", err)
		}
	}
	start := time.Now()
	for p := range producers {
		lo, hi := p*per, min((p+1)*per, messages)
		// No linger (franz-go's default is 10 ms): each record is a
		// request at once, as each RocketMQ send is.
		cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(topic),
			kgo.RecordPartitioner(kgo.RoundRobinPartitioner()), kgo.DisableIdempotentWrite(),
			kgo.ProducerLinger(0))
		if err != nil {
			return SendResult{}, fmt.Errorf("loadtest: producer: %w", err)
		}
		defer cl.Close()
		wg.Go(func() {
			for i := lo; i < hi; i++ {
				v := make([]byte, size)
				sent := time.Now()
				err := cl.ProduceSync(ctx, &kgo.Record{Value: v}).FirstErr()
				lat[i] = time.Since(sent)
				if err != nil {
					errOnce.Do(func() { firstErr = fmt.Errorf("loadtest: produce: %w", err) })
					return
				}
			}
		})
	}
	wg.Wait()
	res := SendResult{Result: Result{Target: target, Records: int64(messages), Bytes: int64(messages) * int64(size),
		Elapsed: time.Since(start)}}
	res.SendElapsed = res.Elapsed
	if cpu != nil {
		cpu1, err := cpu()
		if err != nil {
			return res, fmt.Errorf("loadtest: broker CPU: %w", err)
		}
		res.BrokerCPU = cpu1 - cpu0
	}
	res.ProduceP50, res.ProduceP99, res.ProduceP999 = percentiles(lat)
	return res, firstErr
}
