package kafkaapi

import "github.com/twmb/franz-go/pkg/kmsg"

// createACLs answers key 30 as a Kafka broker without an authorizer
// (CreateAclsRequest.getErrorResponse): one SECURITY_DISABLED result per
// creation, in request order. Nothing is stored.
func (h *Handler) createACLs(r *request, req *kmsg.CreateACLsRequest) {
	resp := req.ResponseKind().(*kmsg.CreateACLsResponse)
	for range req.Creations {
		res := kmsg.NewCreateACLsResponseResult()
		res.ErrorCode, res.ErrorMessage = errSecurityDisabled, strp(noAuthorizer)
		resp.Results = append(resp.Results, res)
	}
	r.reply(resp)
}
