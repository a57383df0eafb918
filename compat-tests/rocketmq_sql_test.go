package compattests

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/consumer"
)

// TestRocketMQSQL92Filter: a rocketmq-client-go push consumer subscribed
// with an SQL92 selector receives exactly the messages whose properties
// match (a numeric comparison on a user property, a tag list, a missing
// property), each once; the others are skipped, and the consumer keeps
// going past them.
func TestRocketMQSQL92Filter(t *testing.T) {
	c := startRocketMQ(t, t.TempDir())
	p := c.producer(t)
	const topic = "RmqSQLTopic"
	sendN(t, p, topic, "TagA", 0, 10) // p = 0..9, creates the topic
	sendN(t, p, topic, "TagB", 10, 10)
	sendN(t, p, topic, "TagC", 20, 10)
	col := newCollector()
	pc := c.pushConsumer(t, "cg_sql")
	const expr = "(TAGS IN ('TagA', 'TagC') AND p >= 5 AND p < 25) OR nope IS NOT NULL"
	if err := pc.Subscribe(topic, consumer.MessageSelector{Type: consumer.SQL92, Expression: expr}, col.handler); err != nil {
		t.Fatal(err)
	}
	if err := pc.Start(); err != nil {
		t.Fatal(err)
	}
	defer pc.Shutdown()
	want := map[string]bool{}
	for i := 0; i < 30; i++ {
		if (i < 10 || i >= 20) && i >= 5 && i < 25 {
			want[fmt.Sprint("body-", i)] = true
		}
	}
	waitFor(t, 30*time.Second, func() bool { return col.n.Load() >= int64(len(want)) })
	time.Sleep(500 * time.Millisecond) // anything more would arrive now
	col.mu.Lock()
	defer col.mu.Unlock()
	if col.n.Load() != int64(len(want)) {
		t.Errorf("consumed %d messages, want %d", col.n.Load(), len(want))
	}
	for body, ms := range col.msgs {
		if !want[body] || len(ms) != 1 {
			t.Errorf("%s consumed %d times (wanted: %v)", body, len(ms), want[body])
		}
		if n, _ := strconv.Atoi(ms[0].GetProperty("p")); n < 5 || n >= 25 {
			t.Errorf("%s has p=%s", body, ms[0].GetProperty("p"))
		}
	}
}
