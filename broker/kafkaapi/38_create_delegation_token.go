package kafkaapi

import "github.com/twmb/franz-go/pkg/kmsg"

// Delegation tokens (KIP-48, keys 38-41) are only granted to connections
// authenticated by SASL (KafkaApis.allowTokenRequests): on a PLAINTEXT
// listener, and an SSL one without client certificates, Kafka answers
// DELEGATION_TOKEN_REQUEST_NOT_ALLOWED. Every twinmq listener is one of
// those until SASL lands, so keys 38-41 answer that, with Kafka's shapes.

// anonymous is the principal of an unauthenticated Kafka connection.
const anonymousType, anonymousName = "User", "ANONYMOUS"

// createDelegationToken answers key 38: no token, timestamps -1 and the
// owner (the request's, else the requester) echoed as Kafka does.
func (h *Handler) createDelegationToken(r *request, req *kmsg.CreateDelegationTokenRequest) {
	resp := req.ResponseKind().(*kmsg.CreateDelegationTokenResponse)
	resp.ErrorCode = errTokenRequestNotAllowed
	resp.PrincipalType, resp.PrincipalName = anonymousType, anonymousName
	if req.OwnerPrincipalName != nil && *req.OwnerPrincipalName != "" {
		resp.PrincipalName = *req.OwnerPrincipalName
		if req.OwnerPrincipalType != nil {
			resp.PrincipalType = *req.OwnerPrincipalType
		}
	}
	if req.Version >= 3 {
		resp.TokenRequesterPrincipalType, resp.TokenRequesterPrincipalName = anonymousType, anonymousName
	}
	resp.IssueTimestamp, resp.ExpiryTimestamp, resp.MaxTimestamp = -1, -1, -1
	resp.HMAC = []byte{}
	r.reply(resp)
}
