package remoting

import (
	"bytes"
	"errors"
	"maps"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseProperties(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want map[string]string
	}{
		{"empty", "", map[string]string{}},
		{"trailing separator", "TAGS\x01TagA\x02KEYS\x01k1 k2\x02", map[string]string{"TAGS": "TagA", "KEYS": "k1 k2"}},
		{"no trailing separator", "TAGS\x01TagA\x02WAIT\x01true", map[string]string{"TAGS": "TagA", "WAIT": "true"}},
		{"malformed items skipped", "\x02ab\x02\x01v\x02k\x01\x02noSep\x02a\x01b\x02", map[string]string{"a": "b"}},
		{"value keeps later 0x01", "k\x01v\x01w\x02", map[string]string{"k": "v\x01w"}},
		{"last duplicate wins", "k\x011\x02k\x012\x02", map[string]string{"k": "2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ParseProperties([]byte(tt.in)); !maps.Equal(got, tt.want) {
				t.Errorf("ParseProperties = %q, want %q", got, tt.want)
			}
			for k, v := range tt.want {
				if got, ok := LookupProperty([]byte(tt.in), k); !ok || got != v {
					t.Errorf("LookupProperty(%q) = %q, %v", k, got, ok)
				}
			}
		})
	}
	if _, ok := LookupProperty([]byte("a\x01b\x02"), "TAGS"); ok {
		t.Error("LookupProperty found a missing key")
	}
}

func TestAppendProperties(t *testing.T) {
	m := map[string]string{"UNIQ_KEY": "ABC", "TAGS": "TagA", "KEYS": "k"}
	got := string(AppendProperties(nil, m))
	if want := "KEYS\x01k\x02TAGS\x01TagA\x02UNIQ_KEY\x01ABC\x02"; got != want {
		t.Errorf("AppendProperties = %q, want %q", got, want)
	}
	list := []Property{{"b", "1"}, {"a", "2"}}
	if got := ParsePropertyList(AppendPropertyList(nil, list)); !slices.Equal(got, list) {
		t.Errorf("property list round trip = %v", got)
	}
	if err := ValidateProperties(m); err != nil {
		t.Error(err)
	}
	bad := []map[string]string{
		{"": "v"}, {"k": ""}, {"k\x01": "v"}, {"k": "v\x02"},
		{"k": strings.Repeat("v", MaxPropertiesLen)},
	}
	for _, m := range bad {
		if err := ValidateProperties(m); !errors.Is(err, ErrProperties) {
			t.Errorf("ValidateProperties(%q) = %v", m, err)
		}
	}
}

func TestDecodeBatchErrors(t *testing.T) {
	good := AppendBatchMessage(nil, 7, []byte("x"), []byte("a\x01b\x02"))
	tests := []struct {
		name string
		body []byte
	}{
		{"truncated", good[:len(good)-1]},
		{"trailing bytes", append(slices.Clip(good), 0)},
		{"size mismatch", append([]byte{0, 0, 0, 99}, good[4:]...)},
		{"negative body length", append(append(slices.Clone(good[:16]), 0xff, 0xff, 0xff, 0xff), good[20:]...)},
		{"negative properties length", append(slices.Clone(good[:21]), 0xff, 0xff)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := DecodeBatch(tt.body); !errors.Is(err, ErrMalformed) {
				t.Errorf("DecodeBatch = %v, want ErrMalformed", err)
			}
		})
	}
	msgs, err := DecodeBatch(good)
	if err != nil || len(msgs) != 1 || msgs[0].Flag != 7 || string(msgs[0].Body) != "x" || msgs[0].Properties["a"] != "b" {
		t.Errorf("DecodeBatch(good) = %+v, %v", msgs, err)
	}
	if msgs, err := DecodeBatch(nil); err != nil || len(msgs) != 0 {
		t.Errorf("DecodeBatch(nil) = %v, %v", msgs, err)
	}
}

func sampleMessage() MessageExt {
	return MessageExt{
		QueueID: 3, Flag: 1, QueueOffset: 42, CommitLogOffset: 1 << 33, SysFlag: SysFlagMultiTags,
		BornTimestamp: 1700000000000, BornHost: netip.MustParseAddrPort("192.0.2.7:53412"),
		StoreTimestamp: 1700000000123, StoreHost: netip.MustParseAddrPort("10.0.0.1:10911"),
		ReconsumeTimes: 2, PreparedTransactionOffset: 9, Body: []byte("payload"), Topic: "TopicTest",
		Properties: []byte("TAGS\x01TagA\x02"),
	}
}

func TestStoredRoundTrip(t *testing.T) {
	v6 := sampleMessage()
	v6.BornHost = netip.MustParseAddrPort("[2001:db8::1]:1")
	v6.StoreHost = netip.MustParseAddrPort("[2001:db8::2]:10911")
	v6.SysFlag |= HostSysFlags(v6.BornHost, v6.StoreHost)
	long := sampleMessage()
	long.Topic = "%RETRY%" + strings.Repeat("g", 300)
	empty := MessageExt{BornHost: netip.AddrPortFrom(netip.IPv4Unspecified(), 0), StoreHost: netip.AddrPortFrom(netip.IPv4Unspecified(), 0)}
	tests := []struct {
		name      string
		m         MessageExt
		size      int
		magic     uint32
		storeTSAt int
	}{
		{"ipv4", sampleMessage(), MinStoredLen + 7 + 9 + 10, MagicV1, 56},
		{"ipv6", v6, MinStoredLen + 24 + 7 + 9 + 10, MagicV1, 68},
		{"long topic uses V2", long, MinStoredLen + 1 + 7 + len(long.Topic) + 10, MagicV2, 56},
		{"empty", empty, MinStoredLen, MagicV1, 56},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := AppendStoredMessage(nil, &tt.m)
			if len(rec) != tt.size || StoredLen(&tt.m) != tt.size {
				t.Fatalf("record %d bytes, StoredLen %d, want %d", len(rec), StoredLen(&tt.m), tt.size)
			}
			if magic := uint32(rec[4])<<24 | uint32(rec[5])<<16 | uint32(rec[6])<<8 | uint32(rec[7]); magic != tt.magic {
				t.Errorf("magic %#x, want %#x", magic, tt.magic)
			}
			if got := StoreTimestampPos(tt.m.SysFlag); got != tt.storeTSAt {
				t.Errorf("StoreTimestampPos = %d, want %d", got, tt.storeTSAt)
			}
			got, n, err := DecodeStoredMessage(append(rec, 0xEE)) // a following byte is not consumed
			if err != nil || n != len(rec) {
				t.Fatalf("DecodeStoredMessage = %d, %v", n, err)
			}
			want := tt.m
			want.BodyCRC = BodyCRC(want.Body)
			assertSameStored(t, got, want)
		})
	}
}

func assertSameStored(t *testing.T, got, want MessageExt) {
	t.Helper()
	if !bytes.Equal(got.Body, want.Body) || !bytes.Equal(got.Properties, want.Properties) {
		t.Errorf("body/properties = %q/%q, want %q/%q", got.Body, got.Properties, want.Body, want.Properties)
	}
	got.Body, got.Properties, want.Body, want.Properties = nil, nil, nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("decoded\n got %+v\nwant %+v", got, want)
	}
}

func TestPatchStored(t *testing.T) {
	for _, sysFlag := range []int32{0, SysFlagBornHostV6 | SysFlagStoreHostV6} {
		m := sampleMessage()
		m.SysFlag = sysFlag
		rec := AppendStoredMessage(nil, &m)
		if err := PatchStored(rec, 77, 1<<40, 1700000009999); err != nil {
			t.Fatal(err)
		}
		got, _, err := DecodeStoredMessage(rec)
		if err != nil {
			t.Fatal(err)
		}
		if got.QueueOffset != 77 || got.CommitLogOffset != 1<<40 || got.StoreTimestamp != 1700000009999 || got.BornTimestamp != m.BornTimestamp {
			t.Errorf("sysflag %#x: patched %+v", sysFlag, got)
		}
		if got.BodyCRC != BodyCRC(m.Body) {
			t.Error("patch changed BODYCRC")
		}
	}
	if err := PatchStored(make([]byte, 40), 0, 0, 0); !errors.Is(err, ErrCorrupt) {
		t.Errorf("short patch = %v", err)
	}
	v6 := make([]byte, 70)
	v6[StoredSysFlagPos+3] = byte(SysFlagBornHostV6)
	if err := PatchStored(v6, 0, 0, 0); !errors.Is(err, ErrCorrupt) {
		t.Errorf("short v6 patch = %v", err)
	}
}

func TestDecodeStoredErrors(t *testing.T) {
	m := sampleMessage()
	good := AppendStoredMessage(nil, &m)
	edit := func(f func(b []byte)) []byte { b := slices.Clone(good); f(b); return b }
	tests := []struct {
		name string
		b    []byte
	}{
		{"short", good[:7]},
		{"truncated", good[:len(good)-1]},
		{"size too small", edit(func(b []byte) { putU32(b, 90) })},
		{"size too large for fields", append(edit(func(b []byte) { putU32(b, uint32(len(good)+1)) }), 0)},
		{"bad magic", edit(func(b []byte) { b[7] = 0 })},
		{"bad port", edit(func(b []byte) { b[52] = 0x01 })},
		{"body overruns", edit(func(b []byte) { putU32(b[84:], 1000) })},
		{"negative properties length", edit(func(b []byte) { b[len(b)-12] = 0xff })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, n, err := DecodeStoredMessage(tt.b); !errors.Is(err, ErrCorrupt) || n != 0 {
				t.Errorf("DecodeStoredMessage = %d, %v; want ErrCorrupt", n, err)
			}
		})
	}
}

func TestStoredScanner(t *testing.T) {
	var buf []byte
	for i := range 3 {
		m := sampleMessage()
		m.QueueOffset = int64(i)
		buf = AppendStoredMessage(buf, &m)
	}
	s := NewStoredScanner(buf)
	var offsets []int64
	for s.Next() {
		m, n, err := DecodeStoredMessage(s.Record())
		if err != nil || n != len(s.Record()) {
			t.Fatal(n, err)
		}
		offsets = append(offsets, m.QueueOffset)
	}
	if s.Err() != nil || !slices.Equal(offsets, []int64{0, 1, 2}) || s.Offset() != len(buf) {
		t.Errorf("offsets %v, err %v, end %d", offsets, s.Err(), s.Offset())
	}
	s = NewStoredScanner(buf[:len(buf)-1])
	n := 0
	for s.Next() {
		n++
	}
	if n != 2 || !errors.Is(s.Err(), ErrCorrupt) {
		t.Errorf("truncated buffer: %d records, err %v", n, s.Err())
	}
}

func TestOffsetMsgID(t *testing.T) {
	tests := []struct {
		host string
		off  int64
		id   string
	}{
		{"127.0.0.1:10911", 0xBE, "7F00000100002A9F00000000000000BE"}, // captured, docs/rocketmq-protocol.md §4.1
		{"[::ffff:10.0.0.1]:10911", 4096, "0A00000100002A9F0000000000001000"},
		{"[2001:db8::1]:10911", -1, "20010DB800000000000000000000000100002A9FFFFFFFFFFFFFFFFF"},
	}
	for _, tt := range tests {
		host := netip.MustParseAddrPort(tt.host)
		if got := OffsetMsgID(host, tt.off); got != tt.id {
			t.Errorf("OffsetMsgID(%s, %d) = %s, want %s", host, tt.off, got, tt.id)
		}
		gotHost, gotOff, err := ParseOffsetMsgID(strings.ToLower(tt.id))
		if err != nil || gotHost != netip.AddrPortFrom(host.Addr().Unmap(), host.Port()) || gotOff != tt.off {
			t.Errorf("ParseOffsetMsgID(%s) = %s, %d, %v", tt.id, gotHost, gotOff, err)
		}
	}
	for _, bad := range []string{"", "7F00000100002A9F00000000000000B", "7F00000100002A9F00000000000000BG", "7F000001FFFF2A9F00000000000000BE"} {
		if _, _, err := ParseOffsetMsgID(bad); !errors.Is(err, ErrMsgID) {
			t.Errorf("ParseOffsetMsgID(%q) = %v", bad, err)
		}
	}
}

func TestUniqIDGenerator(t *testing.T) {
	now := time.Date(2024, 3, 2, 0, 0, 1, 500e6, time.UTC) // 1 day 1.5 s into March
	g := NewUniqIDGenerator(netip.MustParseAddr("192.0.2.2"), 0x17783, 0, func() time.Time { return now })
	// ip C0000202, pid 0x17783 truncated to int16 0x7783, hash 0, 86401500 ms = 0x052661DC.
	want := []string{
		NewUniqID(netip.MustParseAddr("192.0.2.2"), 0x7783, 0, 86401500, 0),
		NewUniqID(netip.MustParseAddr("192.0.2.2"), 0x7783, 0, 86401500, 1),
	}
	if want[0] != "C0000202778300000000052661DC0000" {
		t.Errorf("NewUniqID = %s", want[0])
	}
	for i, w := range want {
		if got := g.Next(); got != w {
			t.Errorf("Next #%d = %s, want %s", i, got, w)
		}
	}
	now = time.Date(2024, 4, 1, 0, 0, 0, 7e6, time.UTC) // the month rolls over
	if got, w := g.Next(), NewUniqID(netip.MustParseAddr("192.0.2.2"), 0x7783, 0, 7, 2); got != w {
		t.Errorf("after month roll: %s, want %s", got, w)
	}
	if id := NewUniqID(netip.MustParseAddr("2001:db8::1"), 1, -1, 0, -1); len(id) != 56 {
		t.Errorf("IPv6 UNIQ_KEY %s has %d chars", id, len(id))
	}
}

func TestTagsHashCode(t *testing.T) {
	// Expected values are Java's String.hashCode(), computed independently
	// over UTF-16 code units.
	tests := []struct {
		tags string
		want int64
	}{
		{"", 0},
		{"TagA", 2598919},
		{"a", 97},
		{"é", 233},
		{"中文", 646394},
		{"标签A", 26572490},
		{"タグ", 399313},
		{"😀", 1772899}, // surrogate pair D83D DE00
		{"TagA||TagB", 1789476431},
		{"Ünïcödé", 1055431381},
		{"polygenelubricants", -2147483648}, // sign-extended Integer.MIN_VALUE
	}
	for _, tt := range tests {
		if got := TagsHashCode(tt.tags); got != tt.want {
			t.Errorf("TagsHashCode(%q) = %d, want %d", tt.tags, got, tt.want)
		}
	}
}

func TestIsCanonicalProperties(t *testing.T) {
	tests := []struct {
		s    string
		want bool
	}{
		{"", true},
		{"TAGS\x01a\x02", true},
		{"TAGS\x01a\x02KEYS\x01k1 k2\x02", true},
		{"K\x01v\x01w\x02", true}, // the value runs to the item's end
		{"TAGS\x01a", false},      // no trailing separator
		{"TAGS\x01a\x02\x02", false},
		{"\x01a\x02", false},
		{"TAGS\x01\x02", false},
		{"ab\x02", false},
	}
	for _, tt := range tests {
		if got := IsCanonicalProperties([]byte(tt.s)); got != tt.want {
			t.Errorf("IsCanonicalProperties(%q) = %v, want %v", tt.s, got, tt.want)
		}
	}
}
