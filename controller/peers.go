package controller

import (
	"errors"
	"fmt"
	"net"
	"strings"
)

// ErrPeers marks a controllerPeers string that does not parse.
var ErrPeers = errors.New("controller: bad controllerPeers")

// Peer is one controller of the raft group.
type Peer struct {
	ID   string // controllerSelfId of that node, e.g. "n0"
	Addr string // host:port its raft transport listens on
}

// ParsePeers parses controllerPeers, "n0-127.0.0.1:9878;n1-127.0.0.1:9879"
// (RocketMQ's controllerDLegerPeers format): ';'-separated id-address
// pairs, the id cut at the first '-'.
func ParsePeers(s string) ([]Peer, error) {
	var out []Peer
	seen := map[string]bool{}
	for _, part := range strings.Split(s, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		id, addr, ok := strings.Cut(part, "-")
		if !ok || id == "" {
			return nil, fmt.Errorf("%w: %q is not id-host:port", ErrPeers, part)
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, fmt.Errorf("%w: %q: %v", ErrPeers, part, err)
		}
		if seen[id] || seen[addr] {
			return nil, fmt.Errorf("%w: %q named twice", ErrPeers, part)
		}
		seen[id], seen[addr] = true, true
		out = append(out, Peer{ID: id, Addr: addr})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no peers", ErrPeers)
	}
	return out, nil
}

// FormatPeers is the inverse of ParsePeers.
func FormatPeers(peers []Peer) string {
	parts := make([]string, len(peers))
	for i, p := range peers {
		parts[i] = p.ID + "-" + p.Addr
	}
	return strings.Join(parts, ";")
}
