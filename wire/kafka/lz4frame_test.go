package kafka

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/pierrec/lz4/v4"
)

// lz4Frame writes data as one LZ4 frame with pierrec/lz4's Writer (what
// franz-go, and through it most Go clients, send).
func lz4Frame(t testing.TB, data []byte, opts ...lz4.Option) []byte {
	t.Helper()
	var out bytes.Buffer
	w := lz4.NewWriter(&out)
	if err := w.Apply(opts...); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// lz4Reference decodes src with pierrec/lz4's streaming Reader, the decoder
// decodeLZ4 replaced: the reference its output is compared with.
func lz4Reference(src []byte) ([]byte, error) {
	return io.ReadAll(lz4.NewReader(bytes.NewReader(src)))
}

// dependentFrame is a frame whose second block copies from the first
// (block independence off), which pierrec's Writer never writes: block 1
// "hello" stored, block 2 a match of 8 bytes at distance 5, then "Z".
func dependentFrame() []byte {
	f := []byte{0x04, 0x22, 0x4D, 0x18, 0x40, 0x40, 0xC0} // FLG: version 1, dependent; BD: 64 KiB; HC
	f = binary.LittleEndian.AppendUint32(f, 5|lz4BlockStored)
	f = append(f, "hello"...)
	blk := []byte{0x04, 0x05, 0x00, 0x10, 'Z'} // no literal, match 4+4 at offset 5; literal "Z"
	f = binary.LittleEndian.AppendUint32(f, uint32(len(blk)))
	f = append(f, blk...)
	return binary.LittleEndian.AppendUint32(f, 0)
}

// TestLZ4Frames: every frame layout clients send decodes to what
// pierrec's Reader gives, and the limit holds.
func TestLZ4Frames(t *testing.T) {
	text := bytes.Repeat([]byte("twinmq lz4 frame "), 40000) // 680 KB: several blocks
	random := make([]byte, 300<<10)                          // incompressible: stored blocks
	for i := range random {
		random[i] = byte(i*7919 + i>>8*31)
	}
	cases := []struct {
		name string
		src  []byte
	}{
		{"empty", lz4Frame(t, nil)},
		{"64 KiB blocks", lz4Frame(t, text, lz4.BlockSizeOption(lz4.Block64Kb))},
		{"256 KiB blocks, block checksums", lz4Frame(t, text, lz4.BlockSizeOption(lz4.Block256Kb), lz4.BlockChecksumOption(true))},
		{"4 MiB block, no content checksum", lz4Frame(t, text, lz4.BlockSizeOption(lz4.Block4Mb), lz4.ChecksumOption(false))},
		{"content size", lz4Frame(t, text, lz4.SizeOption(uint64(len(text))))},
		{"stored blocks", lz4Frame(t, random, lz4.BlockSizeOption(lz4.Block64Kb))},
		{"two frames", append(lz4Frame(t, text[:1000]), lz4Frame(t, text[1000:3000])...)},
		{"skippable frame", append([]byte{0x5A, 0x2A, 0x4D, 0x18, 3, 0, 0, 0, 'a', 'b', 'c'}, lz4Frame(t, text[:100])...)},
		{"dependent blocks", dependentFrame()},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want, err := lz4Reference(c.src)
			if err != nil {
				t.Fatalf("reference: %v", err)
			}
			got, err := Decompress(CodecLZ4, c.src, []byte("pre"), 0)
			if err != nil || !bytes.Equal(got[3:], want) {
				t.Fatalf("decoded %d bytes (%v), want %d", len(got)-3, err, len(want))
			}
			if len(want) > 0 {
				_, err = Decompress(CodecLZ4, c.src, nil, len(want)-1)
				if !errors.Is(err, ErrTooLarge) {
					t.Fatalf("limit %d: %v, want ErrTooLarge", len(want)-1, err)
				}
			}
		})
	}
	if got, _ := Decompress(CodecLZ4, dependentFrame(), nil, 0); string(got) != "hellohellohelZ" {
		t.Fatalf("dependent blocks: %q", got)
	}
}

// TestLZ4BadFrames: damaged frames fail with ErrCorruptBatch.
func TestLZ4BadFrames(t *testing.T) {
	good := lz4Frame(t, bytes.Repeat([]byte("x"), 100000))
	bad := map[string][]byte{
		"magic only":      good[:4],
		"no end mark":     good[:len(good)-8],
		"wrong magic":     append([]byte{1, 2, 3, 4}, good[4:]...),
		"version 0":       append(append([]byte{}, good[:4]...), append([]byte{good[4] &^ 0x40}, good[5:]...)...),
		"block id 3":      append(append([]byte{}, good[:5]...), append([]byte{0x30}, good[6:]...)...),
		"trailing byte":   append(append([]byte{}, good...), 0),
		"dictionary id":   {0x04, 0x22, 0x4D, 0x18, 0x61, 0x40, 0, 0, 0, 0, 0, 0, 0, 0, 0},
		"size mismatch":   append([]byte{0x04, 0x22, 0x4D, 0x18, 0x68, 0x40, 9, 0, 0, 0, 0, 0, 0, 0, 0}, 0, 0, 0, 0),
		"block past end":  {0x04, 0x22, 0x4D, 0x18, 0x60, 0x40, 0, 0xFF, 0, 0, 0},
		"bad block bytes": {0x04, 0x22, 0x4D, 0x18, 0x60, 0x40, 0, 2, 0, 0, 0, 0xF0, 0xFF, 0, 0, 0, 0},
	}
	for name, src := range bad {
		if _, err := Decompress(CodecLZ4, src, nil, 0); !errors.Is(err, ErrCorruptBatch) {
			t.Errorf("%s: %v, want ErrCorruptBatch", name, err)
		}
	}
}

// FuzzLZ4Frame: decodeLZ4 never panics, never passes its limit, and
// whatever pierrec's Reader decodes it decodes to the same bytes (the
// other way round it may accept more: it skips the xxHash checksums).
func FuzzLZ4Frame(f *testing.F) {
	f.Add(lz4Frame(f, bytes.Repeat([]byte("seed "), 30000), lz4.BlockSizeOption(lz4.Block64Kb)), 1<<20)
	f.Add(lz4Frame(f, []byte("small"), lz4.BlockChecksumOption(true), lz4.SizeOption(5)), 100)
	f.Add(dependentFrame(), 1000)
	f.Fuzz(func(t *testing.T, src []byte, limit int) {
		limit = max(1, limit%(2<<20))
		got, err := Decompress(CodecLZ4, exact(src), nil, limit)
		if err == nil && len(got) > limit {
			t.Fatalf("%d bytes over the %d limit", len(got), limit)
		}
		legacy := bytes.Contains(src, []byte{0x02, 0x21, 0x4C, 0x18}) // the Reader's legacy frames, refused here
		want, rerr := lz4Reference(src)
		if rerr == nil && !legacy && len(want) <= limit && (err != nil || !bytes.Equal(got, want)) {
			t.Fatalf("reference decoded %d bytes, we %d: %v", len(want), len(got), err)
		}
	})
}

// BenchmarkDecompressLZ4 decodes a 1 MiB batch's records section of the
// kind the bench tool sends, into a reused buffer, with decodeLZ4 and with
// pierrec's Reader.
func BenchmarkDecompressLZ4(b *testing.B) {
	data := make([]byte, 1<<20)
	for i := range data {
		data[i] = byte(i % 251)
	}
	for i := 0; i+8 <= len(data); i += 200 {
		binary.LittleEndian.PutUint64(data[i:], uint64(i)*0x9E3779B97F4A7C15) // a record's varying fields
	}
	src := lz4Frame(b, data)
	if got, err := Decompress(CodecLZ4, src, nil, 0); err != nil || !bytes.Equal(got, data) {
		b.Fatalf("decoded %d bytes: %v", len(got), err)
	}
	for _, impl := range []string{"frame", "reader"} {
		b.Run(impl, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			buf := make([]byte, 0, 2<<20)
			r := lz4.NewReader(nil)
			for b.Loop() {
				var err error
				if impl == "frame" {
					_, err = Decompress(CodecLZ4, src, buf[:0], 0)
				} else {
					r.Reset(bytes.NewReader(src))
					_, err = io.ReadFull(r, buf[:len(data)])
				}
				if err != nil {
					b.Fatal(fmt.Errorf("%s: %w", impl, err))
				}
			}
		})
	}
}
