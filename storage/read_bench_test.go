package storage

import (
	"context"
	"testing"
)

// BenchmarkReadBatch reads many small entries per Read, as a RocketMQ
// pull (32 messages) and a Kafka fetch of RocketMQ-produced data (1 MiB,
// about 1000 messages of 1 KiB, one CommitLog entry each) do. The
// entry/op metric divides the per-Read cost by the entries returned.
//
//	go test -run=^$ -bench=ReadBatch -benchmem -count=3 ./storage
func BenchmarkReadBatch(b *testing.B) {
	s := benchStore(b, AsyncFlush)
	const n = 20000
	for range n {
		if _, err := s.Append(context.Background(), benchOne()); err != nil {
			b.Fatal(err)
		}
	}
	waitDispatched(b, s, "bench", 0, n)
	one, err := s.Read("bench", 0, 0, ReadOptions{MaxEntries: 1})
	if err != nil {
		b.Fatal(err)
	}
	size := int(one.Entries[0].Header.Length)
	one.Release()
	for _, c := range []struct {
		name string
		want int
		opt  ReadOptions
	}{
		{"pull-32", 32, ReadOptions{MaxEntries: 32, MaxBytes: 4 << 20}},
		{"fetch-1000", 1000, ReadOptions{MaxBytes: 1000 * size}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(c.want * size))
			b.ReportAllocs()
			off := int64(0)
			for b.Loop() {
				res, err := s.Read("bench", 0, off, c.opt)
				if err != nil || len(res.Entries) != c.want {
					b.Fatalf("read at %d: %d entries, %v", off, len(res.Entries), err)
				}
				res.Release()
				if off += int64(c.want); off+int64(c.want) > n {
					off = 0
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*c.want), "ns/entry")
		})
	}
}
