package kafkaapi

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/broker/txn"
)

// initProducerID answers key 22. Without a transactional id: a fresh
// producer id with epoch 0, as Kafka does (KIP-360 epoch bumps of an
// idempotent producer happen client-side and are accepted by produce).
// With one, the transaction coordinator decides (broker/txn.Init): an
// open transaction of the id is aborted and its producer fenced, the
// epoch bumped; v3+ may ask to keep the producer id at a given epoch
// (KIP-360), and a producer that is not the current one gets
// PRODUCER_FENCED (v4+, INVALID_PRODUCER_EPOCH before: KIP-588).
func (h *Handler) initProducerID(r *request, req *kmsg.InitProducerIDRequest) {
	resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
	if req.TransactionalID == nil {
		resp.ProducerID, resp.ProducerEpoch = h.producers.Allocate(), 0
		r.reply(resp)
		return
	}
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	switch {
	case !h.transactional():
		resp.ErrorCode = errCoordinatorNotAvailable
	case *req.TransactionalID == "":
		resp.ErrorCode = errInvalidRequest
	default:
		ctx, cancel := requestContext(0)
		defer cancel()
		ask := txn.InitRequest{TimeoutMs: req.TransactionTimeoutMillis, ProducerID: req.ProducerID, Epoch: req.ProducerEpoch}
		if req.Version < 3 {
			ask.ProducerID, ask.Epoch = -1, -1
		}
		pid, epoch, err := h.cfg.Transactions.InitProducer(ctx, *req.TransactionalID, ask)
		if resp.ErrorCode = txnCode(err, fencedSince(req.Version, 4)); resp.ErrorCode == errNone {
			resp.ProducerID, resp.ProducerEpoch = pid, epoch
		}
	}
	r.reply(resp)
}
