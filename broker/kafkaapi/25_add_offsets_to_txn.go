package kafkaapi

import "github.com/twmb/franz-go/pkg/kmsg"

// addOffsetsToTxn answers key 25: the transaction will commit offsets of
// the group (TxnOffsetCommit follows). Kafka adds the group's
// __consumer_offsets partition to the transaction; here the group itself
// is recorded, and its offsets are written when the transaction commits.
func (h *Handler) addOffsetsToTxn(r *request, req *kmsg.AddOffsetsToTxnRequest) {
	resp := req.ResponseKind().(*kmsg.AddOffsetsToTxnResponse)
	if req.Group == "" {
		resp.ErrorCode = errInvalidGroupID
		r.reply(resp)
		return
	}
	ctx, cancel := requestContext(0)
	defer cancel()
	err := h.cfg.Transactions.AddOffsets(ctx, req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Group)
	resp.ErrorCode = txnCode(err, fencedSince(req.Version, 2))
	r.reply(resp)
}
