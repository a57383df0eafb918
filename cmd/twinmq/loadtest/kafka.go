// Package loadtest is the load tool behind `twinmq bench`: it produces and
// consumes N records against a Kafka address (twinmq, a real Kafka, or an
// in-process franz-go kfake cluster as a peer), measures throughput and
// latency, and checks that every record arrived exactly once.
//
// Each record's value starts with a 16-byte stamp: the send time (unix ns)
// and a record id (producer << 32 | sequence), so the consumer measures
// end-to-end latency and detects loss and duplicates.
package loadtest

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// KafkaConfig describes one run.
type KafkaConfig struct {
	Brokers     []string
	Topic       string
	Partitions  int32
	Records     int
	Size        int    // bytes per record value (>= 16)
	Producers   int    // concurrent producer clients
	Acks        string // "all", "1" or "0"
	Idempotent  bool
	Compression string  // none, gzip, snappy, lz4, zstd
	Rate        float64 // records per second over all producers; 0 = as fast as possible
	Linger      time.Duration
	Timeout     time.Duration
	// CPU, when set, reports the broker's CPU time so far (for example
	// from /proc/<pid>/stat); the report then gives CPU per MiB.
	CPU func() (time.Duration, error)
	// Progress, when set, is called every ProgressEvery (default 1 s)
	// while the run goes, from a goroutine of its own.
	Progress      func(Progress)
	ProgressEvery time.Duration
	// KeepTopic leaves the topic the run created; by default it is
	// deleted at the end.
	KeepTopic bool
}

// Progress is a run's state at one progress tick.
type Progress struct {
	Target   string
	Elapsed  time.Duration
	Produced int64 // acknowledged so far
	Consumed int64 // distinct records consumed so far
	// MsgsPerSec and MBPerSec are the consume rate since the last tick
	// (over the whole run in the final report).
	MsgsPerSec, MBPerSec float64
	// Final marks the report made when the run ends.
	Final bool
	// E2EP99 is the end-to-end latency's 99th percentile so far.
	E2EP99 time.Duration
}

func (p Progress) String() string {
	if p.Final {
		return fmt.Sprintf("%-8s %6.1fs  done: produced %d consumed %d  %9.0f msgs/s %8.2f MB/s over the run  e2e p99 %v",
			p.Target, p.Elapsed.Seconds(), p.Produced, p.Consumed, p.MsgsPerSec, p.MBPerSec, p.E2EP99.Round(time.Microsecond))
	}
	return fmt.Sprintf("%-8s %6.1fs  produced %d consumed %d  %9.0f msgs/s %8.2f MB/s  e2e p99 so far %v",
		p.Target, p.Elapsed.Seconds(), p.Produced, p.Consumed, p.MsgsPerSec, p.MBPerSec, p.E2EP99.Round(time.Microsecond))
}

// watchProgress calls report every interval with what consumed, produced
// and e2e show, and once more when stop is closed; done is closed when it
// has returned.
func watchProgress(target string, size int, every time.Duration, start time.Time, produced, consumed *atomic.Int64,
	e2e *Histogram, report func(Progress), stop <-chan struct{}) (done <-chan struct{}) {
	ch := make(chan struct{})
	if every <= 0 {
		every = time.Second
	}
	go func() {
		defer close(ch)
		tick := time.NewTicker(every)
		defer tick.Stop()
		last, lastAt := int64(0), start
		emit := func(now time.Time, final bool) {
			if final {
				last, lastAt = 0, start // the whole run's rate
			}
			c := consumed.Load()
			secs := max(now.Sub(lastAt).Seconds(), 1e-9)
			report(Progress{Target: target, Elapsed: now.Sub(start), Produced: produced.Load(), Consumed: c,
				MsgsPerSec: float64(c-last) / secs, MBPerSec: float64(c-last) * float64(size) / 1e6 / secs, E2EP99: e2e.Quantile(0.99),
				Final: final})
			last, lastAt = c, now
		}
		for {
			select {
			case <-stop:
				emit(time.Now(), true) // so every run reports at least once
				return
			case now := <-tick.C:
				emit(now, false)
			}
		}
	}()
	return ch
}

// Result is what a run measured.
type Result struct {
	Target                              string
	Records, Bytes                      int64
	Elapsed                             time.Duration
	ProduceP50, ProduceP99, ProduceP999 time.Duration
	E2EP50, E2EP99, E2EP999             time.Duration
	Lost, Duplicates                    int64
	BrokerCPU                           time.Duration // 0 when unknown
}

// MsgsPerSec is produced-and-consumed records per second.
func (r Result) MsgsPerSec() float64 { return float64(r.Records) / r.Elapsed.Seconds() }

// MBPerSec is produced-and-consumed value megabytes (10^6) per second.
func (r Result) MBPerSec() float64 { return float64(r.Bytes) / 1e6 / r.Elapsed.Seconds() }

func (r Result) String() string {
	s := fmt.Sprintf("%-8s %9.0f msgs/s %8.2f MB/s  produce p50/p99/p999 %v/%v/%v  e2e p50/p99/p999 %v/%v/%v  lost %d dup %d",
		r.Target, r.MsgsPerSec(), r.MBPerSec(),
		r.ProduceP50.Round(time.Microsecond), r.ProduceP99.Round(time.Microsecond), r.ProduceP999.Round(time.Microsecond),
		r.E2EP50.Round(time.Microsecond), r.E2EP99.Round(time.Microsecond), r.E2EP999.Round(time.Microsecond),
		r.Lost, r.Duplicates)
	if r.BrokerCPU > 0 {
		mib := float64(r.Bytes) / (1 << 20)
		s += fmt.Sprintf("  broker CPU %v (%.1f ms/MiB, %.2f µs/msg)", r.BrokerCPU.Round(time.Millisecond),
			float64(r.BrokerCPU.Milliseconds())/mib, float64(r.BrokerCPU.Microseconds())/float64(r.Records))
	}
	return s
}

// StartKfake starts an in-process kfake cluster with one broker on
// loopback and returns its address and a stop function.
func StartKfake() (string, func(), error) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(0))
	if err != nil {
		return "", nil, fmt.Errorf("loadtest: kfake: %w", err)
	}
	return c.ListenAddrs()[0], c.Close, nil
}

func (cfg *KafkaConfig) validate() error {
	if len(cfg.Brokers) == 0 {
		return errors.New("loadtest: no brokers")
	}
	if cfg.Size < 16 {
		return fmt.Errorf("loadtest: record size %d below the 16-byte stamp", cfg.Size)
	}
	if cfg.Records <= 0 || cfg.Producers <= 0 || cfg.Partitions <= 0 {
		return errors.New("loadtest: records, producers and partitions must be positive")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Minute
	}
	return nil
}

func (cfg *KafkaConfig) producerOpts() ([]kgo.Opt, error) {
	opts := []kgo.Opt{kgo.SeedBrokers(cfg.Brokers...), kgo.DefaultProduceTopic(cfg.Topic),
		kgo.ProducerLinger(cfg.Linger), kgo.RecordPartitioner(kgo.RoundRobinPartitioner())}
	switch cfg.Acks {
	case "all", "-1", "":
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	case "1":
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	case "0":
		opts = append(opts, kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite())
	default:
		return nil, fmt.Errorf("loadtest: acks %q is not all, 1 or 0", cfg.Acks)
	}
	if !cfg.Idempotent && (cfg.Acks == "all" || cfg.Acks == "-1" || cfg.Acks == "") {
		opts = append(opts, kgo.DisableIdempotentWrite())
	}
	codec := map[string]kgo.CompressionCodec{
		"none": kgo.NoCompression(), "": kgo.NoCompression(), "gzip": kgo.GzipCompression(),
		"snappy": kgo.SnappyCompression(), "lz4": kgo.Lz4Compression(), "zstd": kgo.ZstdCompression(),
	}
	c, ok := codec[cfg.Compression]
	if !ok {
		return nil, fmt.Errorf("loadtest: unknown compression %q", cfg.Compression)
	}
	return append(opts, kgo.ProducerBatchCompression(c)), nil
}

// RunKafka runs one produce+consume round and checks it.
func RunKafka(ctx context.Context, target string, cfg KafkaConfig) (Result, error) {
	if err := cfg.validate(); err != nil {
		return Result{}, err
	}
	if cfg.Topic == "" {
		cfg.Topic = fmt.Sprintf("twinmq-bench-%d", rand.Uint32())
	}
	popts, err := cfg.producerOpts()
	if err != nil {
		return Result{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	if err := createTopic(ctx, cfg); err != nil {
		return Result{}, err
	}
	if !cfg.KeepTopic {
		defer deleteTopic(cfg)
	}
	res := Result{Target: target}
	var cpu0 time.Duration
	if cfg.CPU != nil {
		if cpu0, err = cfg.CPU(); err != nil {
			return res, fmt.Errorf("loadtest: broker CPU: %w", err)
		}
	}
	cons := newConsumer(cfg)
	consErr := make(chan error, 1)
	consCtx, stopCons := context.WithCancel(ctx)
	defer stopCons()
	ready := make(chan struct{})
	go func() { consErr <- cons.run(consCtx, ready) }()
	<-ready
	start := time.Now()
	var produced atomic.Int64
	if cfg.Progress != nil {
		stop := make(chan struct{})
		done := watchProgress(target, cfg.Size, cfg.ProgressEvery, start, &produced, &cons.got, &cons.hist, cfg.Progress, stop)
		defer func() { close(stop); <-done }()
	}
	prodLat, err := produce(ctx, cfg, popts, &produced)
	if err != nil {
		return res, err
	}
	select {
	case err := <-consErr:
		if err != nil {
			return res, err
		}
	case <-ctx.Done():
		return res, fmt.Errorf("loadtest: consumed %d of %d records: %w", cons.got.Load(), cfg.Records, ctx.Err())
	}
	res.Elapsed = time.Since(start)
	if cfg.CPU != nil {
		cpu1, err := cfg.CPU()
		if err != nil {
			return res, fmt.Errorf("loadtest: broker CPU: %w", err)
		}
		res.BrokerCPU = cpu1 - cpu0
	}
	res.Records, res.Bytes = int64(cfg.Records), int64(cfg.Records)*int64(cfg.Size)
	res.ProduceP50, res.ProduceP99, res.ProduceP999 = percentiles(prodLat)
	res.E2EP50, res.E2EP99, res.E2EP999 = percentiles(cons.lat)
	res.Lost, res.Duplicates = cons.check(cfg)
	return res, nil
}

func createTopic(ctx context.Context, cfg KafkaConfig) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(cfg.Brokers...))
	if err != nil {
		return fmt.Errorf("loadtest: client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	resp, err := adm.CreateTopics(ctx, cfg.Partitions, 1, nil, cfg.Topic)
	if err != nil {
		return fmt.Errorf("loadtest: create topic %s: %w", cfg.Topic, err)
	}
	if r := resp[cfg.Topic]; r.Err != nil {
		return fmt.Errorf("loadtest: create topic %s: %w", cfg.Topic, r.Err)
	}
	return nil
}

// deleteTopic deletes the run's topic, with a deadline of its own: the
// run's context may be over.
func deleteTopic(cfg KafkaConfig) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(cfg.Brokers...))
	if err != nil {
		return
	}
	defer cl.Close()
	_, _ = kadm.NewClient(cl).DeleteTopics(ctx, cfg.Topic)
}

// produce runs cfg.Producers clients and returns every record's produce
// latency (send to acknowledgement); produced counts acknowledgements.
func produce(ctx context.Context, cfg KafkaConfig, opts []kgo.Opt, produced *atomic.Int64) ([]time.Duration, error) {
	lat := make([]time.Duration, cfg.Records)
	var firstErr error
	var errOnce sync.Once
	var wg sync.WaitGroup
	per := (cfg.Records + cfg.Producers - 1) / cfg.Producers
	for p := range cfg.Producers {
		lo, hi := p*per, min((p+1)*per, cfg.Records)
		if lo >= hi {
			break
		}
		cl, err := kgo.NewClient(opts...)
		if err != nil {
			return nil, fmt.Errorf("loadtest: producer: %w", err)
		}
		defer cl.Close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			var interval time.Duration
			if cfg.Rate > 0 {
				interval = time.Duration(float64(time.Second) * float64(cfg.Producers) / cfg.Rate)
			}
			next := time.Now()
			for i := lo; i < hi; i++ {
				if interval > 0 {
					if d := time.Until(next); d > 0 {
						time.Sleep(d)
					}
					next = next.Add(interval)
				}
				v := make([]byte, cfg.Size)
				sent := time.Now()
				binary.BigEndian.PutUint64(v, uint64(sent.UnixNano()))
				binary.BigEndian.PutUint64(v[8:], uint64(i))
				cl.Produce(ctx, &kgo.Record{Value: v}, func(_ *kgo.Record, err error) {
					lat[i] = time.Since(sent)
					if err != nil {
						errOnce.Do(func() { firstErr = fmt.Errorf("loadtest: produce: %w", err) })
						return
					}
					produced.Add(1)
				})
			}
			if err := cl.Flush(ctx); err != nil {
				errOnce.Do(func() { firstErr = fmt.Errorf("loadtest: flush: %w", err) })
			}
		}()
	}
	wg.Wait()
	return lat, firstErr
}

type consumer struct {
	cfg  KafkaConfig
	seen []uint32 // deliveries per record id
	lat  []time.Duration
	got  atomic.Int64
	hist Histogram // e2e latencies, for progress
}

func newConsumer(cfg KafkaConfig) *consumer {
	return &consumer{cfg: cfg, seen: make([]uint32, cfg.Records), lat: make([]time.Duration, 0, cfg.Records)}
}

// run consumes every partition from the start until all records arrived.
func (c *consumer) run(ctx context.Context, ready chan<- struct{}) error {
	parts := map[int32]kgo.Offset{}
	for p := range c.cfg.Partitions {
		parts[p] = kgo.NewOffset().AtStart()
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.cfg.Brokers...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{c.cfg.Topic: parts}),
		kgo.FetchMaxWait(100*time.Millisecond))
	close(ready)
	if err != nil {
		return fmt.Errorf("loadtest: consumer: %w", err)
	}
	defer cl.Close()
	for c.got.Load() < int64(c.cfg.Records) {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("loadtest: consumed %d of %d records: %w", c.got.Load(), c.cfg.Records, err)
		}
		for _, e := range fs.Errors() {
			return fmt.Errorf("loadtest: fetch %s/%d: %w", e.Topic, e.Partition, e.Err)
		}
		now := time.Now()
		fs.EachRecord(func(r *kgo.Record) {
			if len(r.Value) < 16 {
				return
			}
			id := binary.BigEndian.Uint64(r.Value[8:])
			if id < uint64(len(c.seen)) {
				if c.seen[id]++; c.seen[id] == 1 {
					c.got.Add(1)
				}
			}
			d := now.Sub(time.Unix(0, int64(binary.BigEndian.Uint64(r.Value))))
			c.lat = append(c.lat, d)
			c.hist.Record(d)
		})
	}
	return nil
}

func (c *consumer) check(KafkaConfig) (lost, dup int64) {
	for _, n := range c.seen {
		switch {
		case n == 0:
			lost++
		case n > 1:
			dup += int64(n - 1)
		}
	}
	return lost, dup
}

func percentiles(d []time.Duration) (p50, p99, p999 time.Duration) {
	if len(d) == 0 {
		return 0, 0, 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	at := func(q float64) time.Duration { return s[min(len(s)-1, int(q*float64(len(s))))] }
	return at(0.50), at(0.99), at(0.999)
}
