package kafkaapi

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

// shareAcknowledge answers key 79 (KIP-932): acknowledgements outside a
// fetch, in the member's share session (epoch 0 is refused: they never
// open one; -1 closes it after the acknowledgements, and what the member
// still holds goes back). Each partition's acknowledgements apply as one
// step: all of them, or none and INVALID_RECORD_STATE.
func (h *Handler) shareAcknowledge(r *request, req *kmsg.ShareAcknowledgeRequest) {
	resp := req.ResponseKind().(*kmsg.ShareAcknowledgeResponse)
	m := shareMember{deref(req.GroupID), deref(req.MemberID)}
	if m.group == "" || m.member == "" {
		resp.ErrorCode, resp.ErrorMessage = errInvalidRequest, strp("group and member ids are required")
		r.reply(resp)
		return
	}
	if code := h.notCoordinator(m.group); code != errNone {
		resp.ErrorCode = code
		r.reply(resp)
		return
	}
	st := h.shareSettings(m.group)
	resp.AcquisitionLockTimeoutMillis = int32(st.lock.Milliseconds())
	if code := h.share.ackStep(m, req.ShareSessionEpoch); code != errNone {
		resp.ErrorCode = code
		r.reply(resp)
		return
	}
	ctx, cancel := requestContext(0)
	defer cancel()
	for _, t := range req.Topics {
		rt := kmsg.NewShareAcknowledgeResponseTopic()
		rt.TopicID = t.TopicID
		c, ok := h.shareTopicByID(t.TopicID)
		for _, p := range t.Partitions {
			rp := kmsg.NewShareAcknowledgeResponseTopicPartition()
			rp.Partition = p.Partition
			rp.CurrentLeader.LeaderID, rp.CurrentLeader.LeaderEpoch = h.cfg.NodeID, h.leaderEpoch()
			if !ok {
				rp.ErrorCode = errUnknownTopicID
			} else {
				batches := make([]shareAckBatch, len(p.AcknowledgementBatches))
				for i, b := range p.AcknowledgementBatches {
					batches[i] = shareAckBatch{b.FirstOffset, b.LastOffset, b.AcknowledgeTypes}
				}
				rp.ErrorCode = h.shareSettle(ctx, m, c, p.Partition, batches, req.IsRenewAck, st)
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	if req.ShareSessionEpoch == -1 {
		h.releaseMember(ctx, m)
	}
	r.reply(resp)
}
