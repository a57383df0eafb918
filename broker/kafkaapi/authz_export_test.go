package kafkaapi

import (
	"github.com/twinmq/twinmq/broker/auth"
	"github.com/twinmq/twinmq/netio"
)

// SetConnPrincipal makes c's principal p, as authentication will (TLS,
// SASL): the tests' stand-in for it.
func SetConnPrincipal(c *netio.Conn, p auth.Principal) {
	if s, ok := c.Value().(*connState); ok {
		s.mu.Lock()
		s.principal = p
		s.mu.Unlock()
	}
}
