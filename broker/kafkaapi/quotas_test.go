package kafkaapi_test

import (
	"context"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/broker/quota"
)

// throttles counts the throttles a franz-go client was told of.
type throttles struct{ n, ms atomic.Int64 }

func (t *throttles) OnBrokerThrottle(_ kgo.BrokerMetadata, d time.Duration, _ bool) {
	t.n.Add(1)
	t.ms.Add(d.Milliseconds())
}

// TestClientQuotasThrottle: kadm sets a producer_byte_rate on the default
// user; DescribeClientQuotas shows it, a reopened store still has it, and
// a franz-go producer sending 11 KB in one go against 1,000 B/s is told
// to wait (throttle_time_ms), and waits.
func TestClientQuotasThrottle(t *testing.T) {
	dir := t.TempDir()
	qs, err := quota.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	b := startBrokerWith(t, brokerOpts{quotas: qs})
	b.createTopic(t, "q", 1)
	host, port, _ := net.SplitHostPort(b.addr)
	p, _ := strconv.Atoi(port)
	b.h.SetAdvertised(host, int32(p))
	var th throttles
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.addr), kgo.ProducerLinger(0), kgo.WithHooks(&th), kgo.ClientID("qc"),
		kgo.ProducerBatchCompression(kgo.NoCompression())) // 11 KB of zeros would compress to nothing
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	adm := kadm.NewClient(cl)
	res, err := adm.AlterClientQuotas(ctx, []kadm.AlterClientQuotaEntry{{
		Entity: []kadm.ClientQuotaEntityComponent{{Type: "user"}}, // the default user
		Ops:    []kadm.AlterClientQuotaOp{{Key: quota.ProducerByteRate, Value: 1000}},
	}})
	if err != nil || len(res) != 1 || res[0].Err != nil {
		t.Fatalf("alter: %v %+v", err, res)
	}
	desc, err := adm.DescribeClientQuotas(ctx, false, []kadm.DescribeClientQuotaComponent{{Type: "user", MatchType: 2}})
	if err != nil || len(desc) != 1 || len(desc[0].Values) != 1 || desc[0].Values[0].Value != 1000 {
		t.Fatalf("describe: %v %+v", err, desc)
	}
	if r, _ := quota.Open(dir); len(r.Describe(nil, false)) != 1 {
		t.Error("the quota is not in the data directory")
	}
	start := time.Now()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "q", Value: make([]byte, 11000)}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	// 11,000 bytes over the 10 s minimum window: 1,100 B/s, 10% over
	// 1,000 B/s: about 1 s of throttle (a little more with the batch's
	// framing).
	if th.n.Load() == 0 || th.ms.Load() < 900 {
		t.Fatalf("throttles: %d, %d ms in all", th.n.Load(), th.ms.Load())
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "q", Value: []byte("after")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited < 900*time.Millisecond {
		t.Errorf("the second produce came %v after the first, inside the throttle", waited)
	}

	// consumer_byte_rate of client id qc: a fetch of the 11 KB is
	// throttled too (the stored batches go out as they are, so it is the
	// bytes sent that count).
	res, err = adm.AlterClientQuotas(ctx, []kadm.AlterClientQuotaEntry{{
		Entity: []kadm.ClientQuotaEntityComponent{{Type: "client-id", Name: kmsg.StringPtr("qc")}},
		Ops:    []kadm.AlterClientQuotaOp{{Key: quota.ConsumerByteRate, Value: 1000}},
	}})
	if err != nil || res[0].Err != nil {
		t.Fatalf("alter: %v %+v", err, res)
	}
	var cth throttles
	cons, err := kgo.NewClient(kgo.SeedBrokers(b.addr), kgo.WithHooks(&cth), kgo.ClientID("qc"),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"q": {0: kgo.NewOffset().AtStart()}}))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	for got := 0; got < 2 && ctx.Err() == nil; {
		got += cons.PollFetches(ctx).NumRecords()
	}
	if cth.n.Load() == 0 {
		t.Error("the consumer was not throttled")
	}
}
