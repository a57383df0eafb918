package kafkaapi

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/broker/auth"
)

// deleteACLs answers key 31. Without an authorizer, one SECURITY_DISABLED
// result per filter (DeleteAclsRequest.getErrorResponse). With one, each
// filter's matches are removed (one file write for the request) and
// listed in its result.
func (h *Handler) deleteACLs(r *request, req *kmsg.DeleteACLsRequest) {
	resp := req.ResponseKind().(*kmsg.DeleteACLsResponse)
	if h.cfg.Authorizer == nil {
		for range req.Filters {
			res := kmsg.NewDeleteACLsResponseResult()
			res.ErrorCode, res.ErrorMessage = errSecurityDisabled, strp(noAuthorizer)
			resp.Results = append(resp.Results, res)
		}
		r.reply(resp)
		return
	}
	filters := make([]auth.Filter, len(req.Filters))
	for i, f := range req.Filters {
		filters[i] = aclFilter(req.Version, f.ResourceType, f.ResourceName, f.ResourcePatternType,
			f.Principal, f.Host, f.Operation, f.PermissionType)
	}
	deleted, errs, err := h.cfg.Authorizer.Delete(filters)
	for i := range req.Filters {
		res := kmsg.NewDeleteACLsResponseResult()
		switch {
		case err != nil:
			res.ErrorCode, res.ErrorMessage = errUnknownServerError, strp(err.Error())
		case errs[i] != nil:
			res.ErrorCode, res.ErrorMessage = errInvalidRequest, strp(errs[i].Error())
		default:
			for _, a := range deleted[i] {
				m := kmsg.NewDeleteACLsResponseResultMatchingACL()
				m.ResourceType, m.ResourceName = kmsg.ACLResourceType(a.Resource), a.Name
				m.ResourcePatternType = kmsg.ACLResourcePatternType(a.Pattern)
				m.Principal, m.Host = string(a.Principal), a.Host
				m.Operation, m.PermissionType = kmsg.ACLOperation(a.Operation), kmsg.ACLPermissionType(a.Permission)
				res.MatchingACLs = append(res.MatchingACLs, m)
			}
		}
		resp.Results = append(resp.Results, res)
	}
	if err != nil {
		h.log.Error("kafkaapi: delete acls", "err", err)
	}
	r.reply(resp)
}
