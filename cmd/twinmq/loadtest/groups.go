package loadtest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// GroupsConfig describes a `twinmq bench groups` run: the rebalance of
// Members franz-go members on a Partitions-partition topic, once per
// protocol, then Groups groups committing CommitPartitions offsets every
// CommitInterval for CommitDuration.
type GroupsConfig struct {
	Brokers    []string
	Members    int      // members of the rebalance run (3)
	Partitions int32    // partitions of the rebalance topic (12)
	Protocols  []string // "classic" (cooperative-sticky) and/or "consumer" (KIP-848)

	Groups           int           // committing groups (0: skip)
	CommitPartitions int32         // partitions each group commits (10)
	CommitInterval   time.Duration // per group (1 s)
	CommitDuration   time.Duration // how long the groups commit (10 s)
	Clients          int           // client connections the groups share (16)

	Timeout time.Duration
	// CPU, when set, reports the broker's CPU time so far.
	CPU func() (time.Duration, error)
}

func (cfg *GroupsConfig) validate() error {
	if len(cfg.Brokers) == 0 {
		return errors.New("loadtest: no brokers")
	}
	if cfg.Members <= 0 {
		cfg.Members = 3
	}
	if cfg.Partitions <= 0 {
		cfg.Partitions = 12
	}
	if cfg.CommitPartitions <= 0 {
		cfg.CommitPartitions = 10
	}
	if cfg.CommitInterval <= 0 {
		cfg.CommitInterval = time.Second
	}
	if cfg.CommitDuration <= 0 {
		cfg.CommitDuration = 10 * time.Second
	}
	if cfg.Clients <= 0 {
		cfg.Clients = 16
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Minute
	}
	for _, p := range cfg.Protocols {
		if p != "classic" && p != "consumer" {
			return fmt.Errorf("loadtest: protocol %q: want classic or consumer", p)
		}
	}
	return nil
}

// RebalanceResult is one protocol's rebalance measurement.
type RebalanceResult struct {
	Protocol  string
	Members   int
	Elapsed   time.Duration // third join to all partitions assigned and consumed
	BrokerCPU time.Duration // during that time; 0 when unknown
}

func (r RebalanceResult) String() string {
	s := fmt.Sprintf("rebalance %-8s %d members: %v from the last join until every partition is assigned (balanced) and consuming",
		r.Protocol, r.Members, r.Elapsed.Round(time.Millisecond))
	if r.BrokerCPU > 0 {
		s += fmt.Sprintf(", broker CPU %v", r.BrokerCPU.Round(time.Millisecond))
	}
	return s
}

// CommitResult is the committing groups' measurement.
type CommitResult struct {
	Groups, Partitions int
	Commits            int64 // OffsetCommit requests answered without error
	Errors             int64
	Elapsed            time.Duration
	P50, P99, P999     time.Duration
	BrokerCPU          time.Duration
}

func (r CommitResult) String() string {
	s := fmt.Sprintf("commits: %d groups x %d partitions every second: %d requests (%.0f/s, %d errors), latency p50 %v p99 %v p99.9 %v",
		r.Groups, r.Partitions, r.Commits, float64(r.Commits)/r.Elapsed.Seconds(), r.Errors,
		r.P50.Round(time.Microsecond), r.P99.Round(time.Microsecond), r.P999.Round(time.Microsecond))
	if r.BrokerCPU > 0 {
		s += fmt.Sprintf(", broker CPU %.1f%% of a core, %v per 1,000 commits",
			100*r.BrokerCPU.Seconds()/r.Elapsed.Seconds(), (r.BrokerCPU * 1000 / time.Duration(max(r.Commits, 1))).Round(time.Microsecond))
	}
	return s
}

// GroupsResult is a whole run.
type GroupsResult struct {
	Rebalances []RebalanceResult
	Commits    *CommitResult
}

// RunGroups runs the rebalance measurement per protocol, then the
// committing groups.
func RunGroups(ctx context.Context, cfg GroupsConfig) (GroupsResult, error) {
	var res GroupsResult
	if err := cfg.validate(); err != nil {
		return res, err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	for _, p := range cfg.Protocols {
		r, err := runRebalance(ctx, cfg, p)
		if err != nil {
			return res, fmt.Errorf("loadtest: rebalance %s: %w", p, err)
		}
		res.Rebalances = append(res.Rebalances, r)
	}
	if cfg.Groups > 0 {
		r, err := runCommits(ctx, cfg)
		if err != nil {
			return res, fmt.Errorf("loadtest: commits: %w", err)
		}
		res.Commits = &r
	}
	return res, nil
}

// rebalanceState follows what each member owns (from its assignment
// callbacks) and, per owned partition, whether the member has consumed a
// record of it since it got it and since the measurement started.
type rebalanceState struct {
	mu       sync.Mutex
	start    time.Time // zero until the last member joins
	owned    []map[int32]bool
	consumed []map[int32]bool
}

func (s *rebalanceState) assigned(m int, ps []int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range ps {
		s.owned[m][p] = true
		delete(s.consumed[m], p)
	}
}

func (s *rebalanceState) revoked(m int, ps []int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range ps {
		delete(s.owned[m], p)
		delete(s.consumed[m], p)
	}
}

func (s *rebalanceState) record(m int, r *kgo.Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.start.IsZero() && !r.Timestamp.Before(s.start) && s.owned[m][r.Partition] {
		s.consumed[m][r.Partition] = true
	}
}

// done says whether every partition has exactly one owner, the owners are
// balanced (counts differ by at most one, every member has some) and each
// owner has consumed its partitions since the start.
func (s *rebalanceState) done(partitions int32) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.start.IsZero() {
		return false
	}
	owners := make([]int, partitions)
	lo, hi := int(partitions), 0
	for m := range s.owned {
		n := len(s.owned[m])
		lo, hi = min(lo, n), max(hi, n)
		for p := range s.owned[m] {
			if p < 0 || p >= partitions || !s.consumed[m][p] {
				return false
			}
			owners[p]++
		}
	}
	for _, n := range owners {
		if n != 1 {
			return false
		}
	}
	return lo > 0 && hi-lo <= 1
}

// runRebalance starts Members-1 members, waits until they own every
// partition, then starts the last one and measures until done. A producer
// writes one record per partition every 5 ms meanwhile, so "consumed"
// means the partition's new owner fetches again.
func runRebalance(ctx context.Context, cfg GroupsConfig, protocol string) (RebalanceResult, error) {
	res := RebalanceResult{Protocol: protocol, Members: cfg.Members}
	run := fmt.Sprintf("twinmq-bench-rebalance-%s-%08x", protocol, rand.Uint32())
	tcfg := KafkaConfig{Brokers: cfg.Brokers, Topic: run, Partitions: cfg.Partitions}
	if err := createTopic(ctx, tcfg); err != nil {
		return res, err
	}
	st := &rebalanceState{}
	for range cfg.Members {
		st.owned = append(st.owned, map[int32]bool{})
		st.consumed = append(st.consumed, map[int32]bool{})
	}
	pctx, pcancel := context.WithCancel(ctx)
	defer pcancel()
	prodErr := make(chan error, 1)
	go func() { prodErr <- trickle(pctx, cfg.Brokers, run, cfg.Partitions) }()

	var wg sync.WaitGroup
	defer wg.Wait()
	mctx, mcancel := context.WithCancel(ctx)
	defer mcancel()
	var clients []*kgo.Client
	defer func() {
		for _, cl := range clients {
			cl.Close()
		}
	}()
	for m := range cfg.Members {
		if m == cfg.Members-1 {
			if err := waitFor(ctx, func() bool { return st.ownsAll(cfg.Partitions) }); err != nil {
				return res, fmt.Errorf("first %d members never owned every partition: %w", m, err)
			}
			st.mu.Lock()
			st.start = time.Now()
			st.mu.Unlock()
		}
		cl, err := kgo.NewClient(rebalanceOpts(cfg, run, protocol, m, st)...)
		if err != nil {
			return res, fmt.Errorf("client: %w", err)
		}
		clients = append(clients, cl)
		wg.Go(func() {
			for mctx.Err() == nil {
				cl.PollFetches(mctx).EachRecord(func(r *kgo.Record) { st.record(m, r) })
			}
		})
	}
	cpu0 := readCPU(cfg.CPU)
	if err := waitFor(ctx, func() bool { return st.done(cfg.Partitions) }); err != nil {
		return res, fmt.Errorf("the group never settled: %w", err)
	}
	st.mu.Lock()
	res.Elapsed = time.Since(st.start)
	st.mu.Unlock()
	if cpu0 >= 0 {
		res.BrokerCPU = max(readCPU(cfg.CPU)-cpu0, 0)
	}
	mcancel()
	pcancel()
	if err := <-prodErr; err != nil && !errors.Is(err, context.Canceled) {
		return res, fmt.Errorf("producer: %w", err)
	}
	return res, nil
}

// ownsAll says whether the members started so far own every partition.
func (s *rebalanceState) ownsAll(partitions int32) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[int32]bool{}
	for _, o := range s.owned {
		for p := range o {
			seen[p] = true
		}
	}
	return int32(len(seen)) == partitions
}

func rebalanceOpts(cfg GroupsConfig, topic, protocol string, m int, st *rebalanceState) []kgo.Opt {
	opts := []kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...), kgo.ConsumerGroup(topic), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()), kgo.FetchMaxWait(100 * time.Millisecond),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, a map[string][]int32) { st.assigned(m, a[topic]) }),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, a map[string][]int32) { st.revoked(m, a[topic]) }),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, a map[string][]int32) { st.revoked(m, a[topic]) }),
	}
	if protocol == "consumer" {
		opts = append(opts, kgo.ServerSideBalancer())
	}
	return opts
}

// trickle produces one small record per partition every 5 ms.
func trickle(ctx context.Context, brokers []string, topic string, partitions int32) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(0))
	if err != nil {
		return err
	}
	defer cl.Close()
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		for p := range partitions {
			cl.Produce(ctx, &kgo.Record{Topic: topic, Partition: p, Value: []byte("x")}, nil)
		}
	}
}

// waitFor polls cond every 2 ms until it holds or ctx ends.
func waitFor(ctx context.Context, cond func() bool) error {
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// readCPU returns the broker's CPU time, or -1 when unknown.
func readCPU(cpu func() (time.Duration, error)) time.Duration {
	if cpu == nil {
		return -1
	}
	d, err := cpu()
	if err != nil {
		return -1
	}
	return d
}

// runCommits has cfg.Groups groups commit cfg.CommitPartitions offsets
// each every cfg.CommitInterval for cfg.CommitDuration, from outside group
// management (generation -1, as a simple consumer or an admin commits),
// over cfg.Clients shared connections, and measures each OffsetCommit.
func runCommits(ctx context.Context, cfg GroupsConfig) (CommitResult, error) {
	res := CommitResult{Groups: cfg.Groups, Partitions: int(cfg.CommitPartitions)}
	topic := commitTopic{name: fmt.Sprintf("twinmq-bench-commits-%08x", rand.Uint32())}
	if err := createTopic(ctx, KafkaConfig{Brokers: cfg.Brokers, Topic: topic.name, Partitions: cfg.CommitPartitions}); err != nil {
		return res, err
	}
	clients := make([]*kgo.Client, cfg.Clients)
	for i := range clients {
		cl, err := kgo.NewClient(kgo.SeedBrokers(cfg.Brokers...))
		if err != nil {
			return res, fmt.Errorf("client: %w", err)
		}
		defer cl.Close()
		clients[i] = cl
	}
	tds, err := kadm.NewClient(clients[0]).ListTopics(ctx, topic.name)
	if err != nil {
		return res, fmt.Errorf("topic id: %w", err)
	}
	topic.id = tds[topic.name].ID
	// Find the coordinators and open the connections before measuring.
	for g := range cfg.Groups {
		if _, err := commitOnce(ctx, clients[g%len(clients)], topic, g, cfg.CommitPartitions, 0); err != nil {
			return res, fmt.Errorf("warm-up commit of group %d: %w", g, err)
		}
	}
	var mu sync.Mutex
	var lat []time.Duration
	cpu0 := readCPU(cfg.CPU)
	start := time.Now()
	end := start.Add(cfg.CommitDuration)
	var wg sync.WaitGroup
	for g := range cfg.Groups {
		wg.Go(func() {
			// Spread the groups over the interval.
			next := start.Add(time.Duration(g) * cfg.CommitInterval / time.Duration(cfg.Groups))
			for n := int64(1); ; n++ {
				if !sleepUntil(ctx, next) || next.After(end) {
					return
				}
				d, err := commitOnce(ctx, clients[g%len(clients)], topic, g, cfg.CommitPartitions, n)
				mu.Lock()
				if err != nil {
					res.Errors++
				} else {
					res.Commits++
					lat = append(lat, d)
				}
				mu.Unlock()
				next = next.Add(cfg.CommitInterval)
			}
		})
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	if cpu0 >= 0 {
		res.BrokerCPU = max(readCPU(cfg.CPU)-cpu0, 0)
	}
	res.P50, res.P99, res.P999 = percentiles(lat)
	if res.Commits == 0 {
		return res, errors.New("no commit succeeded")
	}
	return res, ctx.Err()
}

type commitTopic struct {
	name string
	id   [16]byte
}

func sleepUntil(ctx context.Context, at time.Time) bool {
	t := time.NewTimer(time.Until(at))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// commitOnce commits offset n on every partition for group g and returns
// the request's latency; a partition error is an error.
func commitOnce(ctx context.Context, cl *kgo.Client, topic commitTopic, g int, partitions int32, n int64) (time.Duration, error) {
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Group, req.Generation = fmt.Sprintf("twinmq-bench-group-%d", g), -1
	t := kmsg.NewOffsetCommitRequestTopic()
	t.Topic, t.TopicID = topic.name, topic.id // v10 names topics by id
	for p := range partitions {
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset, rp.LeaderEpoch = p, n, -1
		t.Partitions = append(t.Partitions, rp)
	}
	req.Topics = append(req.Topics, t)
	begin := time.Now()
	resp, err := req.RequestWith(ctx, cl)
	d := time.Since(begin)
	if err != nil {
		return d, err
	}
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			if err := kerrOf(rp.ErrorCode); err != nil {
				return d, fmt.Errorf("partition %d: %w", rp.Partition, err)
			}
		}
	}
	return d, nil
}

func kerrOf(code int16) error {
	if code == 0 {
		return nil
	}
	return fmt.Errorf("kafka error code %d", code)
}
