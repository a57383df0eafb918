package kafkaapi

import (
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/broker/log"
	"github.com/twinmq/twinmq/wire/kafka"
)

// TestControlBatchRoundTrip: the markers the coordinator writes read back
// as markers of their producer and type; a data batch is not one.
func TestControlBatchRoundTrip(t *testing.T) {
	for _, commit := range []bool{true, false} {
		b := controlBatch(42, 3, commit, 1000)
		got, ok := LoadTxnBatch(&log.Entry{Kind: log.KindKafka, Payload: b})
		if !ok || got != (log.TxnBatch{ProducerID: 42, Marker: true, Abort: !commit}) {
			t.Fatalf("commit %v: %+v %v", commit, got, ok)
		}
	}
	if _, ok := LoadTxnBatch(&log.Entry{Kind: log.KindRocketMQ, Payload: controlBatch(1, 0, true, 0)}); ok {
		t.Fatal("a RocketMQ entry read as a Kafka marker")
	}
}

// FuzzLoadTxnBatch: the transaction index's reader of stored batches
// (run on every entry of a partition's tail after a start) never panics,
// and a marker it finds is a control batch of a producer.
func FuzzLoadTxnBatch(f *testing.F) {
	f.Add(controlBatch(7, 1, true, 5))
	f.Add(controlBatch(7, 1, false, 5))
	f.Add([]byte{0, 1, 2})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, ok := LoadTxnBatch(&log.Entry{Kind: log.KindKafka, Payload: b})
		if ok && got.ProducerID < 0 {
			t.Fatalf("negative producer id %+v", got)
		}
	})
}

// FuzzParsePeerResponse: the decoder of another broker's answers
// (WriteTxnMarkers, AddPartitionsToTxn v5) never panics on any bytes, and
// reads back what a broker encodes.
func FuzzParsePeerResponse(f *testing.F) {
	wm := kmsg.NewPtrWriteTxnMarkersResponse()
	wm.Version = peerWriteTxnMarkersVersion
	m := kmsg.NewWriteTxnMarkersResponseMarker()
	m.ProducerID = 7
	mt := kmsg.NewWriteTxnMarkersResponseMarkerTopic()
	mt.Topic = "t"
	mp := kmsg.NewWriteTxnMarkersResponseMarkerTopicPartition()
	mp.Partition, mp.ErrorCode = 2, errInvalidProducerEpoch
	mt.Partitions = append(mt.Partitions, mp)
	m.Topics = append(m.Topics, mt)
	wm.Markers = append(wm.Markers, m)
	ap := kmsg.NewPtrAddPartitionsToTxnResponse()
	ap.Version = peerAddPartitionsToTxnVersion
	tx := kmsg.NewAddPartitionsToTxnResponseTransaction()
	tx.TransactionalID = "x"
	ap.Transactions = append(ap.Transactions, tx)
	for i, resp := range []kmsg.Response{wm, ap} {
		f.Add(uint8(i), kafka.AppendResponse(nil, 1, resp)[4:])
	}
	f.Add(uint8(0), []byte{0, 0, 0, 1, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		var req kmsg.Request = &kmsg.WriteTxnMarkersRequest{Version: peerWriteTxnMarkersVersion}
		if which%2 == 1 {
			req = &kmsg.AddPartitionsToTxnRequest{Version: peerAddPartitionsToTxnVersion}
		}
		resp, err := parsePeerResponse(req, 1, body)
		if err != nil {
			return
		}
		if resp.Key() != req.Key() || resp.GetVersion() != req.GetVersion() {
			t.Fatalf("response %d v%d to request %d v%d", resp.Key(), resp.GetVersion(), req.Key(), req.GetVersion())
		}
	})
}

// TestParsePeerResponse: a broker's encoded answer decodes whole; a wrong
// correlation id or a truncated body does not.
func TestParsePeerResponse(t *testing.T) {
	wm := kmsg.NewPtrWriteTxnMarkersResponse()
	wm.Version = peerWriteTxnMarkersVersion
	m := kmsg.NewWriteTxnMarkersResponseMarker()
	m.ProducerID = 9
	wm.Markers = append(wm.Markers, m)
	body := kafka.AppendResponse(nil, 1, wm)[4:]
	req := &kmsg.WriteTxnMarkersRequest{Version: peerWriteTxnMarkersVersion}
	resp, err := parsePeerResponse(req, 1, body)
	if err != nil || len(resp.(*kmsg.WriteTxnMarkersResponse).Markers) != 1 || resp.(*kmsg.WriteTxnMarkersResponse).Markers[0].ProducerID != 9 {
		t.Fatalf("decode: %+v %v", resp, err)
	}
	if _, err := parsePeerResponse(req, 2, body); !errors.Is(err, errPeerResponse) {
		t.Fatalf("wrong correlation id: %v", err)
	}
	for i := range len(body) - 1 {
		if _, err := parsePeerResponse(req, 1, body[:i]); !errors.Is(err, errPeerResponse) {
			t.Fatalf("truncated at %d: %v", i, err)
		}
	}
}
