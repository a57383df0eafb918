package kafkaapi

import "github.com/twmb/franz-go/pkg/kmsg"

// endTxn answers key 26: commit or abort. The reply waits until every
// partition of the transaction has its marker, visible, and (commit) the
// transaction's offsets are stored: a consumer that reads after the
// reply sees the outcome. A retry of a completed EndTxn succeeds again.
// v5+ is KIP-890 part 2 (transaction.version 2, advertised in
// ApiVersions): every commit and abort bumps the producer's epoch (a new
// producer id when it is exhausted), the reply carries the producer id
// and epoch to go on with, and an abort with nothing open is legal.
func (h *Handler) endTxn(r *request, req *kmsg.EndTxnRequest) {
	resp := req.ResponseKind().(*kmsg.EndTxnResponse)
	ctx, cancel := requestContext(0)
	defer cancel()
	pid, epoch, err := h.cfg.Transactions.EndTxn(ctx, req.TransactionalID, req.ProducerID, req.ProducerEpoch,
		req.Commit, req.Version >= 5)
	if err != nil {
		h.log.Debug("kafkaapi: EndTxn", "transactionalId", req.TransactionalID, "commit", req.Commit, "err", err)
	}
	resp.ErrorCode = txnCode(err, fencedSince(req.Version, 2))
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	if resp.ErrorCode == errNone && req.Version >= 5 {
		resp.ProducerID, resp.ProducerEpoch = pid, epoch
	}
	r.reply(resp)
}
