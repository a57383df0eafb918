package compattests

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestKafkaGroupKgo runs the group scenario with franz-go's default
// cooperative-sticky balancer and with the eager range balancer.
func TestKafkaGroupKgo(t *testing.T) {
	t.Run("cooperative-sticky", func(t *testing.T) { runGroupScenario(t, kgoMember()) })
	t.Run("range", func(t *testing.T) { runGroupScenario(t, kgoMember(kgo.Balancers(kgo.RangeBalancer()))) })
	// KIP-848: ConsumerGroupHeartbeat with the server-side assignors
	// ("uniform" for the sticky balancers, "range" for range).
	t.Run("848-uniform", func(t *testing.T) { runGroupScenario(t, kgoMember(kgo.ServerSideBalancer())) })
	t.Run("848-range", func(t *testing.T) {
		runGroupScenario(t, kgoMember(kgo.ServerSideBalancer(), kgo.Balancers(kgo.RangeBalancer())))
	})
}
