package kafkaapi

import (
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/twinmq/twinmq/broker/auth"
	"github.com/twinmq/twinmq/netio"
)

// SecurityProtocol is a Kafka listener's security.protocol.
type SecurityProtocol string

const (
	Plaintext     SecurityProtocol = "PLAINTEXT"
	SSL           SecurityProtocol = "SSL"
	SASLPlaintext SecurityProtocol = "SASL_PLAINTEXT"
	SASLSSL       SecurityProtocol = "SASL_SSL"
)

// ParseSecurityProtocol checks a protocol name (case-insensitive).
func ParseSecurityProtocol(s string) (SecurityProtocol, error) {
	switch p := SecurityProtocol(strings.ToUpper(s)); p {
	case Plaintext, SSL, SASLPlaintext, SASLSSL:
		return p, nil
	}
	return "", fmt.Errorf("kafkaapi: unknown security protocol %q (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL)", s)
}

// TLS reports whether the protocol runs over TLS.
func (p SecurityProtocol) TLS() bool { return p == SSL || p == SASLSSL }

// SASL reports whether the protocol authenticates with SASL.
func (p SecurityProtocol) SASL() bool { return p == SASLPlaintext || p == SASLSSL }

// MaxPreAuthRequestSize bounds a request on a SASL listener before the
// connection authenticated (Kafka's 512 KiB for unauthenticated
// connections, docs/design.md section 5).
const MaxPreAuthRequestSize = 512 << 10

// Listener is the Handler as one named Kafka listener serves it (Kafka's
// listeners / listener.security.protocol.map): a netio.Handler whose
// connections carry the listener's name, security protocol and advertised
// address. Metadata and FindCoordinator on a connection answer with its
// listener's advertised address, as Kafka answers per listener name.
type Listener struct {
	*Handler
	name   string
	proto  SecurityProtocol
	advert atomic.Pointer[advertised]
}

// Listener returns the Handler serving listener name with protocol proto.
func (h *Handler) Listener(name string, proto SecurityProtocol) *Listener {
	return &Listener{Handler: h, name: name, proto: proto}
}

// Name is the listener's name (PLAINTEXT, SASL_SSL, or a custom one).
func (l *Listener) Name() string { return l.name }

// Protocol is the listener's security protocol.
func (l *Listener) Protocol() SecurityProtocol { return l.proto }

// SetAdvertised sets what this listener's connections are told to
// connect to.
func (l *Listener) SetAdvertised(host string, port int32) {
	l.advert.Store(&advertised{host, port})
	l.Handler.noteListener(l)
}

// OnOpen implements netio.Handler: the connection starts anonymous, or as
// its client certificate's subject on an SSL listener (mutual TLS; Kafka's
// DefaultKafkaPrincipalBuilder: "User:CN=alice,OU=eng"), and gated on a
// SASL listener until it authenticates.
func (l *Listener) OnOpen(c *netio.Conn) {
	st := &connState{principal: auth.Anonymous, listener: l}
	if l.proto == SSL {
		if p, ok := certPrincipal(c.TLS()); ok {
			st.principal = p
		}
	}
	if l.proto.SASL() {
		st.gated.Store(true)
		c.SetMaxFrame(MaxPreAuthRequestSize)
	}
	c.SetValue(st)
}

// OnFrameInline implements netio.InlineHandler: a gated connection's
// frames all go through OnFrame, which checks them.
func (l *Listener) OnFrameInline(c *netio.Conn, frame, dst []byte) ([]byte, bool) {
	if st := stateOf(c); st != nil && (st.gated.Load() || st.rawTokens.Load() || st.sessionEnd.Load() != 0) {
		return dst, false
	}
	return l.Handler.OnFrameInline(c, frame, dst)
}

// certPrincipal is the principal of a verified client certificate: its
// subject distinguished name as RFC 2253 writes it (most specific first),
// which is how Kafka's X500Principal.getName() spells it.
func certPrincipal(cs *tls.ConnectionState) (auth.Principal, bool) {
	if cs == nil || len(cs.PeerCertificates) == 0 || len(cs.VerifiedChains) == 0 {
		return "", false
	}
	return auth.User(cs.PeerCertificates[0].Subject.String()), true
}

// advertisedFor is the address Metadata and FindCoordinator give a
// client of c: its listener's, or the Handler's.
func (h *Handler) advertisedFor(c *netio.Conn) (string, int32) {
	if st := stateOf(c); st != nil && st.listener != nil {
		if a := st.listener.advert.Load(); a != nil {
			return a.host, a.port
		}
	}
	return h.advertisedAddr()
}

// noteListener remembers a listener for DescribeConfigs'
// advertised.listeners.
func (h *Handler) noteListener(l *Listener) {
	h.lmu.Lock()
	defer h.lmu.Unlock()
	for _, x := range h.listeners {
		if x == l {
			return
		}
	}
	h.listeners = append(h.listeners, l)
}

// advertisedListeners is advertised.listeners as Kafka writes it:
// NAME://host:port, comma-separated.
func (h *Handler) advertisedListeners() string {
	h.lmu.Lock()
	defer h.lmu.Unlock()
	if len(h.listeners) == 0 {
		host, port := h.advertisedAddr()
		return "PLAINTEXT://" + net.JoinHostPort(host, strconv.Itoa(int(port)))
	}
	var out []string
	for _, l := range h.listeners {
		a := l.advert.Load()
		out = append(out, l.name+"://"+net.JoinHostPort(a.host, strconv.Itoa(int(a.port))))
	}
	return strings.Join(out, ",")
}
