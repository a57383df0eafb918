package kafka

import (
	"bytes"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// exact returns b with cap == len, so reading past the input panics.
func exact(b []byte) []byte { return b[:len(b):len(b)] }

func FuzzParseRequest(f *testing.F) {
	f.Add(readFixture(f, "request-produce.bin"))
	f.Add(readFixture(f, "request-fetch.bin"))
	id := "fuzz"
	f.Add(frame(kmsg.NewPtrApiVersionsRequest(), 3, &id, 1))
	f.Add(frame(kmsg.NewPtrMetadataRequest(), 1, nil, 1))
	f.Add([]byte{0, 18, 0x7f, 0, 0, 0, 0, 7})
	f.Fuzz(func(t *testing.T, in []byte) {
		h, req, err := ParseRequest(exact(in))
		if err != nil {
			if req != nil {
				t.Fatal("request with error")
			}
			return
		}
		if req.Key() != h.APIKey || req.GetVersion() != h.APIVersion {
			t.Fatalf("request %d v%d, header %+v", req.Key(), req.GetVersion(), h)
		}
		// A parsed request re-encodes and parses again to the same bytes.
		again := frame(req, h.APIVersion, h.ClientID, h.CorrelationID)
		if h.APIKey == 7 && h.APIVersion == 0 {
			return // kmsg frames ControlledShutdown v0 specially
		}
		h2, req2, err := ParseRequest(again)
		if err != nil || h2.CorrelationID != h.CorrelationID {
			t.Fatalf("re-parse: %v", err)
		}
		if !bytes.Equal(req2.AppendTo(nil), req.AppendTo(nil)) {
			t.Fatal("re-encoded body differs")
		}
	})
}

func FuzzValidateBatch(f *testing.F) {
	for _, gc := range goldenCodecs {
		f.Add(readFixture(f, "batch-"+gc.name+".bin"))
	}
	for _, tc := range roundTripCases {
		b, _ := AppendBatch(nil, tc.spec, tc.records, CodecNone)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var r BatchReader
		r.MaxDecompressed = 1 << 20
		_, _ = r.ForEach(exact(in), nil) // no CRC: reaches the records
		if len(in) >= BatchHeaderSize {
			// Fix the CRC so the fuzzer explores past it; one input in
			// 256 keeps a wrong CRC to exercise the check itself.
			in = bytes.Clone(in)
			if in[offCRC] != 0xcc {
				resum(in)
			}
		}
		var recs []Record
		h, err := r.Validate(exact(in), func(rec Record) error {
			recs = append(recs, cloneRecord(rec))
			return nil
		})
		if err != nil {
			if !errors.Is(err, ErrCorruptBatch) && !errors.Is(err, ErrTruncatedBatch) &&
				!errors.Is(err, ErrLegacyMagic) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		if int32(len(recs)) != h.NumRecords {
			t.Fatalf("%d records, header says %d", len(recs), h.NumRecords)
		}
		// validate(AppendBatch(x)) == x, for the records and header fields.
		spec := BatchSpec{BaseOffset: h.BaseOffset, PartitionLeaderEpoch: h.PartitionLeaderEpoch,
			Attributes: h.Attributes, FirstTimestamp: h.FirstTimestamp, ProducerID: h.ProducerID,
			ProducerEpoch: h.ProducerEpoch, BaseSequence: h.BaseSequence}
		out, err := AppendBatch(nil, spec, recs, h.Compression())
		if err != nil {
			t.Fatal(err)
		}
		h2, err := ValidateBatch(out, 1<<20)
		if err != nil {
			t.Fatalf("rebuilt batch: %v", err)
		}
		if h2.Attributes != h.Attributes || h2.NumRecords != h.NumRecords || h2.ProducerID != h.ProducerID {
			t.Fatalf("rebuilt header %+v, was %+v", h2, h)
		}
		for i, rec := range collect(t, out) {
			if err := sameRecord(rec, recs[i]); err != nil {
				t.Fatalf("record %d: %v", i, err)
			}
		}
	})
}

func FuzzDecompress(f *testing.F) {
	for _, gc := range goldenCodecs[1:] {
		f.Add(uint8(gc.codec), readFixture(f, "batch-"+gc.name+".bin")[BatchHeaderSize:])
	}
	f.Add(uint8(CodecSnappy), xerialFrame(bytes.Repeat([]byte("xerial"), 100), 64))
	f.Fuzz(func(t *testing.T, codec uint8, in []byte) {
		const limit = 1 << 20
		c := int8(codec%4) + 1
		out, err := Decompress(c, exact(in), nil, limit)
		if err == nil && len(out) > limit {
			t.Fatalf("%d bytes over the %d limit", len(out), limit)
		}
		// Under a budget: the same answer (or ErrBudget), never more
		// charged than the budget, and every charge given back.
		b := &testBudget{limit: 256 << 10}
		outB, charged, errB := decompress(c, exact(in), nil, limit, b)
		b.Release(charged)
		switch {
		case b.used != 0:
			t.Fatalf("%d bytes still charged", b.used)
		case b.max > b.limit:
			t.Fatalf("charged %d over the %d budget", b.max, b.limit)
		case errB == nil && (err != nil || !bytes.Equal(out, outB)):
			t.Fatalf("under a budget: %v, without: %v", errB, err)
		case errB != nil && !errors.Is(errB, ErrBudget) && (err == nil) != (errB == nil):
			t.Fatalf("under a budget: %v, without: %v", errB, err)
		}
		// decompress(compress(x)) == x.
		comp, err := Compress(c, in, nil)
		if err != nil {
			t.Fatal(err)
		}
		back, err := Decompress(c, exact(comp), nil, len(in))
		if err != nil || !bytes.Equal(back, in) {
			t.Fatalf("round trip codec %d: %v", c, err)
		}
	})
}
