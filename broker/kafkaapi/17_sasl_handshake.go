package kafkaapi

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

// saslHandshake answers key 17 (KIP-43; v1 KIP-152). On a listener
// without SASL it answers as Kafka does there: ILLEGAL_SASL_STATE with no
// mechanisms. On a SASL listener it starts an exchange with the mechanism
// asked for (UNSUPPORTED_SASL_MECHANISM and the enabled list if not
// enabled), also on a connection that authenticated before
// (re-authentication, KIP-368). After v0 the client sends bare tokens
// (sasl_raw.go); after v1, SaslAuthenticate requests.
func (h *Handler) saslHandshake(r *request, req *kmsg.SASLHandshakeRequest) {
	resp := req.ResponseKind().(*kmsg.SASLHandshakeResponse)
	st := stateOf(r.conn)
	if st == nil || st.listener == nil || !st.listener.proto.SASL() {
		resp.ErrorCode = errIllegalSaslState
		r.reply(resp)
		return
	}
	resp.SupportedMechanisms = h.cfg.SASLMechanisms
	st.mu.Lock()
	switch {
	case st.sasl.session != nil:
		resp.ErrorCode = errIllegalSaslState // an exchange is in progress
	case st.sasl.authed && req.Version == 0:
		resp.ErrorCode = errIllegalSaslState // re-authentication needs v1 (KIP-368)
	case !h.saslEnabled(req.Mechanism):
		resp.ErrorCode = errUnsupportedSaslMechanism
	default:
		st.sasl.mech, st.sasl.session = req.Mechanism, h.newSession(req.Mechanism)
	}
	st.mu.Unlock()
	if resp.ErrorCode != errNone {
		// Kafka closes the connection after a failed handshake.
		r.reply(resp)
		_ = r.conn.Close()
		return
	}
	if req.Version == 0 {
		st.rawTokens.Store(true) // before the reply: the next frame is a token
	}
	r.reply(resp)
}
