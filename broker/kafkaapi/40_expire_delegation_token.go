package kafkaapi

import "github.com/twmb/franz-go/pkg/kmsg"

// expireDelegationToken answers key 40: DELEGATION_TOKEN_REQUEST_NOT_ALLOWED
// with Kafka's error timestamp -1 (38_create_delegation_token.go says why).
func (h *Handler) expireDelegationToken(r *request, req *kmsg.ExpireDelegationTokenRequest) {
	resp := req.ResponseKind().(*kmsg.ExpireDelegationTokenResponse)
	resp.ErrorCode, resp.ExpiryTimestamp = errTokenRequestNotAllowed, -1
	r.reply(resp)
}
