package kafka

import (
	"errors"
	"sync"
	"testing"
)

// testBudget is a Budget of limit bytes that remembers its peak.
type testBudget struct {
	mu               sync.Mutex
	limit, used, max int64
}

func (b *testBudget) TryCharge(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used+n > b.limit {
		return false
	}
	b.used += n
	b.max = max(b.max, b.used)
	return true
}

func (b *testBudget) Release(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.used -= n
}

// TestDecompressBudget: a batch whose records expand past the budget
// fails with ErrBudget, charging nothing afterwards; one that fits is
// read, charged while read, and released after, for every codec.
func TestDecompressBudget(t *testing.T) {
	big := make([]byte, 4<<20) // zeros: a small batch that expands a lot
	recs := []Record{{Value: big}, {Value: big}}
	for _, codec := range []int8{CodecGzip, CodecSnappy, CodecLZ4, CodecZstd} {
		b, err := AppendBatch(nil, BatchSpec{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}, recs, codec)
		if err != nil {
			t.Fatal(err)
		}
		small := &testBudget{limit: 1 << 20}
		r := BatchReader{Budget: small}
		if _, err := r.Validate(b, nil); !errors.Is(err, ErrBudget) {
			t.Fatalf("codec %d: %d-byte batch under a 1 MiB budget: %v, want ErrBudget", codec, len(b), err)
		}
		if small.used != 0 {
			t.Fatalf("codec %d: %d bytes still charged after a refusal", codec, small.used)
		}
		roomy := &testBudget{limit: 64 << 20}
		r = BatchReader{Budget: roomy}
		n := 0
		if _, err := r.Validate(b, func(rec Record) error { n += len(rec.Value); return nil }); err != nil || n != 8<<20 {
			t.Fatalf("codec %d: %v, %d bytes of values", codec, err, n)
		}
		if roomy.used != 0 || roomy.max < 8<<20 {
			t.Fatalf("codec %d: %d bytes still charged, peak %d", codec, roomy.used, roomy.max)
		}
	}
}

// TestDecoderBuffersCharged: the zstd window is read from the frame
// headers our own compressor writes (what clients send too), so that it
// is charged before a decoder allocates it. (LZ4 frames decode into the
// charged output itself: lz4frame.go.)
func TestDecoderBuffersCharged(t *testing.T) {
	data := make([]byte, 3<<20)
	z, err := Compress(CodecZstd, data, nil)
	if err != nil {
		t.Fatal(err)
	}
	if w, size := zstdWindow(z); w <= 0 || size != int64(len(data)) {
		t.Fatalf("zstd frame: window %d, content size %d, want > 0 and %d", w, size, len(data))
	}
}
