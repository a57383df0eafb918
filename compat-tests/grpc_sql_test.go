package compattests

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	rmq5 "github.com/apache/rocketmq-clients/golang/v5"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestGRPCSQLFilter: a v5 SimpleConsumer subscribed with an SQL92
// expression receives exactly the messages whose properties match, among
// messages sent by the v5 producer and records produced by franz-go
// (their headers are the properties); the others are skipped, not held.
func TestGRPCSQLFilter(t *testing.T) {
	c := startGRPCCluster(t, 0)
	topic := "rmq5-sql"
	c.createTopic(t, topic, 2)
	p := c.producer5(t, topic)
	for i := range 20 {
		m := &rmq5.Message{Topic: topic, Body: []byte(fmt.Sprint("v5-", i))}
		m.SetTag([]string{"A", "B"}[i%2])
		m.AddProperty("n", fmt.Sprint(i))
		m.AddProperty("region", []string{"eu", "us", "ap"}[i%3])
		send5(t, p, m)
	}
	kc, err := kgo.NewClient(kgo.SeedBrokers(c.kafkaAddr), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	for i := range 6 {
		r := &kgo.Record{Value: []byte(fmt.Sprint("kafka-", i)), Headers: []kgo.RecordHeader{
			{Key: "n", Value: []byte(fmt.Sprint(100 + i))}, {Key: "region", Value: []byte([]string{"eu", "us"}[i%2])}}}
		if err := kc.ProduceSync(context.Background(), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	// Tag A, region eu or ap, n below 10 or a Kafka record's n over 102.
	const expr = "(TAGS = 'A' AND region IN ('eu', 'ap') AND n < 10) OR (n BETWEEN 103 AND 200 AND region = 'us')"
	var want []string
	for i := range 20 {
		if i%2 == 0 && i%3 != 1 && i < 10 {
			want = append(want, fmt.Sprint("v5-", i))
		}
	}
	for i := range 6 {
		if 100+i >= 103 && i%2 == 1 {
			want = append(want, fmt.Sprint("kafka-", i))
		}
	}
	sc, err := rmq5.NewSimpleConsumer(c.config("g-sql"), rmq5.WithAwaitDuration(2*time.Second),
		rmq5.WithSubscriptionExpressions(map[string]*rmq5.FilterExpression{topic: rmq5.NewFilterExpressionWithType(expr, rmq5.SQL92)}))
	if err != nil {
		t.Fatal(err)
	}
	if err := sc.Start(); err != nil {
		t.Fatal(err)
	}
	defer sc.GracefulStop()
	var got []string
	for _, mv := range receive5(t, sc, len(want), time.Minute, 30*time.Second) {
		got = append(got, string(mv.GetBody()))
		if err := sc.Ack(context.Background(), mv); err != nil {
			t.Fatal(err)
		}
	}
	if more := receive5(t, sc, 1, time.Minute, 3*time.Second); len(more) != 0 {
		t.Errorf("a message outside the filter arrived: %q", more[0].GetBody())
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("received %q, want %q", got, want)
	}
	if k := c.inFlight(t, "g-sql", topic, 2); k != 0 {
		t.Errorf("%d messages held after acknowledging every match", k)
	}
}
