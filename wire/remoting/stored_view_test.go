package remoting

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sameAsDecode checks that StoredView.Parse agrees with DecodeStoredMessage
// on b: the same length or the same error, and the same field values.
func sameAsDecode(t *testing.T, b []byte) (StoredView, bool) {
	t.Helper()
	var v StoredView
	n, err := v.Parse(b)
	m, n2, err2 := DecodeStoredMessage(b)
	if (err == nil) != (err2 == nil) || n != n2 {
		t.Fatalf("Parse = %d, %v; DecodeStoredMessage = %d, %v", n, err, n2, err2)
	}
	if err != nil {
		if err.Error() != err2.Error() || !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Parse error %q, DecodeStoredMessage %q", err, err2)
		}
		if v.Body != nil || v.Topic != nil || v.Properties != nil || v.QueueOffset != 0 || v.BornTimestamp != 0 {
			t.Fatalf("view not zero after an error: %+v", v)
		}
		return v, false
	}
	if v.QueueOffset != m.QueueOffset || v.CommitLogOffset != m.CommitLogOffset || v.SysFlag != m.SysFlag ||
		v.BornTimestamp != m.BornTimestamp || v.StoreTimestamp != m.StoreTimestamp || string(v.Topic) != m.Topic ||
		!bytes.Equal(v.Body, m.Body) || !bytes.Equal(v.Properties, m.Properties) {
		t.Fatalf("view %+v\ndecoded %+v", v, m)
	}
	if (v.Body == nil) != (m.Body == nil) || cap(v.Body) != len(v.Body) || cap(v.Properties) != len(v.Properties) || cap(v.Topic) != len(v.Topic) {
		t.Fatalf("view slices: body nil %v (decoded %v), caps %d/%d/%d", v.Body == nil, m.Body == nil, cap(v.Body), cap(v.Topic), cap(v.Properties))
	}
	return v, true
}

func TestStoredViewParse(t *testing.T) {
	v6 := sampleMessage()
	v6.BornHost = netip.MustParseAddrPort("[2001:db8::1]:1")
	v6.StoreHost = netip.MustParseAddrPort("[2001:db8::2]:10911")
	v6.SysFlag |= HostSysFlags(v6.BornHost, v6.StoreHost)
	long := sampleMessage()
	long.Topic = "%RETRY%" + strings.Repeat("g", 300)
	empty := MessageExt{}
	good := AppendStoredMessage(nil, viewMsgPtr(sampleMessage()))
	mutate := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	tests := []struct {
		name string
		b    []byte
		ok   bool
	}{
		{"ipv4", good, true},
		{"ipv6", AppendStoredMessage(nil, &v6), true},
		{"long topic V2", AppendStoredMessage(nil, &long), true},
		{"empty fields", AppendStoredMessage(nil, &empty), true},
		{"followed by more bytes", append(bytes.Clone(good), 1, 2, 3), true},
		{"short", good[:7], false},
		{"truncated", good[:len(good)-1], false},
		{"bad magic", mutate(func(b []byte) []byte { b[7] ^= 1; return b }), false},
		{"born port negative", mutate(func(b []byte) []byte { b[52] = 0x80; return b }), false},
		{"born port too large", mutate(func(b []byte) []byte { b[53] = 1; return b }), false},
		{"store port too large", mutate(func(b []byte) []byte { b[69] = 1; return b }), false},
		{"body length negative", mutate(func(b []byte) []byte { b[84] = 0xff; return b }), false},
		{"body length past the end", mutate(func(b []byte) []byte { b[87] += 100; return b }), false},
		{"IPv6 flag on an IPv4 record", mutate(func(b []byte) []byte { b[39] |= byte(SysFlagStoreHostV6); return b }), false},
		{"TOTALSIZE larger than the fields", mutate(func(b []byte) []byte {
			binary.BigEndian.PutUint32(b, uint32(len(b)+1))
			return append(b, 0)
		}), false},
		{"properties length negative", mutate(func(b []byte) []byte { b[len(b)-12] = 0x80; return b }), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, ok := sameAsDecode(t, tt.b); ok != tt.ok {
				t.Fatalf("accepted %v, want %v", ok, tt.ok)
			}
		})
	}
	var v StoredView
	v.SysFlag, v.Topic = -1, []byte("left over") // Parse overwrites every field
	n, err := v.Parse(good)
	if err != nil || n != len(good) || string(v.Topic) != "TopicTest" || string(v.Body) != "payload" ||
		string(v.Properties) != "TAGS\x01TagA\x02" || v.QueueOffset != 42 || v.CommitLogOffset != 1<<33 ||
		v.BornTimestamp != 1700000000000 || v.StoreTimestamp != 1700000000123 || v.SysFlag != SysFlagMultiTags {
		t.Fatalf("Parse = %+v, %d, %v", v, n, err)
	}
}

func viewMsgPtr[T any](v T) *T { return &v }

func TestStoredViewParseAllocs(t *testing.T) {
	b := AppendStoredMessage(nil, viewMsgPtr(sampleMessage()))
	var v StoredView
	if n := testing.AllocsPerRun(100, func() { _, _ = v.Parse(b) }); n != 0 {
		t.Fatalf("%v allocations per view", n)
	}
}

// FuzzStoredViewParse: the view accepts exactly what DecodeStoredMessage
// accepts, reads the same fields, and never panics.
func FuzzStoredViewParse(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("testdata", "stored_example.bin")); err == nil {
		f.Add(b)
	}
	m := sampleMessage()
	f.Add(AppendStoredMessage(nil, &m))
	m.SysFlag |= SysFlagBornHostV6 | SysFlagStoreHostV6
	f.Add(AppendStoredMessage(nil, &m))
	m.Topic = string(make([]byte, 300))
	f.Add(AppendStoredMessage(nil, &m))
	f.Fuzz(func(t *testing.T, b []byte) {
		sameAsDecode(t, b)
	})
}
