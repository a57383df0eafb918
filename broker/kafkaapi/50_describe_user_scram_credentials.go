package kafkaapi

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/broker/auth"
)

// scramMechanismCodes are KIP-554's mechanism numbers.
var scramMechanismCodes = map[auth.Mechanism]int8{auth.ScramSHA256: 1, auth.ScramSHA512: 2}

func scramMechanism(code int8) (auth.Mechanism, bool) {
	for m, c := range scramMechanismCodes {
		if c == code {
			return m, true
		}
	}
	return "", false
}

// describeUserSCRAMCredentials answers key 50 (KIP-554) from
// Config.Users: each user's mechanisms and iteration counts (never salts
// or keys). No users named (null or empty) means all of them; a named
// user without credentials gets RESOURCE_NOT_FOUND, one named twice
// DUPLICATE_RESOURCE, with Kafka's messages.
func (h *Handler) describeUserSCRAMCredentials(r *request, req *kmsg.DescribeUserSCRAMCredentialsRequest) {
	resp := req.ResponseKind().(*kmsg.DescribeUserSCRAMCredentialsResponse)
	users := h.cfg.Users
	describe := func(name string) kmsg.DescribeUserSCRAMCredentialsResponseResult {
		res := kmsg.NewDescribeUserSCRAMCredentialsResponseResult()
		res.User = name
		var mechs map[auth.Mechanism]int
		if users != nil {
			mechs = users.Mechanisms(name)
		}
		if len(mechs) == 0 {
			res.ErrorCode, res.ErrorMessage = errResourceNotFound, strp("Attempt to describe a user credential that does not exist: "+name)
			return res
		}
		for _, m := range []auth.Mechanism{auth.ScramSHA256, auth.ScramSHA512} {
			if it, ok := mechs[m]; ok {
				ci := kmsg.NewDescribeUserSCRAMCredentialsResponseResultCredentialInfo()
				ci.Mechanism, ci.Iterations = scramMechanismCodes[m], int32(it)
				res.CredentialInfos = append(res.CredentialInfos, ci)
			}
		}
		return res
	}
	if len(req.Users) == 0 {
		if users != nil {
			for _, name := range users.Names() {
				resp.Results = append(resp.Results, describe(name))
			}
		}
		r.reply(resp)
		return
	}
	count := map[string]int{}
	for _, u := range req.Users {
		count[u.Name]++
	}
	var done []string
	for _, u := range req.Users {
		if slices.Contains(done, u.Name) {
			continue
		}
		done = append(done, u.Name)
		if count[u.Name] > 1 {
			res := kmsg.NewDescribeUserSCRAMCredentialsResponseResult()
			res.User = u.Name
			res.ErrorCode, res.ErrorMessage = errDuplicateResource, strp("Cannot describe SCRAM credentials for the same user twice in a single request: "+u.Name)
			resp.Results = append(resp.Results, res)
			continue
		}
		resp.Results = append(resp.Results, describe(u.Name))
	}
	r.reply(resp)
}
