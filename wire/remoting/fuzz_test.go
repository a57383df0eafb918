package remoting

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
)

// seedFrames adds every golden frame (without its length word) to f.
func seedFrames(f *testing.F) [][]byte {
	paths, _ := filepath.Glob(filepath.Join("testdata", "*.bin"))
	var frames [][]byte
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		frames = append(frames, b)
	}
	return frames
}

func FuzzDecode(f *testing.F) {
	for _, b := range seedFrames(f) {
		if len(b) > 4 {
			f.Add(b[4:])
		}
	}
	f.Add([]byte{1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, frame []byte) {
		_, _ = FrameLen(frame)
		c, err := Decode(frame)
		if err != nil {
			return
		}
		enc := AppendCommand(nil, c)
		if n, err := FrameLen(enc); err != nil || n != len(enc) {
			t.Fatalf("FrameLen(re-encoded) = %d, %v; want %d", n, err, len(enc))
		}
		c2, err := Decode(enc[4:])
		if err != nil {
			t.Fatalf("re-encoded command does not decode: %v\n%q", err, enc)
		}
		if d := commandDiff(c2, c); d != "" {
			t.Fatalf("round trip changed %s:\n got %+v\nwant %+v", d, c2, c)
		}
		if enc2 := AppendCommand(nil, c2); !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding is not a fixed point:\n%q\n%q", enc, enc2)
		}
	})
}

// FuzzPeekCode: PeekCode never panics, agrees with Decode on ROCKETMQ
// headers and on JSON headers with one "code" member and no escapes, and
// finds the code
// of every header AppendCommand writes.
func FuzzPeekCode(f *testing.F) {
	for _, b := range seedFrames(f) {
		if len(b) > 4 {
			f.Add(b[4:])
		}
	}
	f.Add([]byte("\x00\x00\x00\x0c{\"code\":-12}"))
	f.Add([]byte("\x00\x00\x00\x13{\"code\":2147483648}"))
	f.Fuzz(func(t *testing.T, frame []byte) {
		code, ok := PeekCode(frame)
		c, err := Decode(frame)
		if err != nil {
			return
		}
		// A second code member, maybe spelled with escapes, overrides the first.
		single := c.SerializeType == SerializeRocketMQ ||
			bytes.Count(frame, []byte(`"code"`)) == 1 && bytes.IndexByte(frame, '\\') < 0
		if ok && single && code != c.Code {
			t.Fatalf("PeekCode = %d, Decode says %d", code, c.Code)
		}
		enc := AppendCommand(nil, c)
		if code, ok := PeekCode(enc[4:]); !ok || code != c.Code {
			t.Fatalf("PeekCode(AppendCommand) = %d, %v; want %d\n%q", code, ok, c.Code, enc)
		}
	})
}

func FuzzProperties(f *testing.F) {
	f.Add([]byte("TAGS\x01TagA\x02KEYS\x01k1 k2\x02UNIQ_KEY\x01C00002027783000000007c1f2d500001\x02"))
	f.Add([]byte("a\x01b"))
	f.Add([]byte("\x02\x01\x01\x02x\x01\x02"))
	f.Fuzz(func(t *testing.T, s []byte) {
		m := ParseProperties(s)
		for k, v := range m {
			if got, ok := LookupProperty(s, k); !ok || got != v {
				t.Fatalf("LookupProperty(%q) = %q, %v; map has %q", k, got, ok, v)
			}
		}
		enc := AppendProperties(nil, m)
		if err := ValidateProperties(m); err != nil && len(enc) <= MaxPropertiesLen {
			t.Fatalf("parsed map fails validation: %v", err)
		}
		m2 := ParseProperties(enc)
		if len(m2) != len(m) {
			t.Fatalf("round trip: %q != %q", m2, m)
		}
		for k, v := range m {
			if m2[k] != v {
				t.Fatalf("round trip: %q != %q", m2, m)
			}
		}
		list := ParsePropertyList(s)
		if len(list) < len(m) {
			t.Fatalf("list has %d items, map %d", len(list), len(m))
		}
		if canon := bytes.Equal(AppendPropertyList(nil, list), s); IsCanonicalProperties(s) != canon {
			t.Fatalf("IsCanonicalProperties(%q) = %v, re-encoding is identical: %v", s, !canon, canon)
		}
		for k, v := range m {
			if got, ok := PropertyValue(s, k); !ok || string(got) != v {
				t.Fatalf("PropertyValue(%q) = %q, %v; map has %q", k, got, ok, v)
			}
		}
	})
}

func FuzzDecodeBatch(f *testing.F) {
	f.Add(batchBody())
	f.Add(AppendBatchMessage(nil, -1, nil, nil))
	f.Fuzz(func(t *testing.T, body []byte) {
		msgs, err := DecodeBatch(body)
		if err != nil {
			return
		}
		var enc []byte
		for _, m := range msgs {
			enc = AppendBatchMessage(enc, m.Flag, m.Body, m.RawProperties)
		}
		if len(enc) != len(body) {
			t.Fatalf("re-encoded %d bytes, input %d", len(enc), len(body))
		}
		msgs2, err := DecodeBatch(enc)
		if err != nil || len(msgs2) != len(msgs) {
			t.Fatalf("re-decode: %d messages, %v", len(msgs2), err)
		}
		for i := range msgs {
			a, b := msgs[i], msgs2[i]
			if a.Flag != b.Flag || !bytes.Equal(a.Body, b.Body) || !bytes.Equal(a.RawProperties, b.RawProperties) || len(a.Properties) != len(b.Properties) {
				t.Fatalf("message %d: %+v != %+v", i, b, a)
			}
		}
	})
}

func FuzzDecodeStoredMessage(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("testdata", "stored_example.bin")); err == nil {
		f.Add(b)
	}
	m := sampleMessage()
	m.SysFlag |= SysFlagBornHostV6
	f.Add(AppendStoredMessage(nil, &m))
	m.Topic = string(make([]byte, 300))
	f.Add(AppendStoredMessage(nil, &m))
	f.Fuzz(func(t *testing.T, b []byte) {
		s := NewStoredScanner(b)
		for s.Next() {
		}
		m, n, err := DecodeStoredMessage(b)
		if err != nil {
			return
		}
		enc := AppendStoredMessage(nil, &m)
		m2, n2, err := DecodeStoredMessage(enc)
		if err != nil || n2 != len(enc) {
			t.Fatalf("re-decode: %d of %d, %v", n2, len(enc), err)
		}
		m.BodyCRC = BodyCRC(m.Body)
		assertSameStored(t, m2, m)
		// A V1 record with a correct CRC re-encodes to the same bytes.
		if binary.BigEndian.Uint32(b[4:]) == MagicV1 && m.BodyCRC == binary.BigEndian.Uint32(b[8:]) && !bytes.Equal(enc, b[:n]) {
			t.Fatalf("V1 record re-encoded differently:\n%x\n%x", enc, b[:n])
		}
		if err := PatchStored(enc, 1, 2, 3); err != nil {
			t.Fatal(err)
		}
	})
}
