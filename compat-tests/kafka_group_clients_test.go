package compattests

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	kafkago "github.com/segmentio/kafka-go"
)

// TestKafkaGroupSarama runs the group scenario with sarama's
// ConsumerGroup and the range balancer.
func TestKafkaGroupSarama(t *testing.T) {
	runGroupScenario(t, func(t *testing.T, addr, group, topic string, tr *tracker) groupMember {
		cfg := sarama.NewConfig()
		cfg.Version = sarama.V2_8_0_0
		cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
		cfg.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{sarama.NewBalanceStrategyRange()}
		cg, err := sarama.NewConsumerGroup([]string{addr}, group, cfg)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Go(func() {
			for ctx.Err() == nil {
				if err := cg.Consume(ctx, []string{topic}, saramaHandler{tr}); err != nil && !errors.Is(err, sarama.ErrClosedConsumerGroup) {
					t.Logf("sarama consume: %v", err)
					time.Sleep(100 * time.Millisecond)
				}
			}
		})
		return closer(func() {
			cancel()
			wg.Wait()
			if err := cg.Close(); err != nil { // commits the marked offsets, leaves
				t.Errorf("sarama close: %v", err)
			}
		})
	})
}

type saramaHandler struct{ tr *tracker }

func (saramaHandler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (saramaHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }
func (h saramaHandler) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for m := range c.Messages() {
		h.tr.add(m.Partition, m.Offset)
		s.MarkMessage(m, "")
	}
	return nil
}

// TestKafkaGroupSegmentio runs the group scenario with kafka-go's Reader
// and a GroupID (JoinGroup v2, SyncGroup/Heartbeat/LeaveGroup v0,
// OffsetCommit v2, OffsetFetch v1 whatever the broker advertises).
func TestKafkaGroupSegmentio(t *testing.T) {
	runGroupScenario(t, func(t *testing.T, addr, group, topic string, tr *tracker) groupMember {
		r := kafkago.NewReader(kafkago.ReaderConfig{
			Brokers: []string{addr}, GroupID: group, Topic: topic, StartOffset: kafkago.FirstOffset,
			HeartbeatInterval: 500 * time.Millisecond, MaxWait: 200 * time.Millisecond,
			JoinGroupBackoff: 200 * time.Millisecond, ReadBackoffMax: 200 * time.Millisecond,
		})
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Go(func() {
			for {
				m, err := r.FetchMessage(ctx)
				if err != nil {
					return
				}
				tr.add(int32(m.Partition), m.Offset)
				if err := r.CommitMessages(ctx, m); err != nil {
					return
				}
			}
		})
		return closer(func() {
			cancel()
			wg.Wait()
			if err := r.Close(); err != nil {
				t.Errorf("kafka-go close: %v", err)
			}
		})
	})
}
