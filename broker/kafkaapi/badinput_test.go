package kafkaapi_test

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"net"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/broker/topics"
	"github.com/twinmq/twinmq/wire/kafka"
)

// Byte positions in a v2 record batch header (KIP-98).
const (
	batchMagicPos   = 16
	batchCRCPos     = 17
	batchCRCFrom    = 21 // the CRC covers attributes to the end
	batchNumRecsPos = 57
	batchRecordsPos = 61
)

// fixCRC recomputes a batch's CRC-32C after an edit.
func fixCRC(b []byte) []byte {
	crc := crc32.Checksum(b[batchCRCFrom:], crc32.MakeTable(crc32.Castagnoli))
	binary.BigEndian.PutUint32(b[batchCRCPos:], crc)
	return b
}

// produceOne sends one batch to topic/partition with acks -1 and returns
// the partition's error code.
func produceOne(rc *rawConn, topic string, part int32, batch []byte) int16 {
	req := kmsg.NewPtrProduceRequest()
	req.Version, req.Acks, req.TimeoutMillis = 9, -1, 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition, rp.Records = part, batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return rc.roundTrip(req).(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode
}

// TestProduceBadBatches: each bad batch gets Kafka's error code for it,
// on a connection that stays usable, and the partition keeps exactly the
// one good batch stored before.
func TestProduceBadBatches(t *testing.T) {
	b := startBroker(t)
	const topic = "bad"
	b.createTopic(t, topic, 1)
	small, err := b.reg.Create(t.Context(), topics.Config{Name: "small", Queues: 1, MaxMessageBytes: 200})
	if err != nil {
		t.Fatal(err)
	}
	rc := dial(t, b.addr)
	if code := produceOne(rc, topic, 0, testBatch(t, "good", 2)); code != 0 {
		t.Fatalf("good batch: error %d", code)
	}
	gzipped := func() []byte {
		recs := []kafka.Record{{Value: make([]byte, 300)}}
		spec := kafka.BatchSpec{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}
		out, err := kafka.AppendBatch(nil, spec, recs, kafka.CodecGzip)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	cases := []struct {
		name  string
		topic string
		part  int32
		batch func() []byte
		want  int16
	}{
		{"bad crc", topic, 0, func() []byte {
			bb := testBatch(t, "x", 2)
			bb[len(bb)-1] ^= 0xff
			return bb
		}, 2}, // CORRUPT_MESSAGE
		{"count above records", topic, 0, func() []byte {
			bb := testBatch(t, "x", 2)
			binary.BigEndian.PutUint32(bb[batchNumRecsPos:], 3)
			return fixCRC(bb)
		}, 2},
		{"count below records", topic, 0, func() []byte {
			bb := testBatch(t, "x", 2)
			binary.BigEndian.PutUint32(bb[batchNumRecsPos:], 1)
			return fixCRC(bb)
		}, 2},
		{"bad gzip", topic, 0, func() []byte {
			bb := gzipped()
			for i := batchRecordsPos + 2; i < len(bb); i++ {
				bb[i] ^= 0x5a
			}
			return fixCRC(bb)
		}, 2},
		{"truncated batch", topic, 0, func() []byte {
			bb := testBatch(t, "x", 2)
			return bb[:len(bb)-3]
		}, 2},
		{"two batches", topic, 0, func() []byte {
			return append(testBatch(t, "x", 1), testBatch(t, "y", 1)...)
		}, 87}, // INVALID_RECORD
		{"base offset not 0", topic, 0, func() []byte {
			bb := testBatch(t, "x", 1)
			binary.BigEndian.PutUint64(bb, 7)
			return bb // the CRC does not cover the base offset
		}, 87},
		{"magic 1", topic, 0, func() []byte {
			bb := testBatch(t, "x", 1)
			bb[batchMagicPos] = 1
			return bb
		}, 43}, // UNSUPPORTED_FOR_MESSAGE_FORMAT
		{"empty records", topic, 0, func() []byte { return nil }, 87},
		{"over max.message.bytes", small.Name, 0, func() []byte {
			recs := []kafka.Record{{Value: make([]byte, 300)}}
			bb, err := kafka.AppendBatch(nil, kafka.BatchSpec{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}, recs, kafka.CodecNone)
			if err != nil {
				t.Fatal(err)
			}
			return bb
		}, 10}, // MESSAGE_TOO_LARGE
		{"unknown partition", topic, 1, func() []byte { return testBatch(t, "x", 1) }, 3},
		{"negative partition", topic, -1, func() []byte { return testBatch(t, "x", 1) }, 3},
		{"unknown topic", "nope", 0, func() []byte { return testBatch(t, "x", 1) }, 3},
	}
	for _, c := range cases {
		if code := produceOne(rc, c.topic, c.part, c.batch()); code != c.want {
			t.Errorf("%s: error %d, want %d", c.name, code, c.want)
		}
	}
	var got []string
	readValues(t, b.store, topic, 0, func(v string) { got = append(got, v) })
	if !slices.Equal(got, []string{"good-0", "good-1"}) {
		t.Errorf("stored %q, want only the good batch", got)
	}
	if hi, err := b.store.MaxOffset(small.Name, 0); err == nil && hi != 0 {
		t.Errorf("%s holds %d records", small.Name, hi)
	}
}

// sendFrame writes one frame with the given size prefix and body.
func sendFrame(t *testing.T, c net.Conn, size int32, body []byte) {
	t.Helper()
	b := binary.BigEndian.AppendUint32(nil, uint32(size))
	if _, err := c.Write(append(b, body...)); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// header is a request header v1: key, version, correlation id, client id.
func header(key, version int16, corr int32) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(key))
	b = binary.BigEndian.AppendUint16(b, uint16(version))
	b = binary.BigEndian.AppendUint32(b, uint32(corr))
	return binary.BigEndian.AppendUint16(b, 0xffff) // null client id
}

// closedByPeer reports whether err means the broker closed the connection.
func closedByPeer(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.ErrUnexpectedEOF)
}

// TestBadFrames: frames Kafka cannot answer close the connection (as
// Kafka's SocketServer does); ApiVersions at an unknown version gets
// KIP-511's answer; another connection keeps being served throughout, and
// nothing is stored.
func TestBadFrames(t *testing.T) {
	b := startBroker(t)
	b.createTopic(t, "t", 1)
	health := dial(t, b.addr)
	health.roundTrip(kmsg.NewPtrMetadataRequest())

	closes := []struct {
		name string
		send func(c net.Conn)
	}{
		{"over the limit", func(c net.Conn) { sendFrame(t, c, 100<<20+1, nil) }},
		{"negative size", func(c net.Conn) { sendFrame(t, c, -1, nil) }},
		{"shorter than a header", func(c net.Conn) { sendFrame(t, c, 5, []byte{0, 3, 0, 1, 0}) }},
		{"unknown key", func(c net.Conn) { h := header(999, 0, 1); sendFrame(t, c, int32(len(h)), h) }},
		{"unserved key", func(c net.Conn) { h := header(24, 0, 1); sendFrame(t, c, int32(len(h)), h) }},
		{"unknown version", func(c net.Conn) { h := header(0, 99, 1); sendFrame(t, c, int32(len(h)), h) }},
		{"truncated body", func(c net.Conn) {
			req := kmsg.NewPtrProduceRequest()
			req.Version = 8
			body := append(header(0, 8, 1), req.AppendTo(nil)...)
			body = body[:len(body)-3]
			sendFrame(t, c, int32(len(body)), body)
		}},
		{"truncated client id", func(c net.Conn) {
			h := header(3, 1, 1)
			h = append(h[:8], 0, 40, 'x')
			sendFrame(t, c, int32(len(h)), h)
		}},
	}
	for _, tc := range closes {
		rc := dial(t, b.addr)
		tc.send(rc.c)
		if resp, err := rc.readFrame(10 * time.Second); !closedByPeer(err) {
			t.Errorf("%s: got %d bytes, %v; want the connection closed", tc.name, len(resp), err)
		}
		health.roundTrip(kmsg.NewPtrMetadataRequest())
	}

	rc := dial(t, b.addr)
	h := header(18, 99, 42)
	sendFrame(t, rc.c, int32(len(h)), h)
	raw, err := rc.readFrame(10 * time.Second)
	if err != nil {
		t.Fatalf("ApiVersions v99: %v", err)
	}
	v0 := kmsg.NewPtrApiVersionsRequest() // v0: the body a client can always read
	resp, corr, err := decodeResponse(v0, raw)
	if err != nil || corr != 42 {
		t.Fatalf("ApiVersions v99: corr %d, %v", corr, err)
	}
	av := resp.(*kmsg.ApiVersionsResponse)
	if av.ErrorCode != 35 || len(av.ApiKeys) != 1 || av.ApiKeys[0].ApiKey != 18 {
		t.Errorf("ApiVersions v99: error %d, keys %+v; want 35 and key 18's range", av.ErrorCode, av.ApiKeys)
	}
	rc.roundTrip(kmsg.NewPtrMetadataRequest()) // and the connection stays open
	if hi, err := b.store.MaxOffset("t", 0); err == nil && hi != 0 {
		t.Errorf("bad frames stored %d records", hi)
	}
}
