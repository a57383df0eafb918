package kafkaapi_test

import (
	"context"
	"net"
	"strconv"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestRetentionConfigsFollowStore: the broker's log.retention.* configs
// are what the store enforces (retentionHours), a topic without its own
// retention.ms reports the broker's as a default, and a topic's own
// retention.ms is reported as a topic config and makes the store keep
// segments as long as it needs them. Before, every topic reported 7 days
// while the store deleted segments after 3.
func TestRetentionConfigsFollowStore(t *testing.T) {
	b := startBrokerWith(t, brokerOpts{retentionHours: 5})
	host, port, _ := net.SplitHostPort(b.addr)
	p, _ := strconv.Atoi(port)
	b.h.SetAdvertised(host, int32(p))
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx := context.Background()
	const fiveHours = "18000000"

	brokerCfg, err := adm.DescribeBrokerConfigs(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"log.retention.hours": "5", "log.retention.ms": fiveHours, "log.retention.bytes": "-1"}
	for _, rc := range brokerCfg {
		for _, c := range rc.Configs {
			if w, ok := want[c.Key]; ok {
				if c.MaybeValue() != w {
					t.Errorf("broker %s = %q, want %q", c.Key, c.MaybeValue(), w)
				}
				delete(want, c.Key)
			}
		}
	}
	if len(want) != 0 {
		t.Errorf("broker configs missing: %v", want)
	}

	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "plain"); err != nil {
		t.Fatal(err)
	}
	topicRetention := func(topic string) kadm.Config {
		t.Helper()
		rcs, err := adm.DescribeTopicConfigs(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		rc, err := rcs.On(topic, nil)
		if err != nil || rc.Err != nil {
			t.Fatalf("describe %s: %v %v", topic, err, rc.Err)
		}
		for _, c := range rc.Configs {
			if c.Key == "retention.ms" {
				return c
			}
		}
		t.Fatalf("%s has no retention.ms", topic)
		return kadm.Config{}
	}
	check := func(topic, value string, source kmsg.ConfigSource, keepMs int64) {
		t.Helper()
		c := topicRetention(topic)
		if c.MaybeValue() != value || c.Source != source {
			t.Errorf("%s retention.ms = %q from %v, want %q from %v", topic, c.MaybeValue(), c.Source, value, source)
		}
		if got := b.store.SegmentRetentionMs(); got != keepMs {
			t.Errorf("store keeps segments %d ms, want %d", got, keepMs)
		}
	}
	check("plain", fiveHours, kmsg.ConfigSourceDefaultConfig, 5*3600*1000)

	ms := func(s string) *string { return &s }
	if _, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{"retention.ms": ms("60000")}, "short"); err != nil {
		t.Fatal(err)
	}
	check("short", "60000", kmsg.ConfigSourceDynamicTopicConfig, 5*3600*1000)

	alter := func(op kadm.IncrementalOp, v string) {
		t.Helper()
		resp, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: op, Name: "retention.ms", Value: ms(v)}}, "plain")
		if err == nil {
			_, err = resp.On("plain", nil)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	alter(kadm.SetConfig, "2592000000") // 30 days
	check("plain", "2592000000", kmsg.ConfigSourceDynamicTopicConfig, 2592000000)
	alter(kadm.SetConfig, "-1")
	check("plain", "-1", kmsg.ConfigSourceDynamicTopicConfig, -1)
	alter(kadm.DeleteConfig, "")
	check("plain", fiveHours, kmsg.ConfigSourceDefaultConfig, 5*3600*1000)
}
