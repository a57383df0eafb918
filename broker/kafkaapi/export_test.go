package kafkaapi

import (
	"github.com/twinmq/twinmq/broker/auth"
	"github.com/twinmq/twinmq/netio"
)

// PrincipalOf exposes principalOf to the external tests.
func PrincipalOf(c *netio.Conn) auth.Principal { return principalOf(c) }
