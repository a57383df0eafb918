package kafkaapi

import "github.com/twmb/franz-go/pkg/kmsg"

// renewDelegationToken answers key 39: DELEGATION_TOKEN_REQUEST_NOT_ALLOWED
// with Kafka's error timestamp -1 (38_create_delegation_token.go says why).
func (h *Handler) renewDelegationToken(r *request, req *kmsg.RenewDelegationTokenRequest) {
	resp := req.ResponseKind().(*kmsg.RenewDelegationTokenResponse)
	resp.ErrorCode, resp.ExpiryTimestamp = errTokenRequestNotAllowed, -1
	r.reply(resp)
}
