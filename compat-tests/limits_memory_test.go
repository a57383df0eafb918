package compattests

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/twinmq/twinmq/broker/kafkaapi"
	"github.com/twinmq/twinmq/netio"
	"github.com/twinmq/twinmq/storage"
	"github.com/twinmq/twinmq/wire/kafka"
)

// The memory tests run their scenario in a child process (this test
// binary again, with limitsChildEnv set) so that its peak resident set
// (VmHWM) is the scenario's alone, and assert on figures, not on time:
// the peak above the baseline against the budget with a fixed margin,
// and the live heap after two collections against the baseline's.

const limitsChildEnv = "TWINMQ_LIMITS_CHILD"

// memFigures is what a child reports, in bytes.
type memFigures struct {
	BaseRSS, PeakRSS    int64
	BaseHeap, AfterHeap int64
	Budget              int64
	BudgetPeak          int64
	Detail              string
}

// memoryMargin is what the peak may exceed the budget by: between two
// collections the Go heap holds garbage up to the live bytes again
// (GOGC=100: freed frames are not reused before the next collection),
// plus gnet's buffers of connections waiting for the budget, goroutine
// stacks and the runtime's own. Measured over a 64 MiB budget: 85-100
// MiB for the partial frames, 70-125 MiB for the bombs. Without the
// budgets the issue measured 2.48 GB for the bombs and 308 MB still held
// after the partial frames.
const memoryMargin = 192 << 20

// runMemoryChild runs test name's scenario in a child process and
// returns its figures; in the child it returns false after having run
// scenario and printed them.
func runMemoryChild(t *testing.T, scenario func(t *testing.T) memFigures) (memFigures, bool) {
	t.Helper()
	if os.Getenv(limitsChildEnv) == t.Name() {
		f := scenario(t)
		b, _ := json.Marshal(f)
		fmt.Printf("LIMITS-RESULT %s\n", b)
		return f, false
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1", "-test.v")
	// GOMEMLIMIT, as docs/limits.md advises for a broker, makes the
	// collector keep garbage near the live heap on a loaded machine (where
	// it otherwise lags and the peak varied by 100 MiB between runs). It
	// cannot hold the scenario's memory without the budgets: their live
	// bytes alone (16 x 60 MiB of bombs) are far above it.
	cmd.Env = append(os.Environ(), limitsChildEnv+"="+t.Name(), "GOMAXPROCS=2", "GOMEMLIMIT=160MiB")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "LIMITS-RESULT "); ok {
			var f memFigures
			if err := json.Unmarshal([]byte(rest), &f); err != nil {
				t.Fatal(err)
			}
			return f, true
		}
	}
	t.Fatalf("child reported nothing:\n%s", out)
	return memFigures{}, true
}

// procStatus reads a "VmXxx:  123 kB" line of /proc/self/status, in bytes.
func procStatus(t *testing.T, key string) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc/self/status: %v", err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, key+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no %s in /proc/self/status", key)
	return 0
}

// baseline collects, returns freed memory to the system, resets the peak
// resident set to the current one (clear_refs 5, Linux 4.0+) and returns
// the resident set and live heap.
func baseline(t *testing.T) (rss, heap int64) {
	t.Helper()
	heap = liveHeap()
	debug.FreeOSMemory()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Skipf("cannot reset the peak resident set: %v", err)
	}
	return procStatus(t, "VmRSS"), heap
}

// liveHeap is the heap's live bytes after two collections (the second
// empties what sync.Pools kept through the first).
func liveHeap() int64 {
	runtime.GC()
	runtime.GC()
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64())
}

func checkMemory(t *testing.T, f memFigures) {
	t.Helper()
	t.Logf("peak RSS %d MiB over a %d MiB baseline; budget %d MiB (its peak %d MiB); live heap %d -> %d MiB; %s",
		(f.PeakRSS-f.BaseRSS)>>20, f.BaseRSS>>20, f.Budget>>20, f.BudgetPeak>>20, f.BaseHeap>>20, f.AfterHeap>>20, f.Detail)
	if f.BudgetPeak > f.Budget {
		t.Errorf("the budget's peak %d passed its limit %d", f.BudgetPeak, f.Budget)
	}
	if grew := f.PeakRSS - f.BaseRSS; grew > f.Budget+memoryMargin {
		t.Errorf("resident set grew by %d MiB, more than the %d MiB budget and a %d MiB margin",
			grew>>20, f.Budget>>20, memoryMargin>>20)
	}
	if kept := f.AfterHeap - f.BaseHeap; kept > 32<<20 {
		t.Errorf("the live heap kept %d MiB after the burst", kept>>20)
	}
}

// TestKafkaDecompressionBombsMemory: sixteen connections each produce a
// zstd batch of a few KiB that expands to 60 MiB (under the 64 MiB
// limit, so each is valid and stored). The broker's resident set stays
// within the decompression budget plus a fixed margin, where it held 1
// GiB of output at once before, and the heap is given back afterwards.
func TestKafkaDecompressionBombsMemory(t *testing.T) {
	f, parent := runMemoryChild(t, func(t *testing.T) memFigures {
		const budget = 64 << 20
		dec := netio.NewBudget(budget)
		b := startKafkaStore(t, storage.Config{Dir: t.TempDir(), SegmentSize: 64 << 20}, "127.0.0.1:0", nil,
			func(k *kafkaapi.Config, _ *netio.Config) { k.DecompressBudget = dec })
		topic := kafkaTopicName(t, "bombs")
		createTopic(t, b.addr, topic, 1, nil)
		bomb := zstdBomb(t)
		const conns = 16
		clients := make([]*kgo.Client, conns)
		for i := range clients {
			// Produce v9 names topics (v13 would need the topic id).
			clients[i] = kgoClient(t, b.addr, kgo.MaxVersions(kversion.V3_0_0()))
			if err := clients[i].Ping(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		baseRSS, baseHeap := baseline(t)
		var wg sync.WaitGroup
		errs := make(chan error, conns)
		for _, cl := range clients {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
				defer cancel()
				req := kmsg.NewPtrProduceRequest()
				req.Acks, req.TimeoutMillis = 1, 120_000
				rt := kmsg.NewProduceRequestTopic()
				rt.Topic = topic
				rp := kmsg.NewProduceRequestTopicPartition()
				rp.Records = bomb
				rt.Partitions = append(rt.Partitions, rp)
				req.Topics = append(req.Topics, rt)
				resp, err := req.RequestWith(ctx, cl)
				if err == nil && resp.Topics[0].Partitions[0].ErrorCode != 0 {
					err = fmt.Errorf("produce error code %d", resp.Topics[0].Partitions[0].ErrorCode)
				}
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		peak := procStatus(t, "VmHWM")
		return memFigures{BaseRSS: baseRSS, PeakRSS: peak, BaseHeap: baseHeap, AfterHeap: liveHeap(),
			Budget: budget, BudgetPeak: dec.Peak(), Detail: fmt.Sprintf("%d bombs of %d bytes", conns, len(bomb))}
	})
	if parent {
		checkMemory(t, f)
	}
}

// zstdBomb is one valid zstd batch of 15 records of 4 MiB of zeros.
func zstdBomb(t *testing.T) []byte {
	zeros := make([]byte, 4<<20)
	recs := make([]kafka.Record, 15)
	for i := range recs {
		recs[i] = kafka.Record{Value: zeros}
	}
	b, err := kafka.AppendBatch(nil, kafka.BatchSpec{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1,
		FirstTimestamp: time.Now().UnixMilli()}, recs, kafka.CodecZstd)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestKafkaPartialFramesMemory: twenty connections each send 10 MB of a
// 100 MB request and stop. Each is closed (read timeout, or shed while
// waiting for the budget), the resident set stays within the request
// budget plus a fixed margin, and the heap is given back afterwards
// (before, 308 MB stayed held after they closed).
func TestKafkaPartialFramesMemory(t *testing.T) {
	f, parent := runMemoryChild(t, func(t *testing.T) memFigures {
		const budget = 64 << 20
		lim := &netio.Limits{Budget: netio.NewBudget(budget)}
		b := startKafkaStore(t, storage.Config{Dir: t.TempDir(), SegmentSize: 64 << 20}, "127.0.0.1:0", nil,
			func(_ *kafkaapi.Config, n *netio.Config) { n.Limits, n.ReadTimeout = lim, time.Second })
		baseRSS, baseHeap := baseline(t)
		const conns = 20
		chunk := make([]byte, 1<<20)
		var wg sync.WaitGroup
		closed := make(chan error, conns)
		for range conns {
			nc, err := net.Dial("tcp", b.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			wg.Go(func() {
				_, _ = nc.Write(binary.BigEndian.AppendUint32(nil, 100_000_000))
				for range 10 {
					if _, err := nc.Write(chunk); err != nil {
						break // shed while waiting for the budget
					}
				}
				// Stop sending; the server must close the connection.
				_ = nc.SetReadDeadline(time.Now().Add(60 * time.Second))
				var one [1]byte
				_, err := nc.Read(one[:])
				closed <- err
			})
		}
		wg.Wait()
		close(closed)
		for err := range closed {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatal("a connection holding half a request was never closed")
			}
		}
		waitFor(t, 30*time.Second, func() bool { return lim.Budget.Used() == 0 })
		peak := procStatus(t, "VmHWM")
		return memFigures{BaseRSS: baseRSS, PeakRSS: peak, BaseHeap: baseHeap, AfterHeap: liveHeap(),
			Budget: budget, BudgetPeak: lim.Budget.Peak(), Detail: fmt.Sprintf("%d connections, 10 MB of 100 MB each", conns)}
	})
	if parent {
		checkMemory(t, f)
	}
}
