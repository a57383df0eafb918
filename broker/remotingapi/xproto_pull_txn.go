package remotingapi

import (
	"github.com/twinmq/twinmq/broker/log"
	"github.com/twinmq/twinmq/wire/kafka"
	"github.com/twinmq/twinmq/wire/remoting"
)

// Kafka transactions seen by RocketMQ consumers (docs/transactions-kafka.md):
// a pull reads a queue as a read_committed Kafka consumer does. It never
// reads past the last stable offset (the first record of the oldest open
// transaction), and it drops the records of aborted transactions; the
// COMMIT/ABORT markers themselves never become messages (wire/xproto).
// The offsets they take are still offsets: nextBeginOffset moves past
// them as past filtered messages.

// txnView is what a pull knows of a queue's transactions: the aborted
// ones overlapping what it reads. The zero value skips nothing.
type txnView struct {
	abortedTxns []log.AbortedTxn
}

// aborted reports whether e is a batch of an aborted transaction.
func (v txnView) aborted(e *log.Entry) bool {
	if len(v.abortedTxns) == 0 {
		return false
	}
	h, err := kafka.ParseBatchHeader(e.Payload)
	if err != nil || !h.IsTransactional() || h.IsControl() {
		return false
	}
	for _, a := range v.abortedTxns {
		if a.ProducerID == h.ProducerID && a.FirstOffset <= e.QueueOffset && e.QueueOffset <= a.LastOffset {
			return true
		}
	}
	return false
}

// pullStable bounds r's read at the queue's last stable offset and
// returns the aborted transactions to skip; held is the answer for a
// pull that stands at the LSO while the queue goes further: nothing to
// read yet, and a long poll waits for the queue to grow (the marker).
func (b *Broker) pullStable(r *pullRequest, opt *log.ReadOptions) (txnView, *pullResult) {
	if b.cfg.Txns == nil {
		return txnView{}, nil
	}
	t, ok := b.topics.Get(r.topic)
	if !ok {
		return txnView{}, nil
	}
	start, end, err := b.logs.Range(r.topic, r.queueID)
	if err != nil || r.offset < start || r.offset >= end {
		return txnView{}, nil // the read reports the range
	}
	lso, aborted, err := b.cfg.Txns.Stable(log.PartKey{TopicID: t.ID, Queue: r.queueID}, r.topic, start, r.offset, end)
	if err != nil || lso >= end {
		return txnView{abortedTxns: aborted}, nil
	}
	if r.offset >= lso {
		return txnView{}, &pullResult{code: remoting.PullNotFound, status: "OFFSET_OVERFLOW_ONE",
			next: r.offset, min: start, max: end, waitAt: end}
	}
	opt.Until = lso
	return txnView{abortedTxns: aborted}, nil
}
