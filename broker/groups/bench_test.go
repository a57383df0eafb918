package groups

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twinmq/twinmq/broker/offsets"
	"github.com/twinmq/twinmq/storage"
)

// BenchmarkClassicRebalance3x12: a Stable group of three members
// rebalances: all three rejoin with new metadata, the leader assigns 12
// partitions and all three SyncGroups return. One op is one complete
// rebalance through the coordinator (no network).
func BenchmarkClassicRebalance3x12(b *testing.B) {
	s, offs := openStore(&testing.T{}, b.TempDir())
	// The initial delay gathers the three members into the first
	// generation; later rebalances start from Stable and do not wait.
	c, err := Open(context.Background(), s, offs, CoordinatorConfig{InitialRebalanceDelay: 50 * time.Millisecond,
		MinSessionTimeout: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ids := make([]string, 3)
	for i := range ids {
		ch := make(chan JoinResult, 1)
		c.Join(context.Background(), "rb", rebalanceJoin("", i, 0), func(r JoinResult) { ch <- r })
		ids[i] = (<-ch).MemberID
	}
	round := 0
	rebalance := func() {
		round++
		var wg sync.WaitGroup
		for i, id := range ids {
			wg.Go(func() { rebalanceMember(b, c, id, i, round) })
		}
		wg.Wait()
	}
	rebalance()
	for b.Loop() {
		rebalance()
	}
}

func rebalanceJoin(id string, i, round int) JoinRequest {
	return JoinRequest{MemberID: id, ClientID: fmt.Sprint("c", i), ProtocolType: "consumer",
		Protocols: []Protocol{{"range", []byte(fmt.Sprint("meta", round))}}, SessionTimeout: 10 * time.Second,
		RebalanceTimeout: 10 * time.Second, RequireKnownMemberID: true}
}

func rebalanceMember(b *testing.B, c *Coordinator, id string, i, round int) {
	ctx := context.Background()
	ch := make(chan JoinResult, 1)
	c.Join(ctx, "rb", rebalanceJoin(id, i, round), func(r JoinResult) { ch <- r })
	r := <-ch
	if r.Err != nil {
		b.Error(r.Err)
		return
	}
	as := map[string][]byte{}
	for _, m := range r.Members {
		as[m.ID] = make([]byte, 40) // a 12-partition ConsumerMemberAssignment's size, roughly
	}
	if r.Leader == id && len(as) != 3 {
		b.Errorf("generation %d has %d members", r.Generation, len(as))
	}
	sc := make(chan SyncResult, 1)
	c.Sync(ctx, "rb", SyncRequest{MemberID: id, Generation: r.Generation, Assignments: as},
		func(s SyncResult) { sc <- s })
	if s := <-sc; s.Err != nil {
		b.Error(s.Err)
	}
}

// BenchmarkClassicHeartbeat: one Heartbeat of a member of a Stable group;
// ns/op × 1000 is the broker CPU per 1,000 heartbeats (without the wire).
func BenchmarkClassicHeartbeat(b *testing.B) {
	s, offs := openStore(&testing.T{}, b.TempDir())
	c := openCoordinator(&testing.T{}, s, offs)
	defer c.Close()
	id, gen := joinSync(&testing.T{}, c, "hb", "c")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Heartbeat(ctx, "hb", HeartbeatRequest{MemberID: id, Generation: gen}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkConsumerRebalance3x12: a KIP-848 group of three members on 12
// partitions settles (every member at the target epoch owning 4); one op
// counts the heartbeats it takes, from the first join.
func BenchmarkConsumerRebalance3x12(b *testing.B) {
	topics := fakeTopics{"t": 12}
	hbs := 0
	for b.Loop() {
		g := NewConsumerGroup("g", ConsumerConfig{SessionTimeout: time.Minute, HeartbeatInterval: time.Second,
			NewMemberID: func(string) string { return "" }})
		now := time.Unix(1000, 0)
		ms := []*member848{{id: "a"}, {id: "b"}, {id: "c"}}
		for g.StateName() != "stable" || len(ms[0].owned["t"]) != 4 {
			for _, m := range ms {
				m.beat(&testing.T{}, g, now, topics, []string{"t"})
				hbs++
			}
		}
	}
	b.ReportMetric(float64(hbs)/float64(b.N), "heartbeats/op")
}

// BenchmarkConsumerHeartbeat: a keepalive ConsumerGroupHeartbeat of a
// member of a stable KIP-848 group of three through the coordinator.
func BenchmarkConsumerHeartbeat(b *testing.B) {
	s, offs := openStore(&testing.T{}, b.TempDir())
	c := openCoordinator(&testing.T{}, s, offs)
	defer c.Close()
	topics := fakeTopics{"t": 12}
	ctx := context.Background()
	epochs := map[string]int32{}
	for range 4 {
		for _, id := range []string{"a", "b", "c"} {
			req := ConsumerHeartbeat{MemberID: id, MemberEpoch: epochs[id], Owned: Assignment{}}
			if epochs[id] == 0 {
				req.Topics = []string{"t"}
			}
			r := c.ConsumerHeartbeat(ctx, "g", req, topics)
			epochs[id] = r.MemberEpoch
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		r := c.ConsumerHeartbeat(ctx, "g", ConsumerHeartbeat{MemberID: "a", MemberEpoch: epochs["a"]}, topics)
		if r.Err != nil {
			b.Fatal(r.Err)
		}
	}
}

// BenchmarkCommit1000Groups: 1,000 simple-consumer groups each commit 10
// partitions in one OffsetCommit, round robin, from 8 goroutines;
// ASYNC_FLUSH store. Reports the p99 latency of one OffsetCommit; ns/op ×
// 1000 is the CPU of 1,000 groups committing once (one second of the
// "1,000 groups commit every second" load).
func BenchmarkCommit1000Groups(b *testing.B) {
	// 256 MiB segments: no segment roll (a file create and fsyncs) in
	// the measured latencies, as with the 1 GiB default.
	s, err := storage.Open(context.Background(), storage.Config{Dir: b.TempDir(), SegmentSize: 256 << 20})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	offs, err := offsets.Open(context.Background(), s, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer offs.Close()
	c := openCoordinator(&testing.T{}, s, offs)
	defer c.Close()
	ctx := context.Background()
	var mu sync.Mutex
	var lat []time.Duration
	var next int64
	var offset int64
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		commits := make([]Commit, 10)
		for pb.Next() {
			mu.Lock()
			next++
			offset++
			g, off := next%1000, offset
			mu.Unlock()
			for p := range commits {
				commits[p] = Commit{Topic: "t", Partition: int32(p), Offset: off, LeaderEpoch: -1}
			}
			start := time.Now()
			if _, err := c.CommitOffsets(ctx, fmt.Sprint("cg-", g), CommitMember{Generation: -1}, commits); err != nil {
				b.Error(err)
			}
			mine = append(mine, time.Since(start))
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	}
}

// BenchmarkIdleGroupMemory: heap per Stable classic group of one member
// (with its durable record) and per empty KIP-848 group member.
func BenchmarkIdleGroupMemory(b *testing.B) {
	s, offs := openStore(&testing.T{}, b.TempDir())
	c := openCoordinator(&testing.T{}, s, offs)
	defer c.Close()
	const n = 2000
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	for b.Loop() {
		before := heap()
		for i := range n {
			joinSync(&testing.T{}, c, fmt.Sprintf("idle-%d-%d", b.N, i), "client")
		}
		b.ReportMetric(float64(heap()-before)/n, "B/group")
	}
}
