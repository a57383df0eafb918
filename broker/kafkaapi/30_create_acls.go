package kafkaapi

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/broker/auth"
)

// createACLs answers key 30. Without an authorizer, one SECURITY_DISABLED
// result per creation (CreateAclsRequest.getErrorResponse) and nothing is
// stored. With one, the valid creations are stored durably (one file
// write for the request) before the answer; an invalid one gets
// INVALID_REQUEST, a failed write UNKNOWN_SERVER_ERROR for all.
func (h *Handler) createACLs(r *request, req *kmsg.CreateACLsRequest) {
	resp := req.ResponseKind().(*kmsg.CreateACLsResponse)
	if h.cfg.Authorizer == nil {
		for range req.Creations {
			res := kmsg.NewCreateACLsResponseResult()
			res.ErrorCode, res.ErrorMessage = errSecurityDisabled, strp(noAuthorizer)
			resp.Results = append(resp.Results, res)
		}
		r.reply(resp)
		return
	}
	acls := make([]auth.ACL, len(req.Creations))
	for i, c := range req.Creations {
		pat := c.ResourcePatternType
		if req.Version == 0 {
			pat = kmsg.ACLResourcePatternTypeLiteral
		}
		acls[i] = auth.ACL{Resource: auth.ResourceType(c.ResourceType), Name: c.ResourceName,
			Pattern: auth.PatternType(pat), Principal: auth.Principal(c.Principal), Host: c.Host,
			Operation: auth.Operation(c.Operation), Permission: auth.Permission(c.PermissionType)}
	}
	errs, err := h.cfg.Authorizer.Create(acls)
	for i := range req.Creations {
		res := kmsg.NewCreateACLsResponseResult()
		switch {
		case err != nil:
			res.ErrorCode, res.ErrorMessage = errUnknownServerError, strp(err.Error())
		case errs[i] != nil:
			res.ErrorCode, res.ErrorMessage = errInvalidRequest, strp(errs[i].Error())
		}
		resp.Results = append(resp.Results, res)
	}
	if err != nil {
		h.log.Error("kafkaapi: create acls", "err", err)
	} else {
		h.log.Info("kafkaapi: acls created", "principal", r.principal(), "count", len(acls))
	}
	r.reply(resp)
}
