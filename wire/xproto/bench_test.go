package xproto

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/twinmq/twinmq/wire/kafka"
	"github.com/twinmq/twinmq/wire/remoting"
)

// The cross-protocol read benchmarks serve the same 100 records of 1 KiB
// (key, two headers, a tag) both ways, as the broker's read path does
// after storage.Read: a same-protocol read hands the stored bytes to the
// socket (modelled as one copy into the output buffer, what the kernel
// does on writev); a cross-protocol read converts them first. The ratio
// of their MB/s, from one run, is the figure of issue 7 (rocketmq-pull:
// ToRocketMQ into one buffer; rocketmq-pull-parts: Pull, what a PULL
// uses, the bodies left in the batch):
//
//	go test ./broker/convert -run '^$' -bench XProtoRead -benchtime 2000x
const (
	benchRecords = 100
	benchValue   = 1 << 10
)

func benchKafkaBatch(b *testing.B, codec int8) []byte {
	recs := make([]kafka.Record, benchRecords)
	val := bytes.Repeat([]byte("0123456789abcdef"), benchValue/16)
	for i := range recs {
		recs[i] = kafka.Record{TimestampDelta: int64(i), Key: fmt.Appendf(nil, "key-%d", i), Value: val,
			Headers: []kafka.RecordHeader{{Key: "TAGS", Value: []byte("TagA")}, {Key: "trace", Value: fmt.Appendf(nil, "t-%d", i)}}}
	}
	batch, err := kafka.AppendBatch(nil, kafka.BatchSpec{BaseOffset: 1000, FirstTimestamp: 1_700_000_000_000,
		ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}, recs, codec)
	if err != nil {
		b.Fatal(err)
	}
	return batch
}

func benchStoredMessages(b *testing.B) [][]byte {
	val := bytes.Repeat([]byte("0123456789abcdef"), benchValue/16)
	out := make([][]byte, benchRecords)
	for i := range out {
		out[i] = stored(b, int64(1000+i), val, 0, remoting.Property{Key: "TAGS", Value: "TagA"},
			remoting.Property{Key: "KEYS", Value: fmt.Sprint("key-", i)}, remoting.Property{Key: "trace", Value: fmt.Sprint("t-", i)},
			remoting.Property{Key: "UNIQ_KEY", Value: fmt.Sprintf("%032X", i)})
	}
	return out
}

func BenchmarkXProtoRead(b *testing.B) {
	e := KafkaEntry{Topic: "T", QueueID: 0, Phys: 1 << 20, StoreTime: 1_700_000_000_100, StoreHost: host}
	for _, c := range []struct {
		name  string
		codec int8
	}{{"none", kafka.CodecNone}, {"lz4", kafka.CodecLZ4}} {
		batch := benchKafkaBatch(b, c.codec)
		b.Run("kafka-produced/"+c.name+"/kafka-fetch", func(b *testing.B) {
			out := make([]byte, 0, 2*len(batch))
			b.SetBytes(benchRecords * benchValue)
			b.ReportAllocs()
			for b.Loop() {
				out = append(out[:0], batch...)
			}
		})
		b.Run("kafka-produced/"+c.name+"/rocketmq-pull", func(b *testing.B) {
			var conv, out []byte
			b.SetBytes(benchRecords * benchValue)
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if conv, _, err = ToRocketMQ(conv[:0], batch, e, 0, nil); err != nil {
					b.Fatal(err)
				}
				out = append(out[:0], conv...)
			}
		})
		b.Run("kafka-produced/"+c.name+"/rocketmq-pull-parts", func(b *testing.B) {
			var p Pull
			var parts [][]byte
			var out []byte
			b.SetBytes(benchRecords * benchValue)
			b.ReportAllocs()
			for b.Loop() {
				p.Reset()
				if _, err := p.AddKafka(batch, e, 0, nil); err != nil {
					b.Fatal(err)
				}
				parts, _ = p.Parts(parts[:0])
				out = out[:0]
				for _, part := range parts {
					out = append(out, part...)
				}
			}
		})
	}
	msgs := benchStoredMessages(b)
	b.Run("rocketmq-produced/rocketmq-pull", func(b *testing.B) {
		var out []byte
		b.SetBytes(benchRecords * benchValue)
		b.ReportAllocs()
		for b.Loop() {
			out = out[:0]
			for _, m := range msgs {
				out = append(out, m...)
			}
		}
	})
	b.Run("rocketmq-produced/kafka-fetch", func(b *testing.B) {
		var conv, out []byte
		b.SetBytes(benchRecords * benchValue)
		b.ReportAllocs()
		for b.Loop() {
			var err error
			if conv, err = ToKafka(conv[:0], 1000, msgs); err != nil {
				b.Fatal(err)
			}
			out = append(out[:0], conv...)
		}
	})
	b.Run("rocketmq-produced/kafka-fetch-parts", func(b *testing.B) {
		var parts [][]byte
		var out []byte
		b.SetBytes(benchRecords * benchValue)
		b.ReportAllocs()
		for b.Loop() {
			var err error
			if parts, _, err = ToKafkaParts(parts[:0], 1000, msgs); err != nil {
				b.Fatal(err)
			}
			out = out[:0]
			for _, p := range parts {
				out = append(out, p...)
			}
		}
	})
}
