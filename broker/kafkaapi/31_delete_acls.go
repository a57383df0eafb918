package kafkaapi

import "github.com/twmb/franz-go/pkg/kmsg"

// deleteACLs answers key 31 as a Kafka broker without an authorizer
// (DeleteAclsRequest.getErrorResponse): one SECURITY_DISABLED result per
// filter, with no matching ACLs.
func (h *Handler) deleteACLs(r *request, req *kmsg.DeleteACLsRequest) {
	resp := req.ResponseKind().(*kmsg.DeleteACLsResponse)
	for range req.Filters {
		res := kmsg.NewDeleteACLsResponseResult()
		res.ErrorCode, res.ErrorMessage = errSecurityDisabled, strp(noAuthorizer)
		resp.Results = append(resp.Results, res)
	}
	r.reply(resp)
}
