package nameserver

import (
	"net"

	"github.com/twinmq/twinmq/broker/auth"
	"github.com/twinmq/twinmq/netio"
	"github.com/twinmq/twinmq/wire/remoting"
)

// With Config.Accounts (aclEnable), the name server's destructive codes
// need an admin account, as the broker's do (broker/remotingapi/acl.go):
// DELETE_TOPIC_IN_NAMESRV (216), PUT_KV_CONFIG (100) and DELETE_KV_CONFIG
// (102), and UNREGISTER_BROKER (104) unless the registration secret
// already guards it (a twinmq broker signs it with the secret, not with an
// AccessKey). A request from a globally whitelisted address, or signed by
// an admin account (or from its whitelisted address), passes; anything
// else gets NO_PERMISSION (16) and changes nothing. The other codes
// (routes, cluster info) stay open, as RocketMQ's name server serves them.

// guardAdminCodes wraps the destructive codes' handlers (New calls it).
func (s *Server) guardAdminCodes() {
	if s.cfg.Accounts == nil {
		return
	}
	codes := []int32{remoting.DeleteTopicInNamesrv, putKVConfig, deleteKVConfig}
	if s.cfg.RegistrationSecret == "" {
		codes = append(codes, remoting.UnregisterBroker)
	}
	for _, code := range codes {
		if h := s.codes[code]; h != nil {
			s.codes[code] = s.adminOnly(h)
		}
	}
}

func (s *Server) adminOnly(h handlerFunc) handlerFunc {
	return func(c *netio.Conn, req *remoting.Command) *remoting.Command {
		id, err := s.cfg.Accounts.Authenticate(req.ExtFields, req.Body, remoteIP(c))
		if err == nil && !id.Trusted && !id.Admin {
			err = auth.ErrNotAdmin
		}
		if err != nil {
			s.log.Warn("admin request refused", "code", req.Code, "remote", c.RemoteAddr().String(), "err", err)
			return remoting.NewResponse(req, remoting.NoPermission, err.Error())
		}
		return h(c, req)
	}
}

// remoteIP is c's client address without the port.
func remoteIP(c *netio.Conn) string {
	addr := c.RemoteAddr()
	if addr == nil {
		return ""
	}
	if t, ok := addr.(*net.TCPAddr); ok {
		return t.IP.String()
	}
	host, _, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	return host
}
