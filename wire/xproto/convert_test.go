package xproto

import (
	"bytes"
	"compress/zlib"
	"net/netip"
	"strings"
	"testing"

	"github.com/twinmq/twinmq/wire/kafka"
	"github.com/twinmq/twinmq/wire/remoting"
)

var host = netip.MustParseAddrPort("10.0.0.1:10911")

func stored(t testing.TB, off int64, body []byte, sysFlag int32, props ...remoting.Property) []byte {
	t.Helper()
	m := remoting.MessageExt{
		QueueID: 2, QueueOffset: off, CommitLogOffset: 4096 + off*200, SysFlag: sysFlag,
		BornTimestamp: 1_700_000_000_000 + off, BornHost: netip.MustParseAddrPort("10.0.0.7:5000"),
		StoreTimestamp: 1_700_000_000_500 + off, StoreHost: host,
		Body: body, Topic: "T", Properties: remoting.AppendPropertyList(nil, props),
	}
	return remoting.AppendStoredMessage(nil, &m)
}

func zlibBytes(b []byte) []byte {
	var buf bytes.Buffer
	w := zlib.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

type rec struct {
	off     int64
	ts      int64
	key     string
	value   string
	headers map[string]string
}

func readBatch(t testing.TB, b []byte) []rec {
	t.Helper()
	h, err := kafka.ValidateBatch(b, 0)
	if err != nil {
		t.Fatalf("converted batch invalid: %v", err)
	}
	var out []rec
	err = kafka.ForEachRecord(b, 0, func(r kafka.Record) error {
		x := rec{off: h.BaseOffset + int64(r.OffsetDelta), ts: h.FirstTimestamp + r.TimestampDelta,
			key: string(r.Key), value: string(r.Value), headers: map[string]string{}}
		for _, hd := range r.Headers {
			x.headers[hd.Key] = string(hd.Value)
		}
		out = append(out, x)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestToKafka(t *testing.T) {
	msgs := [][]byte{
		stored(t, 5, []byte("plain"), 0, remoting.Property{Key: "TAGS", Value: "TagA"}, remoting.Property{Key: "KEYS", Value: "k5"}, remoting.Property{Key: "color", Value: "red"}),
		stored(t, 6, zlibBytes([]byte("squeezed body")), remoting.SysFlagCompressed, remoting.Property{Key: "TAGS", Value: "TagB"}),
	}
	b, err := ToKafka(nil, 5, msgs)
	if err != nil {
		t.Fatal(err)
	}
	got := readBatch(t, b)
	want := []rec{
		{5, 1_700_000_000_005, "k5", "plain", map[string]string{"TAGS": "TagA", "KEYS": "k5", "color": "red"}},
		{6, 1_700_000_000_006, "", "squeezed body", map[string]string{"TAGS": "TagB"}},
	}
	if len(got) != len(want) {
		t.Fatalf("%d records", len(got))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.off != w.off || g.ts != w.ts || g.key != w.key || g.value != w.value || len(g.headers) != len(w.headers) {
			t.Fatalf("record %d: %+v, want %+v", i, g, w)
		}
		for k, v := range w.headers {
			if g.headers[k] != v {
				t.Fatalf("record %d header %s = %q, want %q", i, k, g.headers[k], v)
			}
		}
	}
}

// A message a Kafka consumer cannot read as meant still takes its offset:
// the partition never stops on it.
func TestToKafkaBadMessages(t *testing.T) {
	m := remoting.MessageExt{QueueOffset: 7, BornTimestamp: 1, BornHost: host, StoreHost: host, Topic: "T",
		Body: []byte("x"), Properties: []byte("good\x01yes\x02broken\x02\x01novalue\x02KEYS\x01k")}
	malformed := remoting.AppendStoredMessage(nil, &m)
	b, err := ToKafka(nil, 6, [][]byte{
		stored(t, 6, []byte("not zlib"), remoting.SysFlagCompressed),
		malformed,
		[]byte("garbage, not a stored message"),
	})
	if err != nil {
		t.Fatal(err)
	}
	got := readBatch(t, b)
	if len(got) != 3 || got[0].off != 6 || got[1].off != 7 || got[2].off != 8 {
		t.Fatalf("records %+v, want offsets 6, 7, 8", got)
	}
	if got[0].value != "not zlib" || got[0].headers[HeaderConvertError] == "" {
		t.Fatalf("undecompressable body: %+v", got[0])
	}
	if got[1].key != "k" || got[1].headers["good"] != "yes" || got[1].headers[HeaderRawProperties] != string(m.Properties) {
		t.Fatalf("malformed properties: %+v", got[1])
	}
	if got[2].value != "" || got[2].headers[HeaderConvertError] == "" {
		t.Fatalf("damaged record: %+v", got[2])
	}
}

// Headers that a properties string cannot carry are escaped losslessly
// and come back unchanged through ToKafka.
func TestHeaderEscaping(t *testing.T) {
	hdrs := []kafka.RecordHeader{
		{Key: "plain", Value: []byte("v")},
		{Key: "bin", Value: []byte{0xff, 0x00, 0x01}},
		{Key: "sep\x01name", Value: []byte("v")},
		{Key: "plain", Value: []byte("second")},
		{Key: "nullvalue", Value: nil},
		{Key: "empty", Value: []byte{}},
		{Key: "TWINMQ_HDR_9", Value: []byte("looks escaped")},
	}
	batch := kafkaBatch(t, 0, []kafka.Record{{Key: []byte{0x02, 0xfe}, Value: []byte("v"), Headers: hdrs}})
	out, _, err := ToRocketMQ(nil, batch, KafkaEntry{Topic: "T", Phys: 64, StoreHost: host}, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	m, _, err := remoting.DecodeStoredMessage(out)
	if err != nil {
		t.Fatal(err)
	}
	props := remoting.ParseProperties(m.Properties)
	if props["plain"] != "v" || props["TWINMQ_HDR_1"] != "Ymlu._wAB" || props["TWINMQ_HDR_4"] != "bnVsbHZhbHVl" ||
		props["TWINMQ_HDR_5"] != "ZW1wdHk." || props["TWINMQ_KEY"] != "Av4" || props["KEYS"] != "" {
		t.Fatalf("escaped properties %q", props)
	}
	back, err := ToKafka(nil, 0, [][]byte{out})
	if err != nil {
		t.Fatal(err)
	}
	err = kafka.ForEachRecord(back, 0, func(r kafka.Record) error {
		if string(r.Key) != "\x02\xfe" {
			t.Errorf("key %q", r.Key)
		}
		var got []kafka.RecordHeader
		for _, h := range r.Headers {
			if h.Key != "UNIQ_KEY" {
				v := h.Value
				if v != nil {
					v = append([]byte{}, v...)
				}
				got = append(got, kafka.RecordHeader{Key: h.Key, Value: v})
			}
		}
		if len(got) != len(hdrs) {
			t.Fatalf("headers back %q, want %q", got, hdrs)
		}
		for _, w := range hdrs {
			found := false
			for _, g := range got {
				found = found || (g.Key == w.Key && string(g.Value) == string(w.Value) && (g.Value == nil) == (w.Value == nil))
			}
			if !found {
				t.Errorf("header %q=%q not back in %q", w.Key, w.Value, got)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestUniqKeyAndHasKey(t *testing.T) {
	id := UniqKey(123456, 7)
	if p, i, ok := ParseUniqKey(id); !ok || p != 123456 || i != 7 {
		t.Fatalf("ParseUniqKey(%s) = %d, %d, %v", id, p, i, ok)
	}
	for _, other := range []string{"", "7F0000010E5A18B4AAC2", "0A000001000000000000000000000000", strings.ToLower(id)} {
		if _, _, ok := ParseUniqKey(other); ok {
			t.Fatalf("ParseUniqKey(%q) accepted", other)
		}
	}
	props := remoting.AppendPropertyList(nil, []remoting.Property{{Key: "KEYS", Value: "a b"}, {Key: "UNIQ_KEY", Value: "U1"}})
	for key, want := range map[string]bool{"a": true, "b": true, "U1": true, "a b": false, "c": false} {
		if HasKey(key)("", props) != want {
			t.Fatalf("HasKey(%q) = %v", key, !want)
		}
	}
}

func kafkaBatch(t testing.TB, base int64, recs []kafka.Record) []byte {
	t.Helper()
	b, err := kafka.AppendBatch(nil, kafka.BatchSpec{BaseOffset: base, FirstTimestamp: 1_600_000_000_000,
		ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}, recs, kafka.CodecSnappy)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestToRocketMQ(t *testing.T) {
	batch := kafkaBatch(t, 10, []kafka.Record{
		{Key: []byte("k0"), Value: []byte("v0"), Headers: []kafka.RecordHeader{{Key: "TAGS", Value: []byte("TagA")}}},
		{Key: []byte("k1"), Value: []byte("v1"), TimestampDelta: 3, Headers: []kafka.RecordHeader{{Key: "TAGS", Value: []byte("TagB")}, {Key: "h", Value: []byte("x")}}},
		{Value: []byte("v2"), TimestampDelta: 4, Headers: []kafka.RecordHeader{{Key: "UNIQ_KEY", Value: []byte("CLIENTID")}}},
	})
	e := KafkaEntry{Topic: "T", QueueID: 1, Phys: 777, StoreTime: 1_600_000_001_000, StoreHost: host}
	out, next, err := ToRocketMQ(nil, batch, e, 11, nil)
	if err != nil || next != 13 {
		t.Fatalf("next %d err %v", next, err)
	}
	var ms []remoting.MessageExt
	for s := remoting.NewStoredScanner(out); s.Next(); {
		m, _, err := remoting.DecodeStoredMessage(s.Record())
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
	}
	if len(ms) != 2 {
		t.Fatalf("%d messages from offset 11", len(ms))
	}
	m := ms[0]
	props := remoting.ParseProperties(m.Properties)
	if m.QueueOffset != 11 || string(m.Body) != "v1" || m.BornTimestamp != 1_600_000_000_003 ||
		m.StoreTimestamp != e.StoreTime || m.CommitLogOffset != 777 || m.Topic != "T" || m.QueueID != 1 ||
		props["KEYS"] != "k1" || props["TAGS"] != "TagB" || props["h"] != "x" || props["UNIQ_KEY"] != UniqKey(777, 1) {
		t.Fatalf("message %+v props %v", m, props)
	}
	if p := remoting.ParseProperties(ms[1].Properties); p["UNIQ_KEY"] != "CLIENTID" || p["KEYS"] != "" {
		t.Fatalf("producer's UNIQ_KEY not kept: %v", p)
	}
	out, _, err = ToRocketMQ(nil, batch, e, 0, func(tags string, _ []byte) bool { return tags == "TagA" })
	if err != nil || remoting.NewStoredScanner(out).Next() == false {
		t.Fatalf("filter: %v", err)
	}
	n := 0
	for s := remoting.NewStoredScanner(out); s.Next(); n++ {
	}
	if n != 1 {
		t.Fatalf("tag filter kept %d messages, want 1", n)
	}
}

func TestRoundTrip(t *testing.T) {
	orig := stored(t, 3, []byte("body"), 0, remoting.Property{Key: "TAGS", Value: "T1"}, remoting.Property{Key: "KEYS", Value: "key"}, remoting.Property{Key: "UNIQ_KEY", Value: "ABC"})
	b, err := ToKafka(nil, 3, [][]byte{orig})
	if err != nil {
		t.Fatal(err)
	}
	back, _, err := ToRocketMQ(nil, b, KafkaEntry{Topic: "T", QueueID: 2, Phys: 1, StoreHost: host}, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	m, _, err := remoting.DecodeStoredMessage(back)
	if err != nil {
		t.Fatal(err)
	}
	o, _, _ := remoting.DecodeStoredMessage(orig)
	if string(m.Body) != string(o.Body) || m.BornTimestamp != o.BornTimestamp || m.QueueOffset != o.QueueOffset {
		t.Fatalf("round trip %+v != %+v", m, o)
	}
	if a, b := remoting.ParseProperties(m.Properties), remoting.ParseProperties(o.Properties); len(a) != len(b) || a["UNIQ_KEY"] != "ABC" || a["KEYS"] != "key" {
		t.Fatalf("properties %v != %v", a, b)
	}
}

func FuzzToRocketMQ(f *testing.F) {
	f.Add(kafkaBatch(f, 0, []kafka.Record{{Key: []byte("k"), Value: []byte("v")}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		ToRocketMQ(nil, b, KafkaEntry{Topic: "T"}, 0, HasKey("k"))
	})
}

func FuzzToKafka(f *testing.F) {
	f.Add(stored(f, 1, []byte("x"), 0, remoting.Property{Key: "KEYS", Value: "k"}))
	f.Add(stored(f, 1, zlibBytes([]byte("x")), remoting.SysFlagCompressed))
	f.Add(stored(f, 1, []byte("x"), 0, remoting.Property{Key: "TWINMQ_HDR_0", Value: "Ymlu._wAB"}, remoting.Property{Key: "TWINMQ_KEY", Value: "Av4"}))
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := ToKafka(nil, 1, [][]byte{b})
		if err == nil {
			if _, err := kafka.ValidateBatch(out, 0); err != nil {
				t.Fatalf("converted batch invalid: %v", err)
			}
		}
	})
}

func FuzzParseUniqKey(f *testing.F) {
	f.Add(UniqKey(4096, 3))
	f.Add("54514B42FFFFFFFFFFFFFFFF00000000")
	f.Fuzz(func(t *testing.T, id string) {
		phys, index, ok := ParseUniqKey(id)
		if ok && UniqKey(phys, index) != id {
			t.Fatalf("ParseUniqKey(%q) = %d, %d; UniqKey gives %q", id, phys, index, UniqKey(phys, index))
		}
	})
}
