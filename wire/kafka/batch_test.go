package kafka

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"
)

// collect iterates b and returns deep copies of its records.
func collect(t testing.TB, b []byte) []Record {
	t.Helper()
	var out []Record
	err := ForEachRecord(b, 0, func(r Record) error {
		out = append(out, cloneRecord(r))
		return nil
	})
	if err != nil {
		t.Fatalf("ForEachRecord: %v", err)
	}
	return out
}

func cloneRecord(r Record) Record {
	c := r
	c.Key, c.Value = bytes.Clone(r.Key), bytes.Clone(r.Value)
	c.Headers = nil
	for _, h := range r.Headers {
		c.Headers = append(c.Headers, RecordHeader{Key: h.Key, Value: bytes.Clone(h.Value)})
	}
	return c
}

// sameRecord compares what a user sees: key and value (with null), headers
// (with null values), timestamp delta.
func sameRecord(a, b Record) error {
	switch {
	case !bytes.Equal(a.Key, b.Key) || (a.Key == nil) != (b.Key == nil):
		return fmt.Errorf("key %q vs %q", a.Key, b.Key)
	case !bytes.Equal(a.Value, b.Value) || (a.Value == nil) != (b.Value == nil):
		return fmt.Errorf("value %q vs %q", a.Value, b.Value)
	case a.TimestampDelta != b.TimestampDelta:
		return fmt.Errorf("timestamp delta %d vs %d", a.TimestampDelta, b.TimestampDelta)
	case len(a.Headers) != len(b.Headers):
		return fmt.Errorf("%d headers vs %d", len(a.Headers), len(b.Headers))
	}
	for i := range a.Headers {
		ha, hb := a.Headers[i], b.Headers[i]
		if ha.Key != hb.Key || !bytes.Equal(ha.Value, hb.Value) || (ha.Value == nil) != (hb.Value == nil) {
			return fmt.Errorf("header %d: %q=%q vs %q=%q", i, ha.Key, ha.Value, hb.Key, hb.Value)
		}
	}
	return nil
}

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestGoldenBatches(t *testing.T) {
	want := goldenRecords()
	for _, gc := range goldenCodecs {
		t.Run(gc.name, func(t *testing.T) {
			b := readFixture(t, "batch-"+gc.name+".bin")
			h, err := ValidateBatch(b, 0)
			if err != nil {
				t.Fatal(err)
			}
			if h.Compression() != gc.codec || h.NumRecords != int32(len(want)) || h.BaseOffset != 0 {
				t.Fatalf("header %+v: codec %d", h, h.Compression())
			}
			got := collect(t, b)
			for i, r := range got {
				w := Record{Key: want[i].Key, Value: want[i].Value, TimestampDelta: r.TimestampDelta} // clock-dependent
				for _, wh := range want[i].Headers {
					w.Headers = append(w.Headers, RecordHeader{Key: wh.Key, Value: wh.Value})
				}
				if err := sameRecord(r, w); err != nil {
					t.Errorf("record %d: %v", i, err)
				}
			}
		})
	}
}

var roundTripCases = []struct {
	name    string
	spec    BatchSpec
	records []Record
}{
	{"one null record", BatchSpec{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}, []Record{{}}},
	{"keys and headers", BatchSpec{FirstTimestamp: 1700000000000, ProducerID: 42, ProducerEpoch: 1, BaseSequence: 7},
		[]Record{
			{Key: []byte("k1"), Value: []byte("v1"), Headers: []RecordHeader{{Key: "TAGS", Value: []byte("a")}}},
			{Key: []byte{}, Value: []byte{}, TimestampDelta: 5, Headers: []RecordHeader{{Key: "TAGS"}, {Key: "", Value: []byte("x")}}},
			{Value: bytes.Repeat([]byte("big"), 3000), TimestampDelta: -3},
		}},
	{"log append time, transactional", BatchSpec{BaseOffset: 1 << 40, PartitionLeaderEpoch: 3, Attributes: attrLogAppendTime | attrTransactional, FirstTimestamp: 99, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1},
		[]Record{{Key: []byte("a")}, {Key: []byte("b"), TimestampDelta: 1 << 40}}},
}

func TestAppendBatchRoundTrip(t *testing.T) {
	for _, tc := range roundTripCases {
		for codec := CodecNone; codec <= CodecZstd; codec++ {
			t.Run(fmt.Sprintf("%s/codec%d", tc.name, codec), func(t *testing.T) {
				b, err := AppendBatch([]byte("prefix"), tc.spec, tc.records, codec)
				if err != nil {
					t.Fatal(err)
				}
				b = b[len("prefix"):]
				h, err := ValidateBatch(b, 0)
				if err != nil {
					t.Fatal(err)
				}
				if h.Compression() != codec || h.NumRecords != int32(len(tc.records)) ||
					h.BaseOffset != tc.spec.BaseOffset || h.ProducerID != tc.spec.ProducerID ||
					h.IsTransactional() != (tc.spec.Attributes&attrTransactional != 0) {
					t.Fatalf("header %+v", h)
				}
				for i, r := range collect(t, b) {
					if err := sameRecord(r, tc.records[i]); err != nil {
						t.Errorf("record %d: %v", i, err)
					}
				}
			})
		}
	}
}

// resum rewrites a mutated batch's CRC so a test reaches the check after it.
func resum(b []byte) []byte {
	binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:], castagnoli))
	return b
}

func TestValidateBatchErrors(t *testing.T) {
	good, err := AppendBatch(nil, roundTripCases[1].spec, roundTripCases[1].records, CodecNone)
	if err != nil {
		t.Fatal(err)
	}
	mut := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	cases := []struct {
		name string
		b    []byte
		want []error
	}{
		{"empty", nil, []error{ErrTruncatedBatch}},
		{"short header", good[:40], []error{ErrTruncatedBatch}},
		{"truncated", good[:len(good)-1], []error{ErrTruncatedBatch}},
		{"trailing byte", append(bytes.Clone(good), 0), []error{ErrCorruptBatch}},
		{"crc", mut(func(b []byte) []byte { b[len(b)-1] ^= 1; return b }), []error{ErrCorruptBatch, ErrCRCMismatch}},
		{"magic 0", mut(func(b []byte) []byte { b[offMagic] = 0; return b }), []error{ErrLegacyMagic}},
		{"magic 1", mut(func(b []byte) []byte { b[offMagic] = 1; return b }), []error{ErrLegacyMagic}},
		{"magic 3", mut(func(b []byte) []byte { b[offMagic] = 3; return b }), []error{ErrCorruptBatch}},
		{"codec 5", mut(func(b []byte) []byte { b[offAttributes+1] |= 5; return resum(b) }), []error{ErrCorruptBatch, ErrUnknownCodec}},
		{"zero records", mut(func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[offNumRecords:], 0)
			binary.BigEndian.PutUint32(b[offLastOffsetDelta:], 0xffffffff)
			return resum(b)
		}), []error{ErrCorruptBatch}},
		{"last offset delta", mut(func(b []byte) []byte { b[offLastOffsetDelta+3]++; return resum(b) }), []error{ErrCorruptBatch}},
		{"more records claimed", mut(func(b []byte) []byte {
			b[offNumRecords+3]++
			b[offLastOffsetDelta+3]++
			return resum(b)
		}), []error{ErrCorruptBatch}},
		{"fewer records claimed", mut(func(b []byte) []byte {
			b[offNumRecords+3]--
			b[offLastOffsetDelta+3]--
			return resum(b)
		}), []error{ErrCorruptBatch}},
		{"record length", mut(func(b []byte) []byte { b[BatchHeaderSize] += 2; return resum(b) }), []error{ErrCorruptBatch}},
		{"offset delta", mut(func(b []byte) []byte { b[BatchHeaderSize+3] = 4; return resum(b) }), []error{ErrCorruptBatch}},
		{"batch length under header", mut(func(b []byte) []byte { binary.BigEndian.PutUint32(b[offBatchLength:], 10); return b }), []error{ErrCorruptBatch}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ValidateBatch(tc.b, 0)
			for _, w := range tc.want {
				if !errors.Is(err, w) {
					t.Errorf("err %v, want %v", err, w)
				}
			}
		})
	}
}

func TestValidateCallbackError(t *testing.T) {
	b, _ := AppendBatch(nil, roundTripCases[1].spec, roundTripCases[1].records, CodecSnappy)
	stop := errors.New("stop")
	var r BatchReader
	n := 0
	_, err := r.Validate(b, func(Record) error { n++; return stop })
	if err != stop || n != 1 {
		t.Fatalf("err %v after %d records, want the callback's error after 1", err, n)
	}
}

func TestSplitBatches(t *testing.T) {
	a, _ := AppendBatch(nil, roundTripCases[0].spec, roundTripCases[0].records, CodecNone)
	b, _ := AppendBatch(nil, roundTripCases[1].spec, roundTripCases[1].records, CodecGzip)
	two := append(bytes.Clone(a), b...)
	cases := []struct {
		name  string
		in    []byte
		sizes []int
		err   error
	}{
		{"empty", nil, nil, nil},
		{"one", a, []int{len(a)}, nil},
		{"two", two, []int{len(a), len(b)}, nil},
		{"partial tail", two[:len(two)-1], []int{len(a)}, ErrTruncatedBatch},
		{"short tail", two[:len(a)+5], []int{len(a)}, ErrTruncatedBatch},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := SplitBatches(nil, tc.in)
			if !errors.Is(err, tc.err) || (err == nil) != (tc.err == nil) {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
			if len(got) != len(tc.sizes) {
				t.Fatalf("%d batches, want %d", len(got), len(tc.sizes))
			}
			for i, g := range got {
				if len(g) != tc.sizes[i] {
					t.Errorf("batch %d: %d bytes, want %d", i, len(g), tc.sizes[i])
				}
			}
		})
	}
}

func TestSetters(t *testing.T) {
	for _, gc := range goldenCodecs {
		t.Run(gc.name, func(t *testing.T) {
			b := readFixture(t, "batch-"+gc.name+".bin")
			if err := SetBaseOffset(b, 1234); err != nil {
				t.Fatal(err)
			}
			if err := SetPartitionLeaderEpoch(b, 5); err != nil {
				t.Fatal(err)
			}
			h, err := ValidateBatch(b, 0)
			if err != nil || h.BaseOffset != 1234 || h.PartitionLeaderEpoch != 5 {
				t.Fatalf("after offset/epoch: %+v, %v", h, err)
			}
			if err := SetLogAppendTime(b, 777); err != nil {
				t.Fatal(err)
			}
			h, err = ValidateBatch(b, 0)
			if err != nil || h.TimestampType() != TimestampLogAppendTime || h.FirstTimestamp != 777 ||
				h.MaxTimestamp != 777 || h.Compression() != gc.codec {
				t.Fatalf("after log append time: %+v, %v", h, err)
			}
		})
	}
	for _, short := range [][]byte{nil, make([]byte, BatchHeaderSize-1)} {
		if SetBaseOffset(short, 1) == nil || SetPartitionLeaderEpoch(short, 1) == nil || SetLogAppendTime(short, 1) == nil {
			t.Errorf("setters accepted %d bytes", len(short))
		}
	}
}

func TestForEachNoAllocs(t *testing.T) {
	b := readFixture(t, "batch-none.bin")
	var r BatchReader
	var keys int
	fn := func(rec Record) error { keys += len(rec.Key) + len(rec.Headers); return nil }
	if _, err := r.ForEach(b, fn); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(20, func() { _, _ = r.ForEach(b, fn) }); n != 0 {
		t.Errorf("%v allocations per uncompressed batch, want 0", n)
	}
}
