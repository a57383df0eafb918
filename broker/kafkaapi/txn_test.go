package kafkaapi

import (
	"testing"

	"github.com/twinmq/twinmq/broker/log"
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
