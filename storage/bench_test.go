package storage

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twinmq/twinmq/storage/vfs"
)

// The append benchmarks run side by side with their baseline, a plain
// sequential write(2) of the same bytes to a file in the same directory,
// so the ratio is measured in one run (figures in the README):
//
//	go test -run='^$' -bench='Append' -benchtime=100000x -count=3 ./storage

const benchEntry = 1024

func benchStore(b *testing.B, mode FlushDiskType) *Store {
	b.Helper()
	s, err := Open(context.Background(), Config{
		Dir: b.TempDir(), FlushDiskType: mode, SegmentSize: 256 << 20,
		Logger: slog.New(slog.DiscardHandler), CheckpointInterval: time.Hour,
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// entrySize is the on-disk size of a benchmark entry: header and payload.
func benchOne() []Entry {
	return []Entry{{Kind: KindRocketMQ, Topic: "bench", Count: 1, Payload: make([]byte, benchEntry-60)}}
}

func BenchmarkAppend(b *testing.B) {
	b.Run("baseline=raw-write", func(b *testing.B) {
		f, err := os.Create(filepath.Join(b.TempDir(), "raw"))
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		buf := make([]byte, benchEntry)
		b.SetBytes(benchEntry)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := f.Write(buf); err != nil {
				b.Fatal(err)
			}
		}
	})
	// The device's durable-write speed for small groups: 1 KiB appends in
	// groups of 24 (the group size SYNC_FLUSH reached when this was
	// added; it now reaches ~60) with one fdatasync per group, from one
	// writer, extending the file.
	b.Run("baseline=raw-write-fdatasync-per-24", func(b *testing.B) {
		f, err := os.Create(filepath.Join(b.TempDir(), "raw"))
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		buf := make([]byte, benchEntry)
		b.SetBytes(benchEntry)
		n := 0
		for b.Loop() {
			if _, err := f.Write(buf); err != nil {
				b.Fatal(err)
			}
			if n++; n%24 == 0 {
				if err := syscall.Fdatasync(int(f.Fd())); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("async", func(b *testing.B) {
		s := benchStore(b, AsyncFlush)
		e := benchOne()
		b.SetBytes(benchEntry)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.Append(context.Background(), e); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("sync-64-appenders", func(b *testing.B) {
		s := benchStore(b, SyncFlush)
		b.SetBytes(benchEntry)
		b.ReportAllocs()
		b.SetParallelism(32) // 32 x GOMAXPROCS(2) = 64 appenders
		f0 := s.flushes.Load()
		b.RunParallel(func(pb *testing.PB) {
			e := benchOne()
			for pb.Next() {
				if _, err := s.Append(context.Background(), e); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.ReportMetric(float64(b.N)/float64(max(1, s.flushes.Load()-f0)), "appends/fsync")
	})
	b.Run("async-64-appenders", func(b *testing.B) {
		s := benchStore(b, AsyncFlush)
		b.SetBytes(benchEntry)
		b.ReportAllocs()
		b.SetParallelism(32)
		b.RunParallel(func(pb *testing.PB) {
			e := benchOne()
			for pb.Next() {
				if _, err := s.Append(context.Background(), e); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}

// BenchmarkRead reads one entry by logical offset from a warm queue. The
// payload is a slice of the mapped segment: no copy of the entry bytes.
func BenchmarkRead(b *testing.B) {
	s := benchStore(b, AsyncFlush)
	const n = 10000
	for range n {
		if _, err := s.Append(context.Background(), benchOne()); err != nil {
			b.Fatal(err)
		}
	}
	waitDispatched(b, s, "bench", 0, n)
	b.SetBytes(benchEntry)
	b.ReportAllocs()
	var i atomic.Int64
	for b.Loop() {
		off := i.Add(1) % n
		res, err := s.Read("bench", 0, off, ReadOptions{MaxEntries: 1})
		if err != nil || len(res.Entries) != 1 {
			b.Fatal(err)
		}
		res.Release()
	}
}

// crash abandons the store as a kill -9 would: goroutines stop, files are
// released, no final checkpoint, the abort marker stays.
func (s *Store) crash() {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		close(s.done)
		s.wg.Wait()
		s.closeParts()
		s.lock.Close()
		s.closeErr = ErrClosed
	})
}

// BenchmarkRecovery measures crash recovery of a 1 GiB tail written after
// the last checkpoint, against reading the same segment files
// sequentially in the same run. Run with -benchtime=1x; it writes 1 GiB.
//
//	go test -run=^$ -bench=Recovery -benchtime=1x ./storage
func BenchmarkRecovery(b *testing.B) {
	dir := b.TempDir()
	cfg := Config{Dir: dir, SegmentSize: 256 << 20, Logger: slog.New(slog.DiscardHandler),
		CheckpointInterval: time.Hour, FlushInterval: time.Hour}
	s, err := Open(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	batch := make([]Entry, 64)
	for i := range batch {
		batch[i] = Entry{Kind: KindRocketMQ, Topic: "r", QueueID: int32(i % 8), Count: 1, Payload: make([]byte, 4000)}
	}
	for s.log.WrittenOffset() < 1<<30 {
		if _, err := s.log.Append(batch, nil); err != nil {
			b.Fatal(err)
		}
	}
	s.crash()
	total := int64(0)
	b.Run("baseline=sequential-read", func(b *testing.B) {
		buf := make([]byte, 1<<20)
		for b.Loop() {
			total = 0
			names, _ := os.ReadDir(filepath.Join(dir, clDir))
			for _, n := range names {
				f, err := os.Open(filepath.Join(dir, clDir, n.Name()))
				if err != nil {
					b.Fatal(err)
				}
				for {
					k, err := f.Read(buf)
					total += int64(k)
					if err != nil {
						break
					}
				}
				f.Close()
			}
		}
		b.SetBytes(total)
	})
	b.Run("recover", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			// Each iteration recovers the same crashed state: drop the
			// checkpoint written by the previous recovery.
			os.Remove(filepath.Join(dir, checkpointName))
			os.RemoveAll(filepath.Join(dir, cqDir))
			os.RemoveAll(filepath.Join(dir, indexDir))
			b.StartTimer()
			s, err := Open(context.Background(), Config{Dir: dir, FS: vfs.Default(), SegmentSize: 256 << 20,
				Logger: slog.New(slog.DiscardHandler), CheckpointInterval: time.Hour})
			if err != nil {
				b.Fatal(err)
			}
			if s.Recovery().EntriesScanned == 0 {
				b.Fatal("nothing recovered")
			}
			s.crash()
		}
		b.SetBytes(total)
	})
}
