package remotingapi

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twinmq/twinmq/broker/log"
	"github.com/twinmq/twinmq/broker/topics"
	"github.com/twinmq/twinmq/storage"
	"github.com/twinmq/twinmq/wire/kafka"
	"github.com/twinmq/twinmq/wire/remoting"
)

// TestPullKafkaBatchesHonoursMaxMsgNums: a pull of Kafka-produced records
// returns at most maxMsgNums messages, as a Java broker does, cutting a
// batch in the middle; nextBeginOffset is the first record left out, and
// pulling on from there loses and repeats nothing, with a tag filter too.
// A pull used to return every record of up to 32 whole batches.
func TestPullKafkaBatchesHonoursMaxMsgNums(t *testing.T) {
	br, st, _ := startBroker(t)
	const topic, batches, perBatch = "kq", 3, 10
	if _, err := br.topics.Create(context.Background(), topics.Config{Name: topic, Queues: 1}); err != nil {
		t.Fatal(err)
	}
	appendKafkaBatches(t, st, topic, batches, perBatch, 0)

	tagA := remoting.TagsHashCode("TagA")
	for _, c := range []struct {
		name   string
		max    int32
		filter func(int64) bool
		want   []int64 // queue offsets, in order, over all pulls
	}{
		{"max 4", 4, nil, seq(0, 30, 1)},
		{"max 1", 1, nil, seq(0, 30, 1)},
		{"max 7 (batches of 10)", 7, nil, seq(0, 30, 1)},
		{"max 3, TagA only", 3, func(c int64) bool { return c == tagA }, seq(0, 30, 2)},
		{"max 32", 32, nil, seq(0, 30, 1)},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := pullRequest{group: "g", topic: topic, maxMsgs: c.max}
			var got []int64
			for pulls := 0; r.offset < batches*perBatch; pulls++ {
				if pulls > 100 {
					t.Fatalf("no progress at offset %d", r.offset)
				}
				res, err := br.readPull(context.Background(), &r, c.filter)
				if err != nil {
					t.Fatal(err)
				}
				var body []byte
				for _, p := range res.parts {
					body = append(body, p...)
				}
				res.release()
				n := 0
				for len(body) > 0 {
					m, size, err := remoting.DecodeStoredMessage(body)
					if err != nil {
						t.Fatalf("offset %d: %v", r.offset, err)
					}
					if want := bytes.Repeat([]byte{byte(m.QueueOffset)}, 300+int(m.QueueOffset)); !bytes.Equal(m.Body, want) {
						t.Fatalf("offset %d: body of %d bytes, want %d", m.QueueOffset, len(m.Body), len(want))
					}
					got = append(got, m.QueueOffset)
					body = body[size:]
					n++
				}
				if n > int(c.max) {
					t.Fatalf("pull at %d returned %d messages, maxMsgNums %d", r.offset, n, c.max)
				}
				if res.code == remoting.Success && n == 0 {
					t.Fatalf("pull at %d: FOUND without messages", r.offset)
				}
				if res.next <= r.offset {
					t.Fatalf("pull at %d: nextBeginOffset %d (code %d)", r.offset, res.next, res.code)
				}
				r.offset = res.next
			}
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Fatalf("offsets %v, want %v", got, c.want)
			}
		})
	}
}

func seq(from, to, step int64) []int64 {
	var s []int64
	for i := from; i < to; i += step {
		s = append(s, i)
	}
	return s
}

// appendKafkaBatches stores batches Kafka batches of perBatch records in
// queue 0 of topic: record i (counted from 0 over the batches) has a body
// of 300+i bytes of byte(i+seed) and the tag xbTag(i). It waits until
// they are readable.
func appendKafkaBatches(t *testing.T, st *storage.Store, topic string, batches, perBatch, seed int) {
	t.Helper()
	start, _ := st.MaxOffset(topic, 0)
	for bi := range batches {
		recs := make([]kafka.Record, perBatch)
		tags := make([]int64, perBatch)
		for j := range recs {
			i := bi*perBatch + j
			recs[j] = kafka.Record{OffsetDelta: int32(j), Key: fmt.Appendf(nil, "key-%d", i),
				Value:   bytes.Repeat([]byte{byte(i + seed)}, 300+i), // some bodies zero-copy (>= 256)
				Headers: []kafka.RecordHeader{{Key: "TAGS", Value: []byte(xbTag(i))}}}
			tags[j] = remoting.TagsHashCode(xbTag(i))
		}
		batch, err := kafka.AppendBatch(nil, kafka.BatchSpec{FirstTimestamp: time.Now().UnixMilli(), ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1},
			recs, kafka.CodecNone)
		if err != nil {
			t.Fatal(err)
		}
		e := storage.Entry{Kind: storage.KindKafka, Topic: topic, Count: int32(perBatch), TagsCodes: tags, Payload: batch,
			Encode: func(p []byte, _, queueOffset, _ int64) { _ = kafka.SetBaseOffset(p, queueOffset) }}
		if _, err := st.Append(context.Background(), []storage.Entry{e}); err != nil {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if end, _ := st.MaxOffset(topic, 0); end == start+int64(batches*perBatch) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("records not dispatched")
		}
	}

}

// TestPullCacheFollowsTheQueue: the rest of a Kafka batch a pull stopped
// in is served from the cache only while the queue still holds that batch:
// after the topic is deleted and created again with other records, a pull
// at the same offset gets the new records.
func TestPullCacheFollowsTheQueue(t *testing.T) {
	br, st, _ := startBroker(t)
	ctx := context.Background()
	const topic = "kc"
	pullAt := func(offset int64) (bodies [][]byte, next int64) {
		t.Helper()
		r := pullRequest{group: "g", topic: topic, maxMsgs: 4, offset: offset}
		res, err := br.readPull(context.Background(), &r, nil)
		if err != nil {
			t.Fatal(err)
		}
		body := bytes.Join(res.parts, nil)
		res.release()
		for len(body) > 0 {
			m, n, err := remoting.DecodeStoredMessage(body)
			if err != nil {
				t.Fatal(err)
			}
			bodies, body = append(bodies, m.Body), body[n:]
		}
		return bodies, res.next
	}
	for round, seed := range []int{0, 100} {
		if _, err := br.topics.Create(ctx, topics.Config{Name: topic, Queues: 1}); err != nil {
			t.Fatal(err)
		}
		appendKafkaBatches(t, st, topic, 1, 10, seed)
		if round == 0 { // round 1 pulls at 4 at once: the cached rest is the old topic's
			if _, next := pullAt(0); next != 4 { // stops inside the batch: the rest is cached
				t.Fatalf("next %d after the first pull", next)
			}
			phys, lo, _, err := br.logs.EntryAt(topic, 0, 4)
			if err != nil {
				t.Fatal(err)
			}
			cb, hold, _ := br.pcache.Lookup(log.QueueKey{Topic: topic}, 4, phys, lo)
			if cb == nil || cb.End != 10 || hold == nil {
				t.Fatalf("the batch's rest is not cached: %+v", cb)
			}
			hold.Release()
		}
		bodies, next := pullAt(4)
		if next != 8 || len(bodies) != 4 {
			t.Fatalf("round %d: %d messages, next %d", round, len(bodies), next)
		}
		for j, b := range bodies {
			if want := bytes.Repeat([]byte{byte(4 + j + seed)}, 304+j); !bytes.Equal(b, want) {
				t.Fatalf("round %d: offset %d has a body of %d bytes of %d, want %d of %d", round, 4+j, len(b), b[0], len(want), want[0])
			}
		}
		if round == 0 {
			if err := br.topics.Delete(ctx, topic); err != nil {
				t.Fatal(err)
			}
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
				if _, err := st.MaxOffset(topic, 0); err != nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("topic's queue still there")
				}
			}
		}
	}
}
