package kafkaapi

import (
	"sync"

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
