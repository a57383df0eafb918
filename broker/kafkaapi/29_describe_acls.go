package kafkaapi

import "github.com/twmb/franz-go/pkg/kmsg"

// noAuthorizer is Kafka's message when no authorizer is configured
// (AclApis.scala), the state of every twinmq broker until ACLs land.
const noAuthorizer = "No Authorizer is configured on the broker"

// describeACLs answers key 29 as a Kafka broker without an authorizer:
// SECURITY_DISABLED and no resources. UIs (kafka-ui, AKHQ, Redpanda
// Console) show their ACL page with that message instead of hiding it.
func (h *Handler) describeACLs(r *request, req *kmsg.DescribeACLsRequest) {
	resp := req.ResponseKind().(*kmsg.DescribeACLsResponse)
	resp.ErrorCode, resp.ErrorMessage = errSecurityDisabled, strp(noAuthorizer)
	r.reply(resp)
}
