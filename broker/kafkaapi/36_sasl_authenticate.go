package kafkaapi

import "github.com/twmb/franz-go/pkg/kmsg"

// saslAuthenticate answers key 36 as Kafka answers it once a connection
// needs no more authentication (KafkaApis.handleSaslAuthenticateRequest):
// ILLEGAL_SASL_STATE. Every twinmq listener is such a connection until the
// security work adds SASL.
func (h *Handler) saslAuthenticate(r *request, req *kmsg.SASLAuthenticateRequest) {
	resp := req.ResponseKind().(*kmsg.SASLAuthenticateResponse)
	resp.ErrorCode = errIllegalSaslState
	resp.ErrorMessage = strp("SaslAuthenticate request received after successful authentication")
	r.reply(resp)
}
