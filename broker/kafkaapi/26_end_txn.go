package kafkaapi

import "github.com/twmb/franz-go/pkg/kmsg"

// endTxn answers key 26: commit or abort. The reply waits until every
// partition of the transaction has its marker, visible, and (commit) the
// transaction's offsets are stored: a consumer that reads after the
// reply sees the outcome. A retry of a completed EndTxn succeeds again.
func (h *Handler) endTxn(r *request, req *kmsg.EndTxnRequest) {
	resp := req.ResponseKind().(*kmsg.EndTxnResponse)
	ctx, cancel := requestContext(0)
	defer cancel()
	err := h.cfg.Transactions.EndTxn(ctx, req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit)
	if err != nil {
		h.log.Debug("kafkaapi: EndTxn", "transactionalId", req.TransactionalID, "commit", req.Commit, "err", err)
	}
	resp.ErrorCode = txnCode(err, fencedSince(req.Version, 2))
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	r.reply(resp)
}
