package kafkaapi

import "github.com/twmb/franz-go/pkg/kmsg"

// initProducerID answers key 22 for idempotent producers: always a fresh
// producer id with epoch 0, as Kafka does without a transactional id
// (KIP-360 epoch bumps happen client-side and are accepted by produce).
// Transactional ids need the transaction coordinator (another issue).
func (h *Handler) initProducerID(r *request, req *kmsg.InitProducerIDRequest) {
	resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
	if req.TransactionalID != nil {
		resp.ErrorCode, resp.ProducerID, resp.ProducerEpoch = errCoordinatorNotAvailable, -1, -1
		r.reply(resp)
		return
	}
	resp.ProducerID, resp.ProducerEpoch = h.producers.Allocate(), 0
	r.reply(resp)
}
