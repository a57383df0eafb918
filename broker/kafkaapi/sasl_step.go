package kafkaapi

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/twinmq/twinmq/netio"
)

// errSaslState: a token with no exchange in progress.
var errSaslState = errors.New("no SASL exchange in progress: send SaslHandshake first")

// saslStep feeds a token to c's exchange. Once the mechanism is done the
// connection is authenticated: its principal set, its gate and frame
// bound lifted, its session end set (KIP-368). A re-authentication must
// keep the principal (Kafka refuses a changed one).
func (h *Handler) saslStep(st *connState, c *netio.Conn, token []byte) ([]byte, time.Duration, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	s := st.sasl.session
	if s == nil {
		return nil, 0, errSaslState
	}
	out, done, err := s.step(token)
	if err != nil {
		st.sasl.session = nil
		return out, 0, err
	}
	if !done {
		return out, 0, nil
	}
	st.sasl.session = nil
	p := s.principal()
	if st.sasl.authed && p != st.principal {
		return nil, 0, fmt.Errorf("%w: re-authentication as %s, not %s", errAuthFailed, p, st.principal)
	}
	now := h.cfg.Now()
	lifetime := h.saslSessionLifetime(s, now)
	st.principal, st.sasl.authed = p, true
	if lifetime > 0 {
		st.sessionEnd.Store(now.Add(lifetime).UnixNano())
	} else {
		st.sessionEnd.Store(0)
	}
	st.gated.Store(false)
	c.SetMaxFrame(0)
	h.log.Debug("kafkaapi: SASL authenticated", "conn", c.ID(), "remote", c.RemoteAddr(), "principal", p, "mechanism", st.sasl.mech)
	return out, lifetime, nil
}

// saslRawToken serves a bare token after a v0 SaslHandshake (no Kafka
// header): the reply is the server's token with a 4-byte length, and a
// failure closes the connection, as Kafka does for v0 clients.
func (h *Handler) saslRawToken(st *connState, c *netio.Conn, frame []byte, done func()) {
	defer done()
	out, _, err := h.saslStep(st, c, frame)
	if err != nil {
		h.log.Info("kafkaapi: SASL authentication failed", "conn", c.ID(), "remote", c.RemoteAddr(), "err", err)
		_ = c.Close()
		return
	}
	st.mu.Lock()
	finished := st.sasl.session == nil
	st.mu.Unlock()
	if finished {
		st.rawTokens.Store(false) // before the reply: the next frame is a request
	}
	_ = c.Write(binary.BigEndian.AppendUint32(nil, uint32(len(out))), out)
}

// saslGate reports whether a request with key may be served on c now: a
// SASL listener serves only the SASL keys and ApiVersions before the
// client authenticated and after its session ended (KIP-368: Kafka closes
// such a connection).
func (st *connState) saslGate(key int16, now time.Time) bool {
	if key == apiVersionsKey || key == saslHandshakeKey || key == saslAuthenticateKey {
		return true
	}
	if st.gated.Load() {
		return false
	}
	if end := st.sessionEnd.Load(); end != 0 && now.UnixNano() > end {
		return false
	}
	return true
}
