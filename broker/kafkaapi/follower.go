package kafkaapi

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/netio"
)

// Follower fetch (KIP-392). A slave runs a Kafka listener of its own: it
// serves Fetch of its group's partitions from its store, which shows only
// what the master confirmed (the HA stream's confirmed offsets), and
// forwards every other request, byte for byte, to its master's Kafka
// listener, so that a client that picked it as "any broker" (Metadata,
// FindCoordinator, InitProducerId, ListGroups ...) gets the master's
// answer. A master sends a consumer whose client.rack matches an in-sync
// slave's brokerRack there (Fetch's PreferredReadReplica), as Kafka's
// RackAwareReplicaSelector does; read_committed fetches stay on the
// master, which keeps the transaction index.

// following reports whether this handler is a slave's listener.
func (h *Handler) following() bool { return h.cfg.Follower != nil }

// upstream is one client connection's connection to the master, which
// its forwarded requests use one at a time (the listener is Serial).
type upstream struct {
	mu   sync.Mutex // held across a round trip
	addr string     // under mu
	conn atomic.Pointer[net.Conn]
}

// forwardTimeout bounds one forwarded request: longer than any wait a
// request can ask for (a JoinGroup's rebalance, a produce's timeout).
const forwardTimeout = 5 * time.Minute

// followerAPIs adds to a follower's keys those its master serves with
// its coordinators, so that the ApiVersions it answers itself (when its
// master is unreachable) advertises what its forwarded requests reach.
func (h *Handler) followerAPIs() {
	for k, a := range groupAPIs() {
		h.apis[k] = a
	}
	for k, a := range txnAPIs() {
		h.apis[k] = a
	}
}

// masterWait bounds how long a follower waits to learn its master's Kafka
// listener (the cluster view refreshes every second; a master elected a
// moment ago registers within one).
const masterWait = 5 * time.Second

// masterAddr is the master's Kafka listener, waiting up to masterWait
// (and refreshing the cluster view) while the group has none.
func (h *Handler) masterAddr() string {
	deadline := time.Now().Add(masterWait)
	for {
		if addr := h.cfg.Follower(); addr != "" || time.Now().After(deadline) {
			return addr
		}
		if h.cfg.ClusterRefresh != nil {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_ = h.cfg.ClusterRefresh(ctx)
			cancel()
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// forward sends frame (a whole request, without its size prefix) to the
// master and writes the master's response back unchanged; it reports
// whether it answered. Without a reachable master an ApiVersions is left
// to the caller to answer here (closing the connection at the first
// request makes clients suspect TLS), and anything else closes the
// connection: the client refreshes its metadata and goes elsewhere.
func (h *Handler) forward(r *request, frame []byte, req kmsg.Request) bool {
	addr := h.masterAddr()
	if addr == "" {
		if r.hdr.APIKey == apiVersionsKey {
			return false
		}
		r.closeConn("a follower without a master", nil)
		return true
	}
	answered := true
	if p, ok := req.(*kmsg.ProduceRequest); ok && p.Acks == 0 {
		answered = false
	}
	up := upstreamOf(r.conn)
	resp, err := up.roundTrip(addr, frame, answered)
	if err != nil {
		up.close()
		if r.hdr.APIKey == apiVersionsKey {
			return false
		}
		r.closeConn("forward to the master", err)
		return true
	}
	if resp == nil {
		r.finish()
		return true
	}
	if !r.replied.CompareAndSwap(false, true) {
		return true
	}
	defer r.done()
	r.h.observe(r.hdr.APIKey, r.start)
	if err := r.conn.Write(resp); err != nil && !errors.Is(err, netio.ErrClosed) {
		r.h.log.Debug("kafkaapi: write", "conn", r.conn.ID(), "err", err)
	}
	return true
}

// roundTrip writes frame to the master at addr and, if answered, reads
// its response (with its size prefix).
func (up *upstream) roundTrip(addr string, frame []byte, answered bool) ([]byte, error) {
	up.mu.Lock()
	defer up.mu.Unlock()
	var c net.Conn
	if p := up.conn.Load(); p != nil && up.addr == addr {
		c = *p
	} else {
		up.close()
		d, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			return nil, fmt.Errorf("dial the master %s: %w", addr, err)
		}
		c, up.addr = d, addr
		up.conn.Store(&c)
	}
	_ = c.SetDeadline(time.Now().Add(forwardTimeout))
	var size [4]byte
	binary.BigEndian.PutUint32(size[:], uint32(len(frame)))
	if _, err := c.Write(append(size[:], frame...)); err != nil {
		return nil, fmt.Errorf("write to the master: %w", err)
	}
	if !answered {
		return nil, nil
	}
	if _, err := io.ReadFull(c, size[:]); err != nil {
		return nil, fmt.Errorf("read from the master: %w", err)
	}
	n := binary.BigEndian.Uint32(size[:])
	if n > 2*MaxRequestSize {
		return nil, fmt.Errorf("a response of %d bytes from the master", n)
	}
	resp := make([]byte, 4+n)
	copy(resp, size[:])
	if _, err := io.ReadFull(c, resp[4:]); err != nil {
		return nil, fmt.Errorf("read from the master: %w", err)
	}
	return resp, nil
}

// close closes the connection to the master, if open; a round trip in
// flight on it fails.
func (up *upstream) close() {
	if p := up.conn.Swap(nil); p != nil {
		_ = (*p).Close()
	}
}

// upstreamOf is c's connection to the master (made on first use).
func upstreamOf(c *netio.Conn) *upstream {
	s := c.Value().(*connState) // set by OnOpen
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.upstream == nil {
		s.upstream = &upstream{}
	}
	return s.upstream
}

// closeUpstream closes c's connection to the master, if any (OnClose).
func closeUpstream(c *netio.Conn) {
	s, ok := c.Value().(*connState)
	if !ok {
		return
	}
	s.mu.Lock()
	up := s.upstream
	s.mu.Unlock()
	if up != nil {
		up.close()
	}
}

// preferredReplica is the node a consumer in rack should fetch this
// master's partitions from: an in-sync follower of this group in that
// rack, or -1 (this master) when the master is in it, none is, or the
// fetch is read_committed.
func (h *Handler) preferredReplica(req *kmsg.FetchRequest) int32 {
	if req.Version < 11 || req.Rack == "" || req.IsolationLevel != 0 || h.following() || h.cfg.Cluster == nil || req.Rack == h.cfg.Rack {
		return -1
	}
	v := h.cfg.Cluster()
	if v == nil {
		return -1
	}
	g, ok := v.Group(v.Self)
	if !ok {
		return -1
	}
	_, isr := h.replicas()
	for _, f := range g.Followers {
		if f.Rack == req.Rack && slices.Contains(isr, f.NodeID) {
			return f.NodeID
		}
	}
	return -1
}
