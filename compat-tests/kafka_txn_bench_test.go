package compattests

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Transactions' cost, measured in one run against its baseline
// (docs/transactions-kafka.md, "Performance"):
//
//	go test -run '^$' -bench KafkaTxn -benchtime 20000x ./compat-tests
//
// BenchmarkKafkaTxnProduce: 1 KiB records from franz-go, idempotent
// against transactional with a commit every 1,000 records.
// BenchmarkKafkaTxnFetch: reading a partition of committed records with
// read_uncommitted against read_committed (no transaction open), one op
// a record.

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

func BenchmarkKafkaTxnFetch(b *testing.B) {
	br := startTxnBrokerTB(b, b.TempDir(), nil)
	value := make([]byte, 1024)
	for _, iso := range []struct {
		name  string
		level kgo.IsolationLevel
	}{{"read_uncommitted", kgo.ReadUncommitted()}, {"read_committed", kgo.ReadCommitted()}} {
		b.Run(iso.name, func(b *testing.B) {
			// b.N committed records (a commit every 1,000), then read them
			// all from the start: one op is one record.
			topic := fmt.Sprint("bench-fetch-", iso.name, "-", time.Now().UnixNano())
			createTopicB(b, br.addr, topic)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			cl, err := kgo.NewClient(kgo.SeedBrokers(br.addr), kgo.DefaultProduceTopic(topic), kgo.TransactionalID(topic))
			if err != nil {
				b.Fatal(err)
			}
			for i := 0; i < b.N; i += 1000 {
				if err := cl.BeginTransaction(); err != nil {
					b.Fatal(err)
				}
				for range min(1000, b.N-i) {
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
			c, err := kgo.NewClient(kgo.SeedBrokers(br.addr), kgo.ConsumeTopics(topic),
				kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(iso.level))
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			b.SetBytes(int64(len(value)))
			b.ResetTimer()
			for got := 0; got < b.N; {
				fs := c.PollFetches(ctx)
				if err := fs.Err0(); err != nil {
					b.Fatal(err)
				}
				got += fs.NumRecords()
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
