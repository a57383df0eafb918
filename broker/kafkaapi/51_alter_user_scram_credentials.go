package kafkaapi

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/broker/auth"
)

// alterUserSCRAMCredentials answers key 51 (KIP-554): upserts (salt and
// salted password, as the client computed them; the password never
// travels) and deletes SCRAM credentials in Config.Users, durably. Each
// user's changes are checked together and applied all or none, one
// result per distinct user in request order, with Kafka's codes:
// UNSUPPORTED_SASL_MECHANISM for an unknown mechanism,
// UNACCEPTABLE_CREDENTIAL for an empty name, an empty salt or password,
// or iterations outside [4096, 16384], DUPLICATE_RESOURCE for a
// mechanism both deleted and upserted, RESOURCE_NOT_FOUND for deleting
// what does not exist. Without Config.Users nothing is stored:
// UNSUPPORTED_SASL_MECHANISM.
func (h *Handler) alterUserSCRAMCredentials(r *request, req *kmsg.AlterUserSCRAMCredentialsRequest) {
	resp := req.ResponseKind().(*kmsg.AlterUserSCRAMCredentialsResponse)
	var order []string
	changes := map[string][]auth.Change{}
	failed := map[string]int16{}
	msgs := map[string]string{}
	fail := func(user string, code int16, msg string) {
		if _, ok := failed[user]; !ok {
			failed[user], msgs[user] = code, msg
		}
	}
	note := func(user string) {
		if _, ok := changes[user]; !ok {
			order = append(order, user)
			changes[user] = nil
		}
	}
	seen := map[string]map[auth.Mechanism]bool{}
	mark := func(user string, m auth.Mechanism) {
		if seen[user] == nil {
			seen[user] = map[auth.Mechanism]bool{}
		}
		if seen[user][m] {
			fail(user, errDuplicateResource, "A user credential cannot be altered twice in the same request")
		}
		seen[user][m] = true
	}
	for _, d := range req.Deletions {
		note(d.Name)
		m, ok := scramMechanism(d.Mechanism)
		switch {
		case d.Name == "":
			fail(d.Name, errUnacceptableCredential, "Username must not be empty")
		case !ok:
			fail(d.Name, errUnsupportedSaslMechanism, "Unknown SCRAM mechanism")
		default:
			mark(d.Name, m)
			changes[d.Name] = append(changes[d.Name], auth.Change{Name: d.Name, Mechanism: m})
		}
	}
	for _, u := range req.Upsertions {
		note(u.Name)
		m, ok := scramMechanism(u.Mechanism)
		if u.Name == "" {
			fail(u.Name, errUnacceptableCredential, "Username must not be empty")
			continue
		}
		if !ok {
			fail(u.Name, errUnsupportedSaslMechanism, "Unknown SCRAM mechanism")
			continue
		}
		mark(u.Name, m)
		c, err := auth.NewCredential(m, u.Salt, u.SaltedPassword, int(u.Iterations))
		if err != nil {
			fail(u.Name, errUnacceptableCredential, credentialMessage(u.Iterations, err))
			continue
		}
		changes[u.Name] = append(changes[u.Name], auth.Change{Name: u.Name, Mechanism: m, Credential: &c})
	}
	for _, user := range order {
		res := kmsg.NewAlterUserSCRAMCredentialsResponseResult()
		res.User = user
		switch {
		case h.cfg.Users == nil:
			res.ErrorCode, res.ErrorMessage = errUnsupportedSaslMechanism, strp("this broker stores no SCRAM credentials")
		case failed[user] != 0:
			res.ErrorCode, res.ErrorMessage = failed[user], strp(msgs[user])
		default:
			if err := h.cfg.Users.Apply(changes[user]...); err != nil {
				res.ErrorCode, res.ErrorMessage = alterCredentialError(err)
			} else {
				h.log.Info("kafkaapi: SCRAM credentials altered", "user", user, "by", principalOf(r.conn), "changes", len(changes[user]))
			}
		}
		resp.Results = append(resp.Results, res)
	}
	r.reply(resp)
}

// credentialMessage is Kafka's text for a refused upsertion.
func credentialMessage(iterations int32, err error) string {
	switch {
	case iterations < auth.MinIterations:
		return "Too few iterations"
	case iterations > auth.MaxIterations:
		return "Too many iterations"
	}
	return err.Error()
}

// alterCredentialError maps a failed Apply to Kafka's code.
func alterCredentialError(err error) (int16, *string) {
	switch {
	case errors.Is(err, auth.ErrNoCredential):
		return errResourceNotFound, strp("Attempt to delete a user credential that does not exist")
	case errors.Is(err, auth.ErrBadCredential):
		return errUnacceptableCredential, strp(err.Error())
	}
	return errUnknownServerError, strp(fmt.Sprintf("storing credentials: %v", err))
}
