package kafkaapi

import (
	"net"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/broker/auth"
	"github.com/twinmq/twinmq/netio"
)

// Authorization (KIP-11) with Config.Authorizer set: before a request
// reaches its key's handler, the key's entry in authzTable checks it
// against Kafka's operation/resource table (KafkaApis) and either
//
//   - answers the whole request with the error Kafka answers when the
//     check that guards all of it fails (a group's Read, a transactional
//     id's Write, the cluster's Alter), and the handler never runs; or
//   - removes from the request the topics, partitions or groups the
//     principal may not touch, lets the handler serve the rest, and adds
//     their results with the error (TOPIC_AUTHORIZATION_FAILED, ...) to
//     the response (request.patch), as Kafka answers them side by side
//     with the authorized ones.
//
// Keeping the checks here leaves each key's file as it was: the handlers
// never see what the principal may not touch. The codes below are the
// ones Kafka answers (Errors.java).
const (
	errTopicAuthorizationFailed   int16 = 29
	errGroupAuthorizationFailed   int16 = 30
	errClusterAuthorizationFailed int16 = 31
	errTxnIDAuthorizationFailed   int16 = 53
)

// authzFunc checks r (req is the parsed request, which it may trim). It
// returns false when it has answered the request itself.
type authzFunc func(h *Handler, r *request, req kmsg.Request) bool

// authzTable is what each key needs. A served key missing from it and
// from authzFree is refused with the connection closed (authorize), so a
// key added later cannot slip through unchecked.
var authzTable = map[int16]authzFunc{}

// authzFree are the keys Kafka serves to anyone: version negotiation and
// authentication (the principal does not exist yet) and the
// delegation-token keys (they answer as without tokens:
// 38_create_delegation_token.go). DescribeCluster is served to anyone too;
// its rule only fills the authorized operations (authz_ops.go).
var authzFree = map[int16]bool{17: true, 18: true, 36: true, 38: true, 39: true, 40: true, 41: true}

// regAuthz registers a key's check (called from the authz_*.go files).
func regAuthz(key int16, fn authzFunc) { authzTable[key] = fn }

// authorize runs the key's check when an authorizer is configured; false:
// the request is answered (or its connection closed).
func (h *Handler) authorize(r *request, req kmsg.Request) bool {
	if h.cfg.Authorizer == nil || authzFree[r.hdr.APIKey] {
		return true
	}
	fn, ok := authzTable[r.hdr.APIKey]
	if !ok {
		r.closeConn("no authorization rule for this key", nil)
		return false
	}
	return fn(h, r, req)
}

// can says whether r's principal may do op on (typ, name), logging a
// denial at debug (Kafka's authorizer log logs denials at info; a denied
// client retrying in a loop would flood ours).
func (r *request) can(op auth.Operation, typ auth.ResourceType, name string) bool {
	p := r.principal()
	d := r.h.cfg.Authorizer.Check(p, connHost(r.conn), op, typ, name)
	if !d.Allowed {
		r.h.log.Debug("kafkaapi: denied", "principal", p, "remote", connHost(r.conn), "op", op,
			"resource", typ, "name", name, "reason", d.Reason, "api", kmsg.NameForKey(r.hdr.APIKey))
	}
	return d.Allowed
}

func (r *request) canCluster(op auth.Operation) bool {
	return r.can(op, auth.ResourceCluster, auth.ClusterName)
}

func (r *request) canTopic(op auth.Operation, topic string) bool {
	return r.can(op, auth.ResourceTopic, topic)
}

func (r *request) canGroup(op auth.Operation, group string) bool {
	return r.can(op, auth.ResourceGroup, group)
}

func (r *request) canTxnID(op auth.Operation, id string) bool {
	return r.can(op, auth.ResourceTransactionalID, id)
}

// addPatch makes reply call fn on the response before it is encoded.
// Patches run in the order they were added.
func (r *request) addPatch(fn func(kmsg.Response)) {
	prev := r.patch
	if prev == nil {
		r.patch = fn
		return
	}
	r.patch = func(resp kmsg.Response) { prev(resp); fn(resp) }
}

// applyPatch runs the patches on resp (reply and replyParts call it).
func (r *request) applyPatch(resp kmsg.Response) {
	if r.patch != nil {
		r.patch(resp)
	}
}

// replyError answers the whole request with what fill sets on a fresh
// response of the request's kind.
func replyError[Q interface{ ResponseKind() kmsg.Response }, S kmsg.Response](r *request, req Q, fill func(S)) bool {
	resp := req.ResponseKind().(S)
	fill(resp)
	r.reply(resp)
	return false
}

// clusterOnly is the check of an admin key guarded by one operation on
// the cluster, answered with fill's CLUSTER_AUTHORIZATION_FAILED.
func clusterOnly[Q kmsg.Request, S kmsg.Response](op auth.Operation, fill func(Q, S)) authzFunc {
	return func(h *Handler, r *request, req kmsg.Request) bool {
		if r.canCluster(op) {
			return true
		}
		q := req.(Q)
		return replyError(r, q, func(s S) { fill(q, s) })
	}
}

// principal is who r's connection authenticated as (auth.Anonymous for a
// request served without a connection).
func (r *request) principal() auth.Principal {
	if r.conn == nil {
		return auth.Anonymous
	}
	return principalOf(r.conn)
}

// connHost is the IP c connects from, as ACL hosts name it ("" without a
// connection).
func connHost(c *netio.Conn) string {
	if c == nil {
		return ""
	}
	addr := c.RemoteAddr()
	if addr == nil {
		return ""
	}
	if t, ok := addr.(*net.TCPAddr); ok {
		return t.IP.String()
	}
	if host, _, err := net.SplitHostPort(addr.String()); err == nil {
		return host
	}
	return addr.String()
}
