package kafkaapi

import "github.com/twmb/franz-go/pkg/kmsg"

// alterUserSCRAMCredentials answers key 51 (KIP-554) by refusing each
// user with UNSUPPORTED_SASL_MECHANISM: no listener authenticates with
// SCRAM until the security work lands, and a stored credential nobody
// can log in with would mislead. One result per distinct user, in
// request order, as Kafka answers.
func (h *Handler) alterUserSCRAMCredentials(r *request, req *kmsg.AlterUserSCRAMCredentialsRequest) {
	resp := req.ResponseKind().(*kmsg.AlterUserSCRAMCredentialsResponse)
	seen := map[string]bool{}
	add := func(user string) {
		if seen[user] {
			return
		}
		seen[user] = true
		res := kmsg.NewAlterUserSCRAMCredentialsResponseResult()
		res.User, res.ErrorCode = user, errUnsupportedSaslMechanism
		res.ErrorMessage = strp("twinmq does not serve SASL/SCRAM yet; nothing was stored")
		resp.Results = append(resp.Results, res)
	}
	for _, d := range req.Deletions {
		add(d.Name)
	}
	for _, u := range req.Upsertions {
		add(u.Name)
	}
	r.reply(resp)
}
