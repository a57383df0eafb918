package kafkaapi

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/broker/auth"
)

// Authorized operations (KIP-430): Metadata, DescribeGroups,
// ConsumerGroupDescribe and DescribeCluster can ask which operations the
// principal may do on each resource they describe. The answer is a bit
// field, bit i set for the operation with code i, over the operations
// that apply to the resource type (AclEntry.supportedOperations); it is
// filled in here, with an authorizer, when the request asks for it.

// notComputed is Kafka's value when the operations were not asked for.
const notComputed int32 = -2147483648

var supportedOps = map[auth.ResourceType][]auth.Operation{
	auth.ResourceTopic: {auth.OpRead, auth.OpWrite, auth.OpCreate, auth.OpDescribe, auth.OpDelete, auth.OpAlter,
		auth.OpDescribeConfigs, auth.OpAlterConfigs},
	auth.ResourceGroup: {auth.OpRead, auth.OpDescribe, auth.OpDelete, auth.OpDescribeConfigs, auth.OpAlterConfigs},
	auth.ResourceCluster: {auth.OpCreate, auth.OpClusterAction, auth.OpDescribeConfigs, auth.OpAlterConfigs,
		auth.OpIdempotentWrite, auth.OpAlter, auth.OpDescribe},
}

// authorizedOps is the KIP-430 bit field of what r's principal may do on
// (typ, name). It does not log: it asks about every operation.
func (r *request) authorizedOps(typ auth.ResourceType, name string) int32 {
	p, host := r.principal(), connHost(r.conn)
	var bits int32
	for _, op := range supportedOps[typ] {
		if r.h.cfg.Authorizer.Authorize(p, host, op, typ, name) {
			bits |= 1 << op
		}
	}
	return bits
}

func init() {
	regAuthz(60, func(h *Handler, r *request, q kmsg.Request) bool {
		if req := q.(*kmsg.DescribeClusterRequest); req.IncludeClusterAuthorizedOperations {
			r.addPatch(func(s kmsg.Response) {
				s.(*kmsg.DescribeClusterResponse).ClusterAuthorizedOperations = r.authorizedOps(auth.ResourceCluster, auth.ClusterName)
			})
		}
		return true
	})
}

// metadataOps fills Metadata's authorized operations when asked (called
// from authzMetadata's patch).
func metadataOps(r *request, req *kmsg.MetadataRequest, resp *kmsg.MetadataResponse) {
	if req.IncludeTopicAuthorizedOperations {
		for i := range resp.Topics {
			t := &resp.Topics[i]
			if t.ErrorCode == errNone && t.Topic != nil {
				t.AuthorizedOperations = r.authorizedOps(auth.ResourceTopic, *t.Topic)
			}
		}
	}
	if req.IncludeClusterAuthorizedOperations {
		resp.AuthorizedOperations = r.authorizedOps(auth.ResourceCluster, auth.ClusterName)
	}
}

// groupOps fills DescribeGroups' authorized operations when asked.
func groupOps(r *request, req *kmsg.DescribeGroupsRequest, resp *kmsg.DescribeGroupsResponse) {
	if !req.IncludeAuthorizedOperations {
		return
	}
	for i := range resp.Groups {
		if g := &resp.Groups[i]; g.ErrorCode == errNone {
			g.AuthorizedOperations = r.authorizedOps(auth.ResourceGroup, g.Group)
		}
	}
}
