package kafkaapi

import (
	"sync"
	"sync/atomic"

	"github.com/twinmq/twinmq/broker/auth"
	"github.com/twinmq/twinmq/netio"
)

// connState is what the adapter keeps per connection (netio.Conn's value,
// set by OnOpen):
// who the connection is. The authentication code (TLS client
// certificates, SASL) sets it; authorization reads it.
type connState struct {
	mu        sync.Mutex
	principal auth.Principal
	// upstream is a follower's connection to its master for this
	// client's forwarded requests (follower.go); nil until the first.
	upstream *upstream

	// sasl is the SASL exchange of this connection (sasl.go); mu guards
	// it too.
	sasl saslState

	// listener is the listener the connection came through (nil: the
	// Handler served as a netio.Handler itself, a PLAINTEXT listener).
	listener *Listener
	// gated: the connection may send only ApiVersions, SaslHandshake and
	// SaslAuthenticate (a SASL listener before authentication, or after
	// its KIP-368 session ended). rawTokens: after a v0 SaslHandshake the
	// client sends bare SASL tokens, not Kafka requests. sessionEnd:
	// UnixNano when the authenticated session ends (0: never). Atomic so
	// that every request checks them without the lock.
	gated      atomic.Bool
	rawTokens  atomic.Bool
	sessionEnd atomic.Int64
}

// principalOf is who c authenticated as: auth.Anonymous until it has.
func principalOf(c *netio.Conn) auth.Principal {
	s, ok := c.Value().(*connState)
	if !ok {
		return auth.Anonymous
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.principal
}

// stateOf is c's connState, or nil (also for a request without a
// connection).
func stateOf(c *netio.Conn) *connState {
	if c == nil {
		return nil
	}
	s, _ := c.Value().(*connState)
	return s
}
