package remotingapi

import (
	"fmt"
	"net"
	"strings"

	"github.com/twinmq/twinmq/broker/auth"
	"github.com/twinmq/twinmq/netio"
	"github.com/twinmq/twinmq/wire/remoting"
)

// RocketMQ ACL (the acl plugin's PlainAccessValidator), with Config.Accounts
// set (aclEnable): every request must be signed by an account
// (auth.Accounts.Authenticate: AccessKey, Signature over the ext fields and
// body) unless it comes from a whitelisted address; then the resources it
// names are checked against the ACL store shared with Kafka, for the
// account's principal User:<name>:
//
//	send (10, 310, 320)            Write on the topic; to a %RETRY% topic,
//	                               Read on its group
//	pull (11)                      Read on the topic and the group
//	query (12)                     Read on the topic
//	offsets (14, 15)               Read on the topic and the group
//	consumer list (38), send back (36), unregister (35)
//	                               Read on the group
//	admin (17, 25, 200, 207, 215, 220, 222, 19601; the ACL admin
//	requests 50, 51, 53: acl_admin.go)
//	                               an admin account
//
// Anything else (heartbeats, offsets lookups, lock, transactions, stats) needs
// a valid signature only, as RocketMQ checks them. A refusal is
// NO_PERMISSION (16) with the reason, and the request is not served.

// adminCodes need an admin account: what can delete or reset data or
// change the broker (RocketMQ's adminPermissions, and offset resets).
var adminCodes = map[int32]bool{
	remoting.UpdateAndCreateTopic:      true,
	updateBrokerConfig:                 true,
	200:                                true, // UPDATE_AND_CREATE_SUBSCRIPTIONGROUP
	deleteSubscriptionGroup:            true,
	remoting.DeleteTopicInBroker:       true,
	remoting.ResetConsumerClientOffset: true,
	InvokeBrokerToResetOffset:          true,
	ResendDLQ:                          true,
	updateAndCreateACLConfig:           true, // acl_admin.go
	deleteACLConfig:                    true,
	updateGlobalWhiteAddrsConfig:       true,
}

// need is one resource a request names.
type need struct {
	op   auth.Operation
	typ  auth.ResourceType
	name string
}

// needs lists the resources of a request (nil: a signature suffices).
func needs(code int32, f map[string]string) []need {
	topic := func(op auth.Operation, name string) need { return need{op, auth.ResourceTopic, name} }
	group := func(name string) need { return need{auth.OpRead, auth.ResourceGroup, name} }
	var out []need
	switch code {
	case remoting.SendMessage, remoting.SendMessageV2, remoting.SendBatchMessage:
		h := sendHeader(f)
		t := h.str("topic")
		if g, ok := strings.CutPrefix(t, retryGroupPrefix); ok {
			return []need{group(g)}
		}
		out = append(out, topic(auth.OpWrite, t))
	case remoting.PullMessage, remoting.QueryConsumerOffset, remoting.UpdateConsumerOffset:
		out = append(out, topic(auth.OpRead, f["topic"]), group(f["consumerGroup"]))
	case remoting.QueryMessage:
		out = append(out, topic(auth.OpRead, f["topic"]))
	case remoting.GetConsumerListByGroup:
		out = append(out, group(f["consumerGroup"]))
	case remoting.ConsumerSendMsgBack:
		out = append(out, group(f["group"]))
	case remoting.UnregisterClient:
		if g := f["consumerGroup"]; g != "" {
			out = append(out, group(g))
		}
	}
	return out
}

// checkACL answers req with NO_PERMISSION when the ACL refuses it, or
// returns nil for a request that may be served.
func (b *Broker) checkACL(c *netio.Conn, code int32, req *remoting.Command) *remoting.Command {
	if b.cfg.Accounts == nil {
		return nil
	}
	host := remoteIP(c)
	id, err := b.cfg.Accounts.Authenticate(req.ExtFields, req.Body, host)
	if err != nil {
		b.log.Debug("acl: refused", "remote", host, "code", code, "err", err)
		return remoting.NewResponse(req, remoting.NoPermission, err.Error())
	}
	if id.Trusted || id.Admin {
		return nil
	}
	if adminCodes[code] {
		b.log.Info("acl: admin request from a non-admin account", "remote", host, "code", code, "principal", id.Principal)
		return remoting.NewResponse(req, remoting.NoPermission,
			fmt.Sprintf("the request code %d %s needs an admin account", code, remoting.RequestName(code)))
	}
	for _, n := range needs(code, req.ExtFields) {
		if d := b.cfg.Authorizer.Check(id.Principal, host, n.op, n.typ, n.name); !d.Allowed {
			b.log.Debug("acl: denied", "remote", host, "principal", id.Principal, "op", n.op, "resource", n.typ, "name", n.name, "reason", d.Reason)
			return remoting.NewResponse(req, remoting.NoPermission,
				"no permission: "+string(id.Principal)+" may not "+n.op.String()+" "+n.typ.String()+" "+n.name)
		}
	}
	return nil
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
