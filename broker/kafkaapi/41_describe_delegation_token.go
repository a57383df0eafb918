package kafkaapi

import "github.com/twmb/franz-go/pkg/kmsg"

// describeDelegationToken answers key 41: DELEGATION_TOKEN_REQUEST_NOT_ALLOWED
// and no tokens (38_create_delegation_token.go says why).
func (h *Handler) describeDelegationToken(r *request, req *kmsg.DescribeDelegationTokenRequest) {
	resp := req.ResponseKind().(*kmsg.DescribeDelegationTokenResponse)
	resp.ErrorCode = errTokenRequestNotAllowed
	r.reply(resp)
}
