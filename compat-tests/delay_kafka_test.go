package compattests

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// recordsSeen consumes a partition from the start in the background and
// reports each record with the time it was first seen.
type recordsSeen struct {
	ch chan seenRecord
}

type seenRecord struct {
	rec *kgo.Record
	at  time.Time
}

func watchPartition(t *testing.T, addr, topic string) *recordsSeen {
	t.Helper()
	cl := kgoClient(t, addr, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}),
		kgo.FetchMaxWait(100*time.Millisecond))
	s := &recordsSeen{ch: make(chan seenRecord, 64)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			now := time.Now()
			for _, r := range fs.Records() {
				s.ch <- seenRecord{r, now}
			}
		}
	}()
	return s
}

func (s *recordsSeen) next(t *testing.T, within time.Duration) seenRecord {
	t.Helper()
	select {
	case r := <-s.ch:
		return r
	case <-time.After(within):
		t.Fatalf("no record within %v", within)
		return seenRecord{}
	}
}

func header(r *kgo.Record, key string) (string, bool) {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value), true
		}
	}
	return "", false
}

// TestDelayKafkaHeader: franz-go produces, in one batch, a record with
// header DELAY=1 between two plain ones, and a record with
// TIMER_DELAY_MS=1500. A consumer of the partition sees the plain records
// at once (offsets 0 and 1), the DELAY record not before 1 s after the
// send, at the next offset, and the timer record not before 1.5 s, with
// key, value and its own headers intact and DELAY cleared.
func TestDelayKafkaHeader(t *testing.T) {
	c := startDelayCluster(t)
	topic := kafkaTopicName(t, "delay")
	createTopic(t, c.kafkaURL, topic, 1, nil)
	seen := watchPartition(t, c.kafkaURL, topic)
	cl := kgoClient(t, c.kafkaURL, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	sent := time.Now()
	rs := cl.ProduceSync(ctx,
		&kgo.Record{Key: []byte("k0"), Value: []byte("plain-0")},
		&kgo.Record{Key: []byte("k1"), Value: []byte("delayed-1s"), Headers: []kgo.RecordHeader{{Key: "DELAY", Value: []byte("1")}, {Key: "app", Value: []byte("x")}}},
		&kgo.Record{Key: []byte("k2"), Value: []byte("plain-2")},
	)
	if err := rs.FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	timerSent := time.Now()
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("timer-1500ms"),
		Headers: []kgo.RecordHeader{{Key: "TIMER_DELAY_MS", Value: []byte("1500")}}}).FirstErr(); err != nil {
		t.Fatalf("produce timer: %v", err)
	}

	want := []struct {
		value  string
		offset int64
		notBef time.Time
	}{
		{"plain-0", 0, time.Time{}}, {"plain-2", 1, time.Time{}},
		{"delayed-1s", 2, sent.Add(time.Second)}, {"timer-1500ms", 3, timerSent.Add(1500 * time.Millisecond)},
	}
	for _, w := range want {
		got := seen.next(t, 10*time.Second)
		if string(got.rec.Value) != w.value || got.rec.Offset != w.offset {
			t.Fatalf("got %q at %d, want %q at %d", got.rec.Value, got.rec.Offset, w.value, w.offset)
		}
		if got.at.Before(w.notBef) {
			t.Errorf("%s seen %v before its time", w.value, w.notBef.Sub(got.at))
		}
		if _, ok := header(got.rec, "DELAY"); ok {
			t.Errorf("%s still has DELAY", w.value)
		}
		t.Logf("%s at offset %d, %v after the send", w.value, got.rec.Offset, got.at.Sub(sent).Round(time.Millisecond))
	}
}

// TestDelayKafkaBadHeader: a DELAY header that is not a number, or a timer
// further than timerMaxDelaySec, fails the produce with INVALID_RECORD
// and stores nothing.
func TestDelayKafkaBadHeader(t *testing.T) {
	c := startDelayCluster(t)
	topic := kafkaTopicName(t, "baddelay")
	createTopic(t, c.kafkaURL, topic, 1, nil)
	cl := kgoClient(t, c.kafkaURL, kgo.DefaultProduceTopic(topic), kgo.RecordRetries(0), kgo.DisableIdempotentWrite())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, h := range []kgo.RecordHeader{
		{Key: "DELAY", Value: []byte("soon")},
		{Key: "TIMER_DELAY_SEC", Value: []byte(strconv.Itoa(4 * 24 * 3600))},
	} {
		err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("bad"), Headers: []kgo.RecordHeader{h}}).FirstErr()
		if !errors.Is(err, kerr.InvalidRecord) {
			t.Errorf("%s=%s: err %v, want INVALID_RECORD", h.Key, h.Value, err)
		}
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("good")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	r := consumeKgo(t, c.kafkaURL, topic, map[int32]kgo.Offset{0: kgo.NewOffset().AtStart()}, 1)
	if string(r[0].Value) != "good" || r[0].Offset != 0 {
		t.Fatalf("first record %q at %d", r[0].Value, r[0].Offset)
	}
}
