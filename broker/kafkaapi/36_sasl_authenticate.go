package kafkaapi

import (
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// saslAuthenticate answers key 36 (KIP-152; v1 session lifetime, KIP-368):
// the next token of the exchange SaslHandshake started. A refused one gets
// SASL_AUTHENTICATION_FAILED with the reason and the connection closes, as
// Kafka closes it; on a listener without SASL, or with no exchange in
// progress, ILLEGAL_SASL_STATE.
func (h *Handler) saslAuthenticate(r *request, req *kmsg.SASLAuthenticateRequest) {
	resp := req.ResponseKind().(*kmsg.SASLAuthenticateResponse)
	st := stateOf(r.conn)
	if st == nil || st.listener == nil || !st.listener.proto.SASL() {
		resp.ErrorCode = errIllegalSaslState
		resp.ErrorMessage = strp("SaslAuthenticate request received after successful authentication")
		r.reply(resp)
		return
	}
	out, lifetime, err := h.saslStep(st, r.conn, req.SASLAuthBytes)
	switch {
	case errors.Is(err, errSaslState):
		resp.ErrorCode, resp.ErrorMessage = errIllegalSaslState, strp(err.Error())
	case err != nil:
		resp.ErrorCode, resp.ErrorMessage = errSaslAuthenticationFailed, strp(err.Error())
	default:
		resp.SASLAuthBytes = out
		if req.Version >= 1 {
			resp.SessionLifetimeMillis = lifetime.Milliseconds()
		}
	}
	if err != nil {
		h.log.Info("kafkaapi: SASL authentication failed", "conn", r.conn.ID(), "remote", r.conn.RemoteAddr(), "err", err)
		r.reply(resp)
		_ = r.conn.Close()
		return
	}
	r.reply(resp)
}

// saslSessionLifetime is how long a session authenticated now lasts
// (KIP-368): Config.ReauthMs, shortened to a token's expiry; 0: forever.
func (h *Handler) saslSessionLifetime(s saslSession, now time.Time) time.Duration {
	d := time.Duration(h.cfg.ReauthMs) * time.Millisecond
	if t := s.lifetime(now); t > 0 && (d == 0 || t < d) {
		d = t
	}
	return d
}
