package kafka

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	"github.com/klauspost/compress/s2"
)

// xerialFrame frames src as snappy-java (sarama, kafka-go) does: header,
// then chunks of int32 length + raw snappy block.
func xerialFrame(src []byte, chunk int) []byte {
	out := append([]byte(nil), xerialMagic...)
	out = binary.BigEndian.AppendUint32(out, 1)
	out = binary.BigEndian.AppendUint32(out, 1)
	for len(src) > 0 {
		n := min(chunk, len(src))
		blk := s2.EncodeSnappy(nil, src[:n])
		out = binary.BigEndian.AppendUint32(out, uint32(len(blk)))
		out = append(out, blk...)
		src = src[n:]
	}
	return out
}

func TestCompressRoundTrip(t *testing.T) {
	inputs := [][]byte{{}, []byte("x"), bytes.Repeat([]byte("twinmq "), 10000)}
	for codec := CodecGzip; codec <= CodecZstd; codec++ {
		for _, in := range inputs {
			t.Run(fmt.Sprintf("codec%d/%d", codec, len(in)), func(t *testing.T) {
				c, err := Compress(codec, in, []byte("pre"))
				if err != nil || !bytes.HasPrefix(c, []byte("pre")) {
					t.Fatalf("compress: %v", err)
				}
				d, err := Decompress(codec, c[3:], []byte("pre"), 0)
				if err != nil || !bytes.Equal(d[3:], in) || !bytes.HasPrefix(d, []byte("pre")) {
					t.Fatalf("decompress: %v (%d bytes)", err, len(d))
				}
			})
		}
	}
}

func TestDecompress(t *testing.T) {
	big := bytes.Repeat([]byte("a"), 100000)
	comp := func(codec int8, b []byte) []byte { c, _ := Compress(codec, b, nil); return c }
	cases := []struct {
		name  string
		codec int8
		src   []byte
		limit int
		want  []byte
		err   error
	}{
		{"xerial one chunk", CodecSnappy, xerialFrame([]byte("hello xerial"), 32<<10), 0, []byte("hello xerial"), nil},
		{"xerial many chunks", CodecSnappy, xerialFrame(big, 32<<10), 0, big, nil},
		{"xerial over limit", CodecSnappy, xerialFrame(big, 32<<10), 50000, nil, ErrTooLarge},
		{"xerial truncated chunk", CodecSnappy, xerialFrame(big, 32<<10)[:40], 0, nil, ErrCorruptBatch},
		{"snappy over limit", CodecSnappy, comp(CodecSnappy, big), 99999, nil, ErrTooLarge},
		{"gzip at limit", CodecGzip, comp(CodecGzip, big), 100000, big, nil},
		{"gzip over limit", CodecGzip, comp(CodecGzip, big), 99999, nil, ErrTooLarge},
		{"lz4 over limit", CodecLZ4, comp(CodecLZ4, big), 1000, nil, ErrTooLarge},
		{"zstd over limit", CodecZstd, comp(CodecZstd, big), 1000, nil, ErrTooLarge},
		{"gzip garbage", CodecGzip, []byte("not gzip"), 0, nil, ErrCorruptBatch},
		{"snappy garbage", CodecSnappy, []byte{0xff, 0xff, 0xff}, 0, nil, ErrCorruptBatch},
		{"lz4 garbage", CodecLZ4, []byte("not lz4 frame"), 0, nil, ErrCorruptBatch},
		{"zstd garbage", CodecZstd, []byte("not zstd frame"), 0, nil, ErrCorruptBatch},
		{"codec none", CodecNone, []byte("x"), 0, nil, ErrUnknownCodec},
		{"codec 5", 5, []byte("x"), 0, nil, ErrUnknownCodec},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decompress(tc.codec, tc.src, nil, tc.limit)
			if !errors.Is(err, tc.err) || (err == nil) != (tc.err == nil) {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
			if err == nil && !bytes.Equal(got, tc.want) {
				t.Fatalf("got %d bytes, want %d", len(got), len(tc.want))
			}
		})
	}
}

// TestXerialBatch checks a whole batch whose records are xerial-framed, as
// sarama and kafka-go send them.
func TestXerialBatch(t *testing.T) {
	recs := roundTripCases[1].records
	b, err := AppendBatch(nil, roundTripCases[1].spec, recs, CodecNone)
	if err != nil {
		t.Fatal(err)
	}
	framed := append(bytes.Clone(b[:BatchHeaderSize]), xerialFrame(b[BatchHeaderSize:], 1000)...)
	framed[offAttributes+1] |= byte(CodecSnappy)
	binary.BigEndian.PutUint32(framed[offBatchLength:], uint32(len(framed)-batchLengthOverhead))
	resum(framed)
	for i, r := range collect(t, framed) {
		if err := sameRecord(r, recs[i]); err != nil {
			t.Errorf("record %d: %v", i, err)
		}
	}
	if _, err := ValidateBatch(framed, 0); err != nil {
		t.Fatal(err)
	}
}
