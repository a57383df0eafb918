package xproto

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
	"unsafe"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"

	"github.com/twinmq/twinmq/wire/kafka"
	"github.com/twinmq/twinmq/wire/remoting"
)

func lz4Bytes(b []byte) []byte {
	var buf bytes.Buffer
	w := lz4.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func zstdBytes(b []byte) []byte {
	e, _ := zstd.NewWriter(nil)
	defer e.Close()
	return e.EncodeAll(b, nil)
}

// storedAt is stored with a chosen born timestamp and hosts.
func storedAt(t testing.TB, born int64, v6 bool, body []byte, sysFlag int32, props string) []byte {
	t.Helper()
	m := remoting.MessageExt{QueueOffset: 1, BornTimestamp: born, BornHost: host, StoreHost: host, Topic: "T",
		SysFlag: sysFlag, Body: body, Properties: []byte(props)}
	if v6 {
		m.BornHost = netip.MustParseAddrPort("[2001:db8::1]:1")
		m.SysFlag |= remoting.SysFlagBornHostV6
	}
	return remoting.AppendStoredMessage(nil, &m)
}

// joinParts checks ToKafkaParts against want and that the bodies of at
// least ZeroCopyMin bytes were not copied.
func joinParts(t *testing.T, base int64, msgs [][]byte, want []byte) {
	t.Helper()
	pre := [][]byte{[]byte("earlier part")}
	parts, size, err := ToKafkaParts(pre, base, msgs)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) < 2 || !bytes.Equal(parts[0], pre[0]) {
		t.Fatalf("ToKafkaParts dropped the earlier parts")
	}
	got := bytes.Join(parts[1:], nil)
	if size != len(got) || !bytes.Equal(got, want) {
		t.Fatalf("ToKafkaParts: %d bytes (size %d), differs from ToKafka's %d", len(got), size, len(want))
	}
	aliased := 0
	for _, p := range parts[1:] {
		for _, m := range msgs {
			if len(p) > 0 && len(m) > 0 && uintptr(unsafe.Pointer(&p[0])) >= uintptr(unsafe.Pointer(&m[0])) &&
				uintptr(unsafe.Pointer(&p[0])) < uintptr(unsafe.Pointer(&m[0]))+uintptr(len(m)) {
				aliased++
				break
			}
		}
	}
	wantAliased := 0
	for _, m := range msgs {
		var v remoting.StoredView
		if _, err := v.Parse(m); err != nil || len(v.Body) < ZeroCopyMin {
			continue
		}
		if _, err := plainBody(v.SysFlag, v.Body); v.SysFlag&remoting.SysFlagCompressed == 0 || err != nil {
			wantAliased++ // the body as stored
		}
	}
	if aliased != wantAliased {
		t.Fatalf("%d pieces alias the messages, want %d (the bodies as stored of >= %d bytes)", aliased, wantAliased, ZeroCopyMin)
	}
}

// ToKafka and ToKafkaParts write exactly the batch the reference (the
// former kafka.Record-based conversion) writes, for every kind of message
// the mapping distinguishes.
func TestToKafkaSameAsReference(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 200)
	small := []byte("small body")
	esc := escapeHeader(3, kafka.RecordHeader{Key: "bin", Value: []byte{0xff, 0, 1}})
	escNull := escapeHeader(4, kafka.RecordHeader{Key: "null"})
	props := func(ps ...string) string {
		var b []byte
		for i := 0; i+1 < len(ps); i += 2 {
			b = remoting.AppendProperty(b, ps[i], ps[i+1])
		}
		return string(b)
	}
	cases := []struct {
		name string
		msgs [][]byte
	}{
		{"one small", [][]byte{storedAt(t, 100, false, small, 0, props("TAGS", "TagA", "KEYS", "k1"))}},
		{"big and small, keys, tags, uniq key", [][]byte{
			storedAt(t, 100, false, big, 0, props("TAGS", "TagA", "KEYS", "k1 k2", "UNIQ_KEY", "ABC", "h", "v")),
			storedAt(t, 105, true, small, 0, props("KEYS", "k2")),
			storedAt(t, 300, false, nil, 0, props("a", "b")),
			storedAt(t, 99, false, big, 0, ""), // born earlier: a negative delta
		}},
		{"compressed bodies", [][]byte{
			storedAt(t, 1, false, zlibBytes(big), remoting.SysFlagCompressed, props("TAGS", "z")),
			storedAt(t, 2, false, lz4Bytes(big), remoting.SysFlagCompressed|1<<8, ""),
			storedAt(t, 3, false, zstdBytes(small), remoting.SysFlagCompressed|2<<8, ""),
			storedAt(t, 4, false, zlibBytes(small), remoting.SysFlagCompressed|3<<8, ""),
			storedAt(t, 5, false, []byte("not zlib at all"), remoting.SysFlagCompressed, props("KEYS", "k")),
			storedAt(t, 6, false, big, remoting.SysFlagCompressed|5<<8, ""),
		}},
		{"escapes", [][]byte{
			storedAt(t, 1, false, big, 0, props(esc.Key, esc.Value, escNull.Key, escNull.Value, "TWINMQ_KEY", "a2V5")),
			storedAt(t, 2, false, big, 0, props("TWINMQ_HDR_x", "Ymlu", "TWINMQ_HDR_1", "!!!", "TWINMQ_KEY", "!!", "KEYS", "k")),
			storedAt(t, 3, false, small, 0, props("KEYS", "first", "KEYS", "second")),
			storedAt(t, 4, false, small, 0, props("KEYS", "first", "KEYS", "second", "TWINMQ_KEY", "\n")),
		}},
		{"malformed properties", [][]byte{
			storedAt(t, 1, false, big, 0, "good\x01yes\x02broken\x02\x01novalue\x02KEYS\x01k"),
			storedAt(t, 2, false, small, 0, "\x02\x02a\x01\x02"),
		}},
		{"damaged records first and between", [][]byte{
			[]byte("garbage, not a stored message"),
			storedAt(t, 50, false, big, 0, props("KEYS", "k")),
			storedAt(t, 40, false, big, 0, "")[:200],
			nil,
		}},
		{"all damaged", [][]byte{[]byte("x"), nil}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want, err := refToKafka(nil, 1000, c.msgs)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ToKafka(nil, 1000, c.msgs)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("ToKafka = %d bytes, %v; the reference %d bytes", len(got), err, len(want))
			}
			if _, err := kafka.ValidateBatch(got, 0); err != nil {
				t.Fatal(err)
			}
			// Appended after a prefix: into dst's room, and into a new buffer.
			for _, room := range []int{0, len(want)} {
				dst := append(make([]byte, 0, 5+room), "head:"...)
				got, err := ToKafka(dst, 1000, c.msgs)
				if err != nil || string(got[:5]) != "head:" || !bytes.Equal(got[5:], want) {
					t.Fatalf("ToKafka after a prefix, room %d: %v", room, err)
				}
				if room > 0 && &got[0] != &dst[:1][0] {
					t.Fatalf("ToKafka did not use dst's room")
				}
			}
			joinParts(t, 1000, c.msgs, want)
		})
	}
}

func TestToKafkaEmpty(t *testing.T) {
	if b, err := ToKafka([]byte("x"), 0, nil); err != nil || string(b) != "x" {
		t.Fatalf("ToKafka(no messages) = %q, %v", b, err)
	}
	if p, n, err := ToKafkaParts(nil, 0, nil); err != nil || n != 0 || len(p) != 0 {
		t.Fatalf("ToKafkaParts(no messages) = %d parts, %d, %v", len(p), n, err)
	}
}

func TestVarintLen(t *testing.T) {
	for _, v := range []int64{0, 1, -1, 63, 64, -64, -65, 1 << 20, -1 << 40, 1<<63 - 1, -1 << 63} {
		var b [16]byte
		if got, want := kafka.VarintLen(v), len(appendVarintRef(b[:0], v)); got != want {
			t.Fatalf("kafka.VarintLen(%d) = %d, want %d", v, got, want)
		}
	}
}

func appendVarintRef(b []byte, v int64) []byte {
	u := uint64(v<<1) ^ uint64(v>>63)
	for u >= 0x80 {
		b = append(b, byte(u)|0x80)
		u >>= 7
	}
	return append(b, byte(u))
}

// FuzzToKafkaSame: for any bytes as stored messages (alone, beside a good
// one, cut in two), ToKafka and ToKafkaParts write what the reference
// writes.
func FuzzToKafkaSame(f *testing.F) {
	f.Add(stored(f, 1, []byte("x"), 0, remoting.Property{Key: "KEYS", Value: "k"}), 10)
	f.Add(stored(f, 1, bytes.Repeat([]byte("y"), 300), 0, remoting.Property{Key: "TAGS", Value: "t"}), 200)
	f.Add(stored(f, 1, zlibBytes([]byte("x")), remoting.SysFlagCompressed), 50)
	f.Add(stored(f, 1, []byte("x"), 0, remoting.Property{Key: "TWINMQ_HDR_0", Value: "Ymlu._wAB"}, remoting.Property{Key: "TWINMQ_KEY", Value: "Av4"}), 0)
	f.Add([]byte(strings.Repeat("\x00", 91)), 91)
	good := stored(f, 9, bytes.Repeat([]byte("z"), 400), 0, remoting.Property{Key: "KEYS", Value: "g"})
	f.Fuzz(func(t *testing.T, b []byte, cut int) {
		cut = min(max(cut, 0), len(b))
		for _, msgs := range [][][]byte{{b}, {good, b, good}, {b[:cut], b[cut:]}} {
			want, err := refToKafka(nil, 7, msgs)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ToKafka(nil, 7, msgs)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("ToKafka differs from the reference (%v)", err)
			}
			joinParts(t, 7, msgs, want)
		}
	})
}

// The pieces ToKafkaParts hands out stay as they are while the caller
// holds them (a fetch writing them), whatever is converted meanwhile: the
// pooled scratch is never among them.
func TestToKafkaPartsOwnMemory(t *testing.T) {
	big := bytes.Repeat([]byte("b"), 2*ZeroCopyMin)
	a := [][]byte{storedAt(t, 1, false, big, 0, "KEYS\x01a\x02"), storedAt(t, 2, false, []byte("s"), 0, "x\x01y\x02")}
	other := [][]byte{storedAt(t, 9, false, bytes.Repeat([]byte("o"), 3*ZeroCopyMin), 0, "KEYS\x01other-key\x02TAGS\x01z\x02")}
	parts, _, err := ToKafkaParts(nil, 5, a)
	if err != nil {
		t.Fatal(err)
	}
	want := bytes.Join(parts, nil)
	for range 4 {
		if _, err := ToKafka(nil, 100, other); err != nil {
			t.Fatal(err)
		}
		if _, _, err := ToKafkaParts(nil, 100, other); err != nil {
			t.Fatal(err)
		}
	}
	if got := bytes.Join(parts, nil); !bytes.Equal(got, want) {
		t.Fatalf("pieces changed by later conversions:\n%q\n%q", got, want)
	}
}
