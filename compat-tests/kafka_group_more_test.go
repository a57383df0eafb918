package compattests

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// confluentMember consumes with librdkafka's group consumer; protocol is
// "classic" or "consumer" (KIP-848). Offsets are stored as records are
// handed out and committed on close, which also leaves the group.
func confluentMember(protocol string) memberFactory {
	return func(t *testing.T, addr, group, topic string, tr *tracker) groupMember {
		cfg := &kafka.ConfigMap{"bootstrap.servers": addr, "group.id": group, "auto.offset.reset": "earliest",
			"group.protocol": protocol, "auto.commit.interval.ms": 200, "log_level": 3}
		if protocol == "classic" {
			_ = cfg.SetKey("session.timeout.ms", 10000)
			_ = cfg.SetKey("heartbeat.interval.ms", 500)
		}
		c, err := kafka.NewConsumer(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Subscribe(topic, nil); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Go(func() {
			for ctx.Err() == nil {
				m, err := c.ReadMessage(100 * time.Millisecond)
				if err == nil {
					tr.add(m.TopicPartition.Partition, int64(m.TopicPartition.Offset))
				}
			}
		})
		return closer(func() {
			cancel()
			wg.Wait()
			if err := c.Close(); err != nil {
				t.Errorf("confluent close: %v", err)
			}
		})
	}
}

// TestKafkaGroupConfluent runs the group scenarios with librdkafka, with
// the classic protocol (range,roundrobin) and with group.protocol=consumer.
func TestKafkaGroupConfluent(t *testing.T) {
	t.Run("classic", func(t *testing.T) { runGroupScenario(t, confluentMember("classic")) })
	t.Run("consumer", func(t *testing.T) { runGroupScenario(t, confluentMember("consumer")) })
}

// saramaMember consumes with sarama's ConsumerGroup and the strategy.
func saramaMember(strategy sarama.BalanceStrategy) memberFactory {
	return func(t *testing.T, addr, group, topic string, tr *tracker) groupMember {
		cfg := sarama.NewConfig()
		cfg.Version = sarama.V2_8_0_0
		cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
		cfg.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{strategy}
		cg, err := sarama.NewConsumerGroup([]string{addr}, group, cfg)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Go(func() {
			for ctx.Err() == nil {
				if err := cg.Consume(ctx, []string{topic}, saramaHandler{tr}); err != nil && !errors.Is(err, sarama.ErrClosedConsumerGroup) {
					time.Sleep(100 * time.Millisecond)
				}
			}
		})
		return closer(func() {
			cancel()
			wg.Wait()
			if err := cg.Close(); err != nil {
				t.Errorf("sarama close: %v", err)
			}
		})
	}
}

// TestKafkaGroupSaramaStrategies runs sarama with round robin and sticky.
func TestKafkaGroupSaramaStrategies(t *testing.T) {
	t.Run("roundrobin", func(t *testing.T) { runGroupScenario(t, saramaMember(sarama.NewBalanceStrategyRoundRobin())) })
	t.Run("sticky", func(t *testing.T) { runGroupScenario(t, saramaMember(sarama.NewBalanceStrategySticky())) })
}

// TestKafkaGroupThreeMembers: three members share a 12-partition topic, a
// fourth joins while records flow, one leaves; every record is processed
// and after the last commits the lag is 0.
func TestKafkaGroupThreeMembers(t *testing.T) {
	for name, f := range map[string]memberFactory{
		"kgo":             kgoMember(),
		"kgo-848":         kgoMember(kgo.ServerSideBalancer()),
		"confluent-848":   confluentMember("consumer"),
		"sarama-sticky":   saramaMember(sarama.NewBalanceStrategySticky()),
		"confluent-eager": confluentMember("classic"),
	} {
		t.Run(name, func(t *testing.T) { runThreeMembers(t, f) })
	}
}

func runThreeMembers(t *testing.T, newMember memberFactory) {
	const partitions = 12
	b := startGroupBroker(t, t.TempDir(), nil)
	topic := kafkaTopicName(t, "group3")
	group := "g-" + topic
	createTopic(t, b.addr, topic, partitions, nil)
	prod := kgoClient(t, b.addr)
	adm := kadm.NewClient(kgoClient(t, b.addr))
	tr := newTracker()
	ms := []groupMember{newMember(t, b.addr, group, topic, tr), newMember(t, b.addr, group, topic, tr),
		newMember(t, b.addr, group, topic, tr)}
	waitStable(t, adm, group, 3, partitions)
	produceKgo(t, prod, topic, partitions, 240, "a")
	ms = append(ms, newMember(t, b.addr, group, topic, tr))
	produceKgo(t, prod, topic, partitions, 120, "b")
	waitStable(t, adm, group, 4, partitions)
	tr.wait(t, 360)
	ms[0].close()
	waitStable(t, adm, group, 3, partitions)
	produceKgo(t, prod, topic, partitions, 120, "c")
	tr.wait(t, 480)
	for _, m := range ms[1:] {
		m.close()
	}
	checkLag(t, adm, group)
	if d, dups := tr.counts(); d != 480 {
		t.Fatalf("%d distinct records, want 480", d)
	} else if dups > 0 {
		t.Logf("%d records redelivered across rebalances (at-least-once)", dups)
	}
}

// checkLag asserts kadm's lag of the group is 0.
func checkLag(t *testing.T, adm *kadm.Client, group string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	lags, err := adm.Lag(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	lags.Each(func(l kadm.DescribedGroupLag) {
		if l.Error() != nil {
			t.Fatalf("lag: %v", l.Error())
		}
		if n := l.Lag.Total(); n != 0 {
			t.Fatalf("lag after a full commit = %d, want 0", n)
		}
	})
}

// TestKafkaGroupStaticMembership: a kgo member with group.instance.id
// that restarts within its session gets its partitions back without a
// rebalance (same generation, KIP-345), and the replaced member id is
// fenced (FENCED_INSTANCE_ID).
func TestKafkaGroupStaticMembership(t *testing.T) {
	b := startGroupBroker(t, t.TempDir(), nil)
	topic := kafkaTopicName(t, "static")
	group := "g-" + topic
	createTopic(t, b.addr, topic, 4, nil)
	cl := kgoClient(t, b.addr)
	adm := kadm.NewClient(cl)
	opts := []kgo.Opt{kgo.InstanceID("static-1"), kgo.SessionTimeout(30 * time.Second)}
	tr := newTracker()
	m1 := kgoMember(opts...)(t, b.addr, group, topic, tr)
	waitStable(t, adm, group, 1, 4)
	id1 := memberIDs(t, adm, group)[0]
	gen := currentGen(t, cl, group, id1)
	m1.close() // a static member does not leave on close
	m2 := kgoMember(opts...)(t, b.addr, group, topic, tr)
	defer m2.close()
	groupWaitFor(t, "the static member's new id", 30*time.Second, func() bool {
		ids := memberIDs(t, adm, group)
		return len(ids) == 1 && ids[0] != id1
	})
	waitStable(t, adm, group, 1, 4)
	if g := currentGen(t, cl, group, memberIDs(t, adm, group)[0]); g != gen {
		t.Errorf("generation %d after a static restart, want %d (no rebalance)", g, gen)
	}
	if code := heartbeatCode(t, cl, group, id1, gen); code != kerr.FencedInstanceID.Code {
		t.Fatalf("heartbeat of the replaced member id: code %d, want FENCED_INSTANCE_ID", code)
	}
}

func memberIDs(t *testing.T, adm *kadm.Client, group string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ds, err := adm.DescribeGroups(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range ds[group].Members {
		ids = append(ids, m.MemberID)
	}
	return ids
}

func heartbeatCode(t *testing.T, cl *kgo.Client, group, member string, gen int32) int16 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req := kmsg.NewPtrHeartbeatRequest()
	req.Group, req.MemberID, req.Generation, req.InstanceID = group, member, gen, kmsg.StringPtr("static-1")
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	return resp.ErrorCode
}

// currentGen finds the group's generation: the one a member's heartbeat
// does not answer ILLEGAL_GENERATION.
func currentGen(t *testing.T, cl *kgo.Client, group, member string) int32 {
	t.Helper()
	for g := int32(1); g < 20; g++ {
		if heartbeatCode(t, cl, group, member, g) != kerr.IllegalGeneration.Code {
			return g
		}
	}
	t.Fatal("no generation found")
	return -1
}
