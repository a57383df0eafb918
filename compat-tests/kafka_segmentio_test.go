package compattests

import (
	"context"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/compress"
)

// TestKafkaSegmentioWriterReader produces with kafka-go's Writer at its
// default acks=0 (the broker must write no reply and keep serving the
// connection in order) and with acks=all, then reads without a group.
func TestKafkaSegmentioWriterReader(t *testing.T) {
	b := startKafka(t, t.TempDir(), "127.0.0.1:0")
	codecs := map[string]compress.Compression{"none": 0, "gzip": compress.Gzip, "snappy": compress.Snappy,
		"lz4": compress.Lz4, "zstd": compress.Zstd}
	for cname, codec := range codecs {
		for _, acks := range []kafkago.RequiredAcks{kafkago.RequireNone, kafkago.RequireAll} {
			t.Run(cname+"/"+acks.String(), func(t *testing.T) {
				topic := kafkaTopicName(t, "segmentio-"+cname)
				createTopic(t, b.addr, topic, 1, nil)
				w := &kafkago.Writer{Addr: kafkago.TCP(b.addr), Topic: topic, Compression: codec, RequiredAcks: acks,
					BatchTimeout: time.Millisecond, BatchSize: 40,
					// A transport per test: the default one caches metadata
					// for 6 s and would not know the new topic yet.
					Transport: &kafkago.Transport{}}
				want := wantRecords(100, 1, cname)
				msgs := make([]kafkago.Message, len(want))
				for i, r := range want {
					msgs[i] = kafkago.Message{Key: []byte(r.Key), Value: []byte(r.Value), Time: r.Timestamp,
						Headers: []kafkago.Header{{Key: "i", Value: []byte(r.Header)}}}
				}
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				if err := w.WriteMessages(ctx, msgs...); err != nil {
					t.Fatal(err)
				}
				w.Close()
				checkRecords(t, want, segmentioRead(t, b.addr, topic, kafkago.FirstOffset, len(want)), true)
				got := segmentioRead(t, b.addr, topic, 60, 40)
				if got[0].Offset != 60 {
					t.Fatalf("from the middle: first offset %d", got[0].Offset)
				}
				checkRecords(t, want[60:], got, true)
			})
		}
	}
}

func segmentioRead(t *testing.T, addr, topic string, from int64, n int) []gotRecord {
	t.Helper()
	r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: []string{addr}, Topic: topic, Partition: 0, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	if err := r.SetOffset(from); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var got []gotRecord
	for len(got) < n {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("read %d of %d: %v", len(got), n, err)
		}
		g := gotRecord{Partition: int32(m.Partition), Offset: m.Offset, Key: string(m.Key), Value: string(m.Value), Timestamp: m.Time}
		for _, h := range m.Headers {
			if h.Key == "i" {
				g.Header = string(h.Value)
			}
		}
		got = append(got, g)
	}
	return got
}
