package compattests

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Transactions' cost, measured in one run against its baseline
// (docs/transactions-kafka.md, "Performance"):
//
//	go test -run '^$' -bench KafkaTxnProduce -benchtime 20000x ./compat-tests
//	go test -run '^$' -bench KafkaTxnFetch -benchtime 2x ./compat-tests
//
// BenchmarkKafkaTxnProduce: 1 KiB records from franz-go, idempotent
// against transactional with a commit every 1,000 records.
// BenchmarkKafkaTxnFetch: reading a partition of 100,000 committed records
// with read_uncommitted against read_committed (no transaction open), one
// op the whole partition with a new consumer, the two levels alternating
// for fetchBenchRounds rounds (read_committed#02 follows
// read_uncommitted#02).

func BenchmarkKafkaTxnProduce(b *testing.B) {
	br := startTxnBrokerTB(b, b.TempDir(), nil)
	value := make([]byte, 1024)
	for _, mode := range []string{"idempotent", "transactional"} {
		b.Run(mode, func(b *testing.B) {
			topic := fmt.Sprint("bench-", mode, "-", time.Now().UnixNano())
			createTopicB(b, br.addr, topic)
			opts := []kgo.Opt{kgo.SeedBrokers(br.addr), kgo.DefaultProduceTopic(topic)}
			if mode == "transactional" {
				opts = append(opts, kgo.TransactionalID(topic))
			}
			cl, err := kgo.NewClient(opts...)
			if err != nil {
				b.Fatal(err)
			}
			defer cl.Close()
			ctx := context.Background()
			b.SetBytes(int64(len(value)))
			b.ResetTimer()
			for i := 0; i < b.N; i += 1000 {
				if mode == "transactional" {
					if err := cl.BeginTransaction(); err != nil {
						b.Fatal(err)
					}
				}
				for j := i; j < min(i+1000, b.N); j++ {
					cl.Produce(ctx, &kgo.Record{Value: value}, func(_ *kgo.Record, err error) {
						if err != nil {
							b.Error(err)
						}
					})
				}
				// kgo ends a transaction only after its records are
				// flushed.
				if err := cl.Flush(ctx); err != nil {
					b.Fatal(err)
				}
				if mode == "transactional" {
					if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// fetchBenchRecords is how many committed records BenchmarkKafkaTxnFetch
// reads per op.
const fetchBenchRecords = 100000

// fetchBenchRounds is how many times BenchmarkKafkaTxnFetch alternates the
// two isolation levels (the machine's load drifts over a run: ratios of
// neighbouring rounds are what compare).
const fetchBenchRounds = 6

func BenchmarkKafkaTxnFetch(b *testing.B) {
	br := startTxnBrokerTB(b, b.TempDir(), nil)
	value := make([]byte, 1024)
	// One partition of committed records (a commit every 1,000), read in
	// both isolation levels: with -count N the two alternate, N rounds.
	topic := fmt.Sprint("bench-fetch-", time.Now().UnixNano())
	createTopicB(b, br.addr, topic)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(br.addr), kgo.DefaultProduceTopic(topic), kgo.TransactionalID(topic))
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < fetchBenchRecords; i += 1000 {
		if err := cl.BeginTransaction(); err != nil {
			b.Fatal(err)
		}
		for range 1000 {
			cl.Produce(ctx, &kgo.Record{Value: value}, nil)
		}
		if err := cl.Flush(ctx); err != nil {
			b.Fatal(err)
		}
		if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
			b.Fatal(err)
		}
	}
	cl.Close()
	for _, iso := range slices.Repeat([]struct {
		name  string
		level kgo.IsolationLevel
	}{{"read_uncommitted", kgo.ReadUncommitted()}, {"read_committed", kgo.ReadCommitted()}}, fetchBenchRounds) {
		b.Run(iso.name, func(b *testing.B) {
			// One op reads every record from the start with a new
			// consumer; b.SetBytes makes MB/s per record byte.
			b.SetBytes(int64(len(value)) * fetchBenchRecords)
			for range b.N {
				c, err := kgo.NewClient(kgo.SeedBrokers(br.addr), kgo.ConsumeTopics(topic),
					kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(iso.level))
				if err != nil {
					b.Fatal(err)
				}
				for got := 0; got < fetchBenchRecords; {
					fs := c.PollFetches(ctx)
					if err := fs.Err0(); err != nil {
						b.Fatal(err)
					}
					got += fs.NumRecords()
				}
				c.Close()
			}
		})
	}
}

func createTopicB(b *testing.B, addr, topic string) {
	b.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if resp, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, nil, topic); err != nil || resp.Err != nil {
		b.Fatalf("create %s: %v %v", topic, err, resp.Err)
	}
}
