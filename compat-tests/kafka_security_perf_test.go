package compattests

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/twinmq/twinmq/broker/kafkaapi"
)

// TestSecurityThroughputRatio measures franz-go produce and consume
// throughput over SASL_SSL (SCRAM-SHA-512, TLS 1.3) as a ratio to
// PLAINTEXT, on one broker in one run (docs/performance.md). Each side
// runs twice, alternating, and keeps its best run. Only with
// TWINMQ_SECURITY_PERF=1 (TWINMQ_SECURITY_PERF_MB sets the megabytes per
// run, default 64): a measurement, not a check.
func TestSecurityThroughputRatio(t *testing.T) {
	if os.Getenv("TWINMQ_SECURITY_PERF") != "1" {
		t.Skip("a measurement: set TWINMQ_SECURITY_PERF=1")
	}
	mb := 64
	if n, err := strconv.Atoi(os.Getenv("TWINMQ_SECURITY_PERF_MB")); err == nil && n > 0 {
		mb = n
	}
	sk := startSecureKafka(t)
	const recSize = 1024
	n := mb << 20 / recSize
	best := map[string][2]float64{} // listener -> produce, consume MB/s
	for round := range 3 {
		for _, side := range []string{"PLAINTEXT", "SASL_SSL"} {
			opts := []kgo.Opt{kgo.SeedBrokers(sk.addr[kafkaapi.Plaintext])}
			if side == "SASL_SSL" {
				opts = []kgo.Opt{kgo.SeedBrokers(sk.addr[kafkaapi.SASLSSL]), kgo.DialTLSConfig(sk.ca.ClientConfig()),
					kgo.SASL(scram.Auth{User: secUser, Pass: secPassword}.AsSha512Mechanism())}
			}
			topic := fmt.Sprintf("perf-%s-%d", side, round)
			createTopic(t, sk.addr[kafkaapi.Plaintext], topic, 1, nil)
			p, c := securityPerfRun(t, opts, topic, n, recSize)
			b := best[side]
			best[side] = [2]float64{max(b[0], p), max(b[1], c)}
		}
	}
	pl, ss := best["PLAINTEXT"], best["SASL_SSL"]
	t.Logf("%d MiB of %d-byte records, best of 3: produce PLAINTEXT %.0f MB/s, SASL_SSL %.0f MB/s (ratio %.2f); consume PLAINTEXT %.0f MB/s, SASL_SSL %.0f MB/s (ratio %.2f)",
		mb, recSize, pl[0], ss[0], ss[0]/pl[0], pl[1], ss[1], ss[1]/pl[1])
}

// securityPerfRun produces n records of size bytes to topic and reads them
// back, returning both rates in MB/s.
func securityPerfRun(t *testing.T, opts []kgo.Opt, topic string, n, size int) (produce, consume float64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	pcl, err := kgo.NewClient(append(opts, kgo.DefaultProduceTopic(topic), kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.ProducerLinger(5*time.Millisecond))...)
	if err != nil {
		t.Fatal(err)
	}
	defer pcl.Close()
	val := make([]byte, size)
	if err := pcl.ProduceSync(ctx, &kgo.Record{Value: val}).FirstErr(); err != nil { // connect and authenticate first
		t.Fatal(err)
	}
	start := time.Now()
	errc := make(chan error, 1)
	for range n - 1 {
		pcl.Produce(ctx, &kgo.Record{Value: val}, func(_ *kgo.Record, err error) {
			if err != nil {
				select {
				case errc <- err:
				default:
				}
			}
		})
	}
	if err := pcl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		t.Fatal(err)
	default:
	}
	produce = float64(n*size) / time.Since(start).Seconds() / 1e6
	ccl, err := kgo.NewClient(append(opts, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxBytes(16<<20))...)
	if err != nil {
		t.Fatal(err)
	}
	defer ccl.Close()
	start = time.Now()
	for got := 0; got < n; {
		fs := ccl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		got += fs.NumRecords()
	}
	consume = float64(n*size) / time.Since(start).Seconds() / 1e6
	return produce, consume
}
