package netio

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
)

// ErrTooManyConns: a connection was refused at accept because the
// broker-wide (Limits.MaxConns, Config.MaxConns) or per-IP
// (Limits.MaxConnsPerIP) bound was reached; it is reported to
// Config.OnFrameError's logger only, the handler never sees the connection.
var ErrTooManyConns = errors.New("netio: too many connections")

// Limits are the bounds that the Servers of one broker share: the memory
// budget for request bytes, and connection counts across all listeners,
// as Kafka's queued.max.request.bytes, max.connections and
// max.connections.per.ip. A nil *Limits bounds nothing.
type Limits struct {
	// Budget bounds request bytes held by netio (nil: none).
	Budget *Budget
	// MaxConns bounds open connections over every Server sharing these
	// Limits; MaxConnsPerIP those from one client address. 0: no bound.
	MaxConns      int
	MaxConnsPerIP int

	mu    sync.Mutex
	conns int
	perIP map[netip.Addr]int
}

// admitConn counts a new connection from remote, or refuses it.
func (l *Limits) admitConn(remote net.Addr) error {
	if l == nil || (l.MaxConns <= 0 && l.MaxConnsPerIP <= 0) {
		return nil
	}
	ip := addrIP(remote)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.MaxConns > 0 && l.conns >= l.MaxConns {
		return fmt.Errorf("%w: %d open, max-connections %d", ErrTooManyConns, l.conns, l.MaxConns)
	}
	if l.MaxConnsPerIP > 0 && l.perIP[ip] >= l.MaxConnsPerIP {
		return fmt.Errorf("%w: %d open from %s, max-connections-per-ip %d", ErrTooManyConns, l.perIP[ip], ip, l.MaxConnsPerIP)
	}
	l.conns++
	if l.perIP == nil {
		l.perIP = make(map[netip.Addr]int)
	}
	l.perIP[ip]++
	return nil
}

// releaseConn uncounts a connection admitted before.
func (l *Limits) releaseConn(remote net.Addr) {
	if l == nil || (l.MaxConns <= 0 && l.MaxConnsPerIP <= 0) {
		return
	}
	ip := addrIP(remote)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.conns--
	if l.perIP[ip]--; l.perIP[ip] <= 0 {
		delete(l.perIP, ip)
	}
}

// Conns is the number of connections counted now.
func (l *Limits) Conns() int {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.conns
}

// addrIP is remote's IP (IPv4-mapped IPv6 unmapped), or the zero Addr.
func addrIP(remote net.Addr) netip.Addr {
	if ta, ok := remote.(*net.TCPAddr); ok {
		if ip, ok := netip.AddrFromSlice(ta.IP); ok {
			return ip.Unmap()
		}
	}
	return netip.Addr{}
}

// budget is the server's shared Budget, or nil.
func (s *Server) budget() *Budget {
	if s.cfg.Limits == nil {
		return nil
	}
	return s.cfg.Limits.Budget
}
