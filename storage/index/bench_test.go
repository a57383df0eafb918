package index

import (
	"fmt"
	"testing"
)

// BenchmarkPut measures Put at the default geometry on MemFS, with a Flush
// every 2^20 puts (a rolled file stays in memory until then).
func BenchmarkPut(b *testing.B) {
	x := mustOpen(b, vfsMem(), "i", 0, 0)
	keys := make([]string, 1<<16)
	for i := range keys {
		keys[i] = fmt.Sprintf("TopicTest#key-%d", i)
	}
	b.ReportAllocs()
	i := int64(0)
	for b.Loop() {
		if err := x.Put(keys[i&(1<<16-1)], i*300, 1_700_000_000_000+i); err != nil {
			b.Fatal(err)
		}
		if i++; i&(1<<20-1) == 0 {
			if err := x.Flush(); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkQuery measures Query on a warm index of 3,000,000 entries over
// 100,000 keys (30 per key) in two default-geometry files, the first
// sealed (mapped), the second active (in memory).
func BenchmarkQuery(b *testing.B) {
	x := mustOpen(b, vfsMem(), "i", 0, 0)
	const n, keys = 3_000_000, 100_000
	names := make([]string, keys)
	for i := range names {
		names[i] = fmt.Sprintf("TopicTest#key-%d", i)
	}
	for i := range int64(n) {
		if err := x.Put(names[i%keys], i*300, 1_700_000_000_000+i); err != nil {
			b.Fatal(err)
		}
	}
	if err := x.Flush(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		got, err := x.Query(names[i%keys], 32, 0, 1<<62)
		if err != nil || len(got) != n/keys {
			b.Fatalf("Query = %d results, %v", len(got), err)
		}
		i += 7919
	}
}
