package kafka

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// benchBatch is a 16 KiB batch of 16 records with 1 KiB values, a key and
// a TAGS header each. Values are words from a small vocabulary, so snappy
// compresses them about as much as it does log lines.
func benchBatch(b *testing.B, codec int8) []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	words := []string{"order", "paid", "user", "id", "42", "shipped", "eu-west", "ok", "retry", "sku"}
	recs := make([]Record, 16)
	for i := range recs {
		v := make([]byte, 0, 1024)
		for len(v) < 1024 {
			v = append(v, words[rng.IntN(len(words))]...)
			v = append(v, ' ')
		}
		recs[i] = Record{Key: fmt.Appendf(nil, "key-%d", i), Value: v[:1024],
			Headers: []RecordHeader{{Key: "TAGS", Value: []byte("tagA")}}}
	}
	out, err := AppendBatch(nil, BatchSpec{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}, recs, codec)
	if err != nil {
		b.Fatal(err)
	}
	return out
}

var benchCodecs = []struct {
	name  string
	codec int8
}{{"none", CodecNone}, {"snappy", CodecSnappy}}

// BenchmarkValidateBatch validates and visits every record once, extracting
// the key and the TAGS header as the produce path does. SetBytes is the
// uncompressed 16 KiB records section for both codecs.
func BenchmarkValidateBatch(b *testing.B) {
	for _, bc := range benchCodecs {
		b.Run(bc.name, func(b *testing.B) {
			batch := benchBatch(b, bc.codec)
			var r BatchReader
			var tags int
			fn := func(rec Record) error {
				for _, h := range rec.Headers {
					if h.Key == "TAGS" {
						tags += len(h.Value) + len(rec.Key)
					}
				}
				return nil
			}
			b.SetBytes(16 << 10)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.Validate(batch, fn); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkForEachRecord iterates without the CRC check (stored batches).
func BenchmarkForEachRecord(b *testing.B) {
	for _, bc := range benchCodecs {
		b.Run(bc.name, func(b *testing.B) {
			batch := benchBatch(b, bc.codec)
			var r BatchReader
			var n int
			fn := func(rec Record) error { n += len(rec.Value); return nil }
			b.SetBytes(16 << 10)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.ForEach(batch, fn); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAppendBatch builds the benchmark batch from records.
func BenchmarkAppendBatch(b *testing.B) {
	for _, bc := range benchCodecs {
		b.Run(bc.name, func(b *testing.B) {
			batch := benchBatch(b, CodecNone)
			var recs []Record
			_ = ForEachRecord(batch, 0, func(r Record) error { recs = append(recs, cloneRecord(r)); return nil })
			spec := BatchSpec{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}
			dst := make([]byte, 0, 32<<10)
			b.SetBytes(16 << 10)
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if dst, err = AppendBatch(dst[:0], spec, recs, bc.codec); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAppendResponse frames a produce v9 response for one partition.
func BenchmarkAppendResponse(b *testing.B) {
	resp := kmsg.NewPtrProduceResponse()
	resp.SetVersion(9)
	t := kmsg.NewProduceResponseTopic()
	t.Topic = "orders"
	p := kmsg.NewProduceResponseTopicPartition()
	p.BaseOffset = 12345
	t.Partitions = append(t.Partitions, p)
	resp.Topics = append(resp.Topics, t)
	dst := AppendResponse(nil, 1, resp)
	b.SetBytes(int64(len(dst)))
	b.ReportAllocs()
	for b.Loop() {
		dst = AppendResponse(dst[:0], 1, resp)
	}
}
