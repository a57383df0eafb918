package kafkaapi

import "github.com/twmb/franz-go/pkg/kmsg"

// saslHandshake answers key 17 as Kafka answers it on a listener without
// SASL (KafkaApis.handleSaslHandshakeRequest): ILLEGAL_SASL_STATE, with no
// mechanisms. A client configured for SASL so learns why it cannot log in
// instead of seeing its connection closed. Real SASL is the security work
// (docs/design.md section 7), which replaces this file.
func (h *Handler) saslHandshake(r *request, req *kmsg.SASLHandshakeRequest) {
	resp := req.ResponseKind().(*kmsg.SASLHandshakeResponse)
	resp.ErrorCode = errIllegalSaslState
	r.reply(resp)
}
