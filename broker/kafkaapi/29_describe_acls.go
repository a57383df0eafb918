package kafkaapi

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/broker/auth"
)

// noAuthorizer is Kafka's message when no authorizer is configured
// (AclApis.scala).
const noAuthorizer = "No Authorizer is configured on the broker"

// describeACLs answers key 29. Without an authorizer (--authorizer-enable
// off): SECURITY_DISABLED and no resources, as Kafka; UIs (kafka-ui, AKHQ,
// Redpanda Console) show their ACL page with that message instead of
// hiding it. With one: the ACLs the filter matches, grouped by resource
// pattern. The Describe on the cluster it needs is checked in
// authz_admin.go.
func (h *Handler) describeACLs(r *request, req *kmsg.DescribeACLsRequest) {
	resp := req.ResponseKind().(*kmsg.DescribeACLsResponse)
	if h.cfg.Authorizer == nil {
		resp.ErrorCode, resp.ErrorMessage = errSecurityDisabled, strp(noAuthorizer)
		r.reply(resp)
		return
	}
	f := aclFilter(req.Version, req.ResourceType, req.ResourceName, req.ResourcePatternType,
		req.Principal, req.Host, req.Operation, req.PermissionType)
	if err := f.Validate(); err != nil {
		resp.ErrorCode, resp.ErrorMessage = errInvalidRequest, strp(err.Error())
		r.reply(resp)
		return
	}
	type key struct {
		typ  auth.ResourceType
		name string
		pat  auth.PatternType
	}
	at := map[key]int{}
	for _, a := range h.cfg.Authorizer.Describe(f) {
		k := key{a.Resource, a.Name, a.Pattern}
		i, ok := at[k]
		if !ok {
			res := kmsg.NewDescribeACLsResponseResource()
			res.ResourceType, res.ResourceName = kmsg.ACLResourceType(a.Resource), a.Name
			res.ResourcePatternType = kmsg.ACLResourcePatternType(a.Pattern)
			i = len(resp.Resources)
			at[k] = i
			resp.Resources = append(resp.Resources, res)
		}
		acl := kmsg.NewDescribeACLsResponseResourceACL()
		acl.Principal, acl.Host = string(a.Principal), a.Host
		acl.Operation, acl.PermissionType = kmsg.ACLOperation(a.Operation), kmsg.ACLPermissionType(a.Permission)
		resp.Resources[i].ACLs = append(resp.Resources[i].ACLs, acl)
	}
	r.reply(resp)
}

// aclFilter converts a DescribeAcls or DeleteAcls filter. Version 0 has
// no pattern type: it means literal (KIP-290).
func aclFilter(version int16, typ kmsg.ACLResourceType, name *string, pat kmsg.ACLResourcePatternType,
	principal, host *string, op kmsg.ACLOperation, perm kmsg.ACLPermissionType,
) auth.Filter {
	if version == 0 {
		pat = kmsg.ACLResourcePatternTypeLiteral
	}
	return auth.Filter{Resource: auth.ResourceType(typ), Name: name, Pattern: auth.PatternType(pat),
		Principal: principal, Host: host, Operation: auth.Operation(op), Permission: auth.Permission(perm)}
}
