package loadtest

import (
	"context"
	"os"
	"testing"
	"time"
)

func TestRunKafkaAgainstKfake(t *testing.T) {
	addr, stop, err := StartKfake()
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	res, err := RunKafka(context.Background(), "kfake", KafkaConfig{
		Brokers: []string{addr}, Partitions: 3, Records: 3000, Size: 256, Producers: 2,
		Acks: "all", Idempotent: true, Compression: "snappy", Timeout: time.Minute,
		CPU: ProcessCPU(os.Getpid()),
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Lost != 0 || res.Duplicates != 0 || res.Records != 3000 || res.E2EP50 <= 0 {
		t.Fatalf("result %v", res)
	}
	t.Log(res)
}

func TestPercentiles(t *testing.T) {
	var d []time.Duration
	for i := range 1000 {
		d = append(d, time.Duration(1000-i))
	}
	p50, p99, p999 := percentiles(d)
	if p50 != 501 || p99 != 991 || p999 != 1000 {
		t.Fatalf("p50 %d p99 %d p999 %d", p50, p99, p999)
	}
}
