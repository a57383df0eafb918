package kafkaapi

import "github.com/twmb/franz-go/pkg/kmsg"

// describeUserSCRAMCredentials answers key 50 (KIP-554). twinmq has no
// SCRAM users until SASL lands, so "all users" is an empty list and each
// named user RESOURCE_NOT_FOUND, a user named twice DUPLICATE_RESOURCE,
// with Kafka's messages (ZkAdminManager.describeUserScramCredentials).
func (h *Handler) describeUserSCRAMCredentials(r *request, req *kmsg.DescribeUserSCRAMCredentialsRequest) {
	resp := req.ResponseKind().(*kmsg.DescribeUserSCRAMCredentialsResponse)
	count := map[string]int{}
	for _, u := range req.Users {
		count[u.Name]++
	}
	done := map[string]bool{}
	for _, u := range req.Users {
		if done[u.Name] {
			continue
		}
		done[u.Name] = true
		res := kmsg.NewDescribeUserSCRAMCredentialsResponseResult()
		res.User = u.Name
		if count[u.Name] > 1 {
			res.ErrorCode, res.ErrorMessage = errDuplicateResource, strp("Cannot describe SCRAM credentials for the same user twice in a single request: "+u.Name)
		} else {
			res.ErrorCode, res.ErrorMessage = errResourceNotFound, strp("Attempt to describe a user credential that does not exist: "+u.Name)
		}
		resp.Results = append(resp.Results, res)
	}
	r.reply(resp)
}
