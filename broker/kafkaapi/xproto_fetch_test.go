package kafkaapi

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/wire/kafka"
)

// The spliced response, as the client reads it, is the response kmsg
// would have encoded with the batches in place: for every Fetch version,
// flexible or not, and for data of every length-prefix size.
func TestSpliceParts(t *testing.T) {
	data := [][][]byte{
		{[]byte("first batch"), bytes.Repeat([]byte{7}, 200)},
		{bytes.Repeat([]byte{9}, 70_000)},
		{[]byte("x")},
	}
	for v := int16(4); v <= 16; v++ {
		m := newFetchMarkers()
		resp := kmsg.NewPtrFetchResponse()
		resp.SetVersion(v)
		want := kmsg.NewPtrFetchResponse()
		want.SetVersion(v)
		for ti, name := range []string{"a", "b"} {
			rt, wt := kmsg.NewFetchResponseTopic(), kmsg.NewFetchResponseTopic()
			rt.Topic, wt.Topic = name, name
			for pi := range 2 {
				rp := kmsg.NewFetchResponseTopicPartition()
				rp.Partition, rp.HighWatermark = int32(pi), 42
				wp := rp
				if i := ti*2 + pi; i < len(data) {
					rp.RecordBatches = m.marker(i)
					wp.RecordBatches = bytes.Join(data[i], nil)
				}
				rt.Partitions, wt.Partitions = append(rt.Partitions, rp), append(wt.Partitions, wp)
			}
			resp.Topics, want.Topics = append(resp.Topics, rt), append(want.Topics, wt)
		}
		enc := kafka.AppendResponse(nil, 77, resp)
		bufs, ok := spliceParts(enc, &m, data, resp.IsFlexible())
		if !ok {
			t.Fatalf("v%d: markers not found", v)
		}
		got := bytes.Join(bufs, nil)
		if exp := kafka.AppendResponse(nil, 77, want); !bytes.Equal(got, exp) {
			t.Fatalf("v%d: spliced %d bytes differ from kmsg's %d", v, len(got), len(exp))
		}
		if int(binary.BigEndian.Uint32(got)) != len(got)-4 {
			t.Fatalf("v%d: frame length %d for %d bytes", v, binary.BigEndian.Uint32(got), len(got)-4)
		}
	}
}

// Markers that are not where expected fall back to copying.
func TestSplicePartsMissingMarker(t *testing.T) {
	m := newFetchMarkers()
	resp := kmsg.NewPtrFetchResponse()
	resp.SetVersion(12)
	enc := kafka.AppendResponse(nil, 1, resp)
	if _, ok := spliceParts(enc, &m, [][][]byte{{[]byte("x")}}, true); ok {
		t.Fatal("spliced a response without markers")
	}
	rt := kmsg.NewFetchResponseTopic()
	rp := kmsg.NewFetchResponseTopicPartition()
	rp.RecordBatches = m.marker(0)
	rt.Partitions = append(rt.Partitions, rp)
	resp.Topics = append(resp.Topics, rt)
	fillParts(resp, &m, [][][]byte{{[]byte("ab"), []byte("c")}})
	if string(resp.Topics[0].Partitions[0].RecordBatches) != "abc" {
		t.Fatalf("fillParts: %q", resp.Topics[0].Partitions[0].RecordBatches)
	}
}
