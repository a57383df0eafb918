package xproto

import (
	"bytes"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/twinmq/twinmq/wire/kafka"
	"github.com/twinmq/twinmq/wire/remoting"
)

// pullBatch is a batch of recs at base with the given codec and
// attributes (timestamp type, control bit).
func pullBatch(t testing.TB, base int64, codec int8, attrs int16, recs []kafka.Record) []byte {
	t.Helper()
	b, err := kafka.AppendBatch(nil, kafka.BatchSpec{BaseOffset: base, Attributes: attrs, FirstTimestamp: 1_600_000_000_000,
		ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}, recs, codec)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// pullRecords are records of every kind the mapping distinguishes: tags,
// keys that can and cannot be KEYS, escaped headers (binary, separators,
// empty, null, repeated, reserved names), a producer's UNIQ_KEY, null and
// empty values, bodies on both sides of ZeroCopyMin.
func pullRecords() []kafka.Record {
	big := bytes.Repeat([]byte("0123456789abcdef"), 100)
	h := func(kv ...string) []kafka.RecordHeader {
		var out []kafka.RecordHeader
		for i := 0; i+1 < len(kv); i += 2 {
			out = append(out, kafka.RecordHeader{Key: kv[i], Value: []byte(kv[i+1])})
		}
		return out
	}
	recs := []kafka.Record{
		{Key: []byte("k0"), Value: big, Headers: h("TAGS", "TagA", "h", "v")},
		{Key: []byte("k1"), Value: []byte("small"), TimestampDelta: 3, Headers: h("TAGS", "TagB")},
		{Value: nil, TimestampDelta: -2, Headers: h("UNIQ_KEY", "CLIENTID", "KEYS", "a b")},
		{Key: []byte{0xff, 1}, Value: []byte{}, Headers: []kafka.RecordHeader{{Key: "bin", Value: []byte{0, 1, 2, 0xff}},
			{Key: "null"}, {Key: "", Value: []byte("x")}, {Key: "e", Value: []byte{}}, {Key: "TAGS", Value: []byte("TagA")},
			{Key: "TAGS", Value: []byte("again")}, {Key: "TWINMQ_HDR_1", Value: []byte("r")}, {Key: "TWINMQ_KEY", Value: []byte("r")},
			{Key: "ünï", Value: []byte("cödé")}, {Key: "sep\x02", Value: []byte("v")}}},
		{Key: []byte("k4"), Value: big[:ZeroCopyMin], Headers: h("TAGS", "TagA")},
		{Key: []byte("k5"), Value: big[:ZeroCopyMin-1], Headers: h("TAGS", "\xff\xfe")},
	}
	for i := range recs {
		recs[i].OffsetDelta = int32(i)
	}
	return recs
}

var pullEntryOf = KafkaEntry{Topic: "T", QueueID: 1, Phys: 777, StoreTime: 1_600_000_001_000, StoreHost: host}

// pullSame converts batches (each from from, through keep) with Pull and
// checks the joined parts against the reference's messages, batch after
// batch, with stored between them; a batch the reference fails on adds
// nothing. It returns the parts.
func pullSame(t *testing.T, p *Pull, batches [][]byte, from int64, keep func(int64) bool, stored []byte) [][]byte {
	t.Helper()
	var refKeep Keep
	if keep != nil {
		refKeep = func(tags string, _ []byte) bool { return keep(remoting.TagsHashCode(tags)) }
	}
	var want []byte
	for i, b := range batches {
		e := pullEntryOf
		e.Phys += int64(i) * 10_000
		ref, refNext, refErr := refToRocketMQ(nil, b, e, from, refKeep)
		next, err := p.AddKafka(b, e, from, keep)
		if (err == nil) != (refErr == nil) || (err == nil && next != refNext) {
			t.Fatalf("batch %d: AddKafka = %d, %v; the reference %d, %v", i, next, err, refNext, refErr)
		}
		if err == nil {
			want = append(want, ref...)
		}
		// ToRocketMQ (the query path) writes what the reference writes.
		got, gotNext, gotErr := ToRocketMQ(nil, b, e, from, refKeep)
		if !bytes.Equal(got, ref) || gotNext != refNext || (gotErr == nil) != (refErr == nil) {
			t.Fatalf("batch %d: ToRocketMQ differs from the reference (%v, %v)", i, gotErr, refErr)
		}
		p.AddStored(stored)
		want = append(want, stored...)
	}
	size, pieces := p.size, p.pieces
	parts, n := p.Parts(nil)
	got := bytes.Join(parts, nil)
	if !bytes.Equal(got, want) || n != len(want) {
		t.Fatalf("Pull wrote %d bytes (n %d), the reference %d", len(got), n, len(want))
	}
	// The buffer was sized exactly, and so was the list of pieces.
	inBuf := 0
	for _, part := range parts {
		if !slices.ContainsFunc(batches, func(b []byte) bool { return within(part, b) }) && !within(part, stored) {
			inBuf += len(part)
		}
	}
	if inBuf != size || len(parts) > pieces+1 {
		t.Fatalf("buffer of %d bytes, sized %d; %d pieces, room for %d", inBuf, size, len(parts), pieces+1)
	}
	return parts
}

// Pull writes exactly the messages the reference (the former
// record-by-record ToRocketMQ) writes, for every codec, timestamp type,
// starting offset and tag filter.
func TestPullSameAsReference(t *testing.T) {
	recs := pullRecords()
	tagA := remoting.TagsHashCode("TagA")
	keeps := map[string]func(int64) bool{"all": nil, "TagA": func(c int64) bool { return c == tagA },
		"none": func(int64) bool { return false }, "no tags": func(c int64) bool { return c == 0 }}
	codecs := []int8{kafka.CodecNone, kafka.CodecGzip, kafka.CodecSnappy, kafka.CodecLZ4, kafka.CodecZstd}
	stored := stored(t, 3, []byte("verbatim"), 0, remoting.Property{Key: "KEYS", Value: "k"})
	var p Pull
	for _, codec := range codecs {
		for _, attrs := range []int16{0, 0x08 /* LogAppendTime */, 0x20 /* control */} {
			a := pullBatch(t, 100, codec, attrs, recs)
			b := pullBatch(t, 106, codec, attrs, recs[:2])
			for _, from := range []int64{0, 101, 103, 105, 106, 107, 200} {
				for name, keep := range keeps {
					p.Reset()
					pullSame(t, &p, [][]byte{a, b}, from, keep, nil)
					p.Reset()
					pullSame(t, &p, [][]byte{a, b}, from, keep, stored)
					_ = name
				}
			}
		}
	}
	// Long topics (MagicV2) and IPv6 hosts.
	for _, e := range []KafkaEntry{{Topic: strings.Repeat("t", 300), StoreHost: host},
		{Topic: "T", StoreHost: netip.MustParseAddrPort("[2001:db8::1]:10911")}} {
		batch := pullBatch(t, 0, kafka.CodecNone, 0, recs)
		want, _, err := refToRocketMQ(nil, batch, e, 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		p.Reset()
		if _, err := p.AddKafka(batch, e, 0, nil); err != nil {
			t.Fatal(err)
		}
		if parts, _ := p.Parts(nil); !bytes.Equal(bytes.Join(parts, nil), want) {
			t.Fatalf("topic of %d bytes, host %v: differs from the reference", len(e.Topic), e.StoreHost)
		}
	}
}

// A damaged batch adds nothing, and what was added before it stays.
func TestPullBadBatch(t *testing.T) {
	good := pullBatch(t, 0, kafka.CodecNone, 0, pullRecords())
	cut := good[:len(good)-10]
	flipped := bytes.Clone(good)
	flipped[len(flipped)-3] ^= 0x40 // inside the last record: a bad length or varint
	var p Pull
	pullSame(t, &p, [][]byte{good, cut, flipped, []byte("x"), good}, 0, nil, nil)
}

// The bodies of ZeroCopyMin bytes or more of an uncompressed batch are
// handed out as slices of the batch; nothing handed out aliases the Pull,
// so reusing it does not change pieces already handed out.
func TestPullPartsZeroCopy(t *testing.T) {
	recs := pullRecords()
	batch := pullBatch(t, 0, kafka.CodecNone, 0, recs)
	var p Pull
	parts := pullSame(t, &p, [][]byte{batch, pullBatch(t, 6, kafka.CodecZstd, 0, recs)}, 0, nil, nil)
	want := bytes.Join(parts, nil)
	inBatch := 0
	for _, part := range parts {
		if within(part, batch) {
			inBatch++
			if len(part) < ZeroCopyMin {
				t.Fatalf("a piece of %d bytes left in the batch", len(part))
			}
		}
	}
	if inBatch != 2 { // the bodies of records 0 and 4
		t.Fatalf("%d pieces alias the batch, want 2", inBatch)
	}
	for range 3 {
		p.Reset()
		pullSame(t, &p, [][]byte{pullBatch(t, 50, kafka.CodecZstd, 0, recs[3:]), batch}, 0, nil, nil)
	}
	if !bytes.Equal(bytes.Join(parts, nil), want) {
		t.Fatal("pieces changed when the Pull was reused")
	}
}

func within(part, b []byte) bool {
	if len(part) == 0 || len(b) == 0 {
		return false
	}
	p, s := uintptr(unsafe.Pointer(unsafe.SliceData(part))), uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	return p >= s && p < s+uintptr(len(b))
}

// FuzzPullSame: for any bytes as a stored Kafka batch (alone, between
// good ones, from any offset, with and without a tag filter), Pull and
// ToRocketMQ write what the reference writes, and never panic.
func FuzzPullSame(f *testing.F) {
	recs := pullRecords()
	for _, codec := range []int8{kafka.CodecNone, kafka.CodecGzip, kafka.CodecSnappy, kafka.CodecLZ4, kafka.CodecZstd} {
		f.Add(pullBatch(f, 0, codec, 0, recs), int64(2), false)
	}
	f.Add(pullBatch(f, 0, kafka.CodecNone, 0x08, recs[:1]), int64(0), true)
	good := pullBatch(f, 1000, kafka.CodecNone, 0, recs)
	tagA := remoting.TagsHashCode("TagA")
	f.Fuzz(func(t *testing.T, b []byte, from int64, filter bool) {
		var keep func(int64) bool
		if filter {
			keep = func(c int64) bool { return c == tagA }
		}
		var p Pull
		pullSame(t, &p, [][]byte{b}, from, keep, nil)
		p.Reset()
		pullSame(t, &p, [][]byte{good, b, good}, from, keep, []byte("stored"))
	})
}

// TestPullOwned: Owned writes the converted messages Parts hands out,
// byte for byte, one call per record with its offset and TAGS code, into
// memory of its own that a later use of the Pull does not change, except
// the large bodies of the uncompressed batch, which are slices of it.
func TestPullOwned(t *testing.T) {
	recs := pullRecords()
	batches := [][]byte{pullBatch(t, 0, kafka.CodecNone, 0, recs), pullBatch(t, 20, kafka.CodecZstd, 0, recs)}
	var p Pull
	want := bytes.Join(pullSame(t, &p, batches, 2, nil, nil), nil)
	var got []byte
	var offs []int64
	var owned [][]byte
	inBatch := 0
	p.Owned(func(off, tags int64, head, body, tail []byte) {
		msg := slices.Concat(head, body, tail)
		m, n, err := remoting.DecodeStoredMessage(msg)
		if err != nil || n != len(msg) || m.QueueOffset != off || remoting.TagsHashCode(remoting.ParseProperties(m.Properties)["TAGS"]) != tags {
			t.Fatalf("offset %d: message %d bytes of %d, queue offset %d, tags code %d (%v)", off, n, len(msg), m.QueueOffset, tags, err)
		}
		if body != nil {
			if !within(body, batches[0]) || len(body) < ZeroCopyMin {
				t.Fatalf("offset %d: a body of %d bytes handed out apart", off, len(body))
			}
			inBatch++
		}
		for _, piece := range [][]byte{head, tail} {
			if within(piece, batches[0]) || within(piece, batches[1]) {
				t.Fatalf("offset %d: a head or tail aliases a batch", off)
			}
		}
		got = append(got, msg...)
		offs = append(offs, off)
		owned = append(owned, head, tail)
	})
	if !bytes.Equal(got, want) {
		t.Fatalf("Owned wrote %d bytes, Parts %d, not the same", len(got), len(want))
	}
	if len(offs) == 0 || offs[0] != 2 || inBatch == 0 {
		t.Fatalf("offsets %v, %d bodies left in the batch", offs, inBatch)
	}
	before := bytes.Join(owned, nil)
	p.Reset()
	pullSame(t, &p, batches, 0, nil, nil)
	if !bytes.Equal(bytes.Join(owned, nil), before) {
		t.Fatal("owned messages changed when the Pull was reused")
	}
}
