package netio

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"
)

// events is the gnet.EventHandler of a Server; it is kept apart so that
// gnet's callbacks are not part of Server's API. Everything here runs on an
// event loop, except OnTick, which runs on gnet's ticker goroutine.
type events struct {
	gnet.BuiltinEventEngine
	s *Server
}

func (e *events) OnBoot(eng gnet.Engine) gnet.Action {
	s := e.s
	addr, err := boundAddr(eng)
	if err != nil {
		s.log.Error("netio: cannot read bound address", "err", err)
	}
	fd, err := eng.Dup() // for stopListening
	if err != nil {
		s.log.Warn("netio: cannot copy the listener; Shutdown will stop the engine instead", "err", err)
		fd = -1
	}
	s.mu.Lock()
	s.eng, s.addr, s.lnFD = eng, addr, fd
	s.mu.Unlock()
	close(s.booted)
	return gnet.None
}

func (e *events) OnOpen(gc gnet.Conn) ([]byte, gnet.Action) {
	s := e.s
	if s.draining.Load() {
		return nil, gnet.Close
	}
	c := &Conn{
		id:     s.nextID.Add(1),
		srv:    s,
		gc:     gc,
		local:  localAddr(gc),
		remote: cloneAddr(gc.RemoteAddr()),
	}
	c.lastActive.Store(s.now.Load())
	c.budgetWake = c.wake
	s.mu.Lock()
	if s.cfg.MaxConns > 0 && len(s.conns) >= s.cfg.MaxConns {
		s.mu.Unlock()
		s.connRefused(c, fmt.Errorf("%w: max %d on this listener", ErrTooManyConns, s.cfg.MaxConns))
		return nil, gnet.Close
	}
	if err := s.cfg.Limits.admitConn(c.remote); err != nil {
		s.mu.Unlock()
		s.connRefused(c, err)
		return nil, gnet.Close
	}
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	gc.SetContext(c)
	s.h.OnOpen(c)
	return nil, gnet.None
}

func (e *events) OnClose(gc gnet.Conn, err error) gnet.Action {
	s := e.s
	c, ok := gc.Context().(*Conn)
	if !ok {
		return gnet.None // refused in OnOpen
	}
	if why := c.markClosed(); why != nil {
		err = why
	} else if err == nil && s.draining.Load() {
		err = ErrServerClosed
	}
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.cfg.Limits.releaseConn(c.remote)
	s.dropPart(c)
	s.h.OnClose(c, err)
	return gnet.None
}

// connRefused logs a connection refused at accept, at most once a
// second per Server (a flood of them must not flood the log).
func (s *Server) connRefused(c *Conn, err error) {
	now := s.now.Load()
	if last := s.lastRefusedLog.Load(); now-last < int64(time.Second) || !s.lastRefusedLog.CompareAndSwap(last, now) {
		s.refusedSinceLog.Add(1)
		return
	}
	s.log.Warn("netio: connection refused", "remote", c.remote.String(), "err", err,
		"alsoRefusedSinceLastLog", s.refusedSinceLog.Swap(0))
}

func (e *events) OnTraffic(gc gnet.Conn) gnet.Action {
	c, ok := gc.Context().(*Conn)
	if !ok {
		return gnet.Close
	}
	c.lastActive.Store(e.s.now.Load())
	action := e.s.drain(c)
	if !e.s.flushOut(c) {
		return gnet.None // the failed write closed c already
	}
	if action == gnet.None {
		e.s.setLowat(c)
	}
	return action
}

func (e *events) OnTick() (time.Duration, gnet.Action) {
	s := e.s
	now := time.Now().UnixNano()
	s.now.Store(now)
	idle, slow := s.expiredConns(now)
	for _, c := range idle {
		c.closeWith(ErrIdle)
	}
	for _, c := range slow {
		s.log.Debug("netio: closing connection", "conn", c.id, "remote", c.remote.String(), "err", ErrReadTimeout)
		c.closeWith(ErrReadTimeout)
	}
	return s.cfg.tickInterval(), gnet.None
}

// frameLen reads the length of the next frame from the header at the
// front of c's buffered bytes. ok is false, having asked for the missing
// bytes, while the header is not all there; err is a bad header.
func (s *Server) frameLen(c *Conn, buffered int) (n int, ok bool, err error) {
	hdrLen := s.cfg.Framer.HeaderLen()
	if buffered < hdrLen {
		if buffered > 0 {
			c.wantBytes(hdrLen - buffered)
		}
		return 0, false, nil
	}
	hdr, err := c.gc.Peek(hdrLen)
	if err != nil {
		return 0, false, nil
	}
	n, err = s.cfg.Framer.FrameLen(hdr)
	if err == nil {
		err = c.checkMaxFrame(n)
	}
	return n, err == nil, err
}

// readFrame moves the next frame, whose n bytes are all buffered after
// its header, out of c's inbound buffer into a slice of its own.
func (s *Server) readFrame(c *Conn, n int) ([]byte, error) {
	_, _ = c.gc.Discard(s.cfg.Framer.HeaderLen())
	frame := make([]byte, n)
	if m, err := c.gc.Read(frame); m != n {
		return nil, fmt.Errorf("netio: short read %d of %d (%v): %w", m, n, err, ErrBadFrame)
	}
	return frame, nil
}

// drain hands every complete frame in c's inbound buffer on, as far as
// c's bounds allow (full): a frame an InlineHandler answers on the loop
// leaves its reply in c.out for the caller to write; any other goes to
// the handler (queueFrame: a goroutine of its own in Concurrent
// ordering, c's read-ahead queue in Serial). It runs on c's event loop.
func (s *Server) drain(c *Conn) gnet.Action {
	gc := c.gc
	hdrLen := s.cfg.Framer.HeaderLen()
	for {
		if c.assembling {
			complete, action := s.fillPart(c)
			if !complete {
				return action
			}
			c.frameSince.Store(0) // whole: what it waits for now is the server
			if s.full(c, c.asm.n) {
				return gnet.None // done, or the next pop (Serial), wakes us
			}
			if !s.queueFrame(c, c.takePart()) {
				return gnet.None
			}
			continue
		}
		buffered := gc.InboundBuffered()
		n, ok, err := s.frameLen(c, buffered)
		if err != nil {
			return s.reject(c, err)
		}
		if !ok {
			if buffered > 0 {
				c.startedFrame()
			} else {
				c.frameSince.Store(0)
			}
			return gnet.None
		}
		if n > assembleMin && buffered-hdrLen < n {
			s.startPart(c, n) // moves its bytes out of gnet's buffer as they come
			continue
		}
		if s.full(c, n) {
			if buffered > s.cfg.MaxBufferedBytes {
				return s.reject(c, fmt.Errorf("netio: %d bytes waiting: %w", buffered, ErrBacklog))
			}
			return gnet.None // done, or the next pop (Serial), wakes us
		}
		if buffered-hdrLen < n {
			c.wantBytes(hdrLen + n - buffered)
			c.startedFrame()
			return gnet.None
		}
		c.frameSince.Store(0)
		if s.inline != nil && n <= maxInlineFrame && (s.cfg.Ordering != Serial || c.serialIdle()) {
			handled, action := s.offerInline(c, hdrLen, n)
			if handled {
				if action != gnet.None {
					return action
				}
				continue
			}
		}
		if !s.chargeFrame(c, n) {
			return s.waitBudget(c)
		}
		frame, err := s.readFrame(c, n)
		if err != nil {
			s.budget().Release(int64(n))
			return s.reject(c, err)
		}
		if !s.queueFrame(c, frame) {
			return gnet.None
		}
	}
}

// full reports whether c takes no further frame of n bytes for now, and
// if so leaves word for whoever frees room to wake the loop: Concurrent
// connections are full at MaxInFlight frames in flight (done wakes the
// loop), Serial ones when the read-ahead queue has no room for the frame
// (serialFull).
func (s *Server) full(c *Conn, n int) bool {
	if s.cfg.Ordering == Serial {
		return s.serialFull(c, n)
	}
	limit := int32(s.cfg.MaxInFlight)
	if c.inflight.Load() < limit {
		return false
	}
	// done clears stalled after its decrement: set it, then look again.
	c.stalled.Store(true)
	if c.inflight.Load() >= limit {
		return true
	}
	c.stalled.Store(false)
	return false
}

// queueFrame hands a frame read off c to the handler, or drops it and
// reports false when the server is draining (Concurrent) or c is closing
// (Serial: serveSerial admits the frames it hands).
func (s *Server) queueFrame(c *Conn, frame []byte) bool {
	if s.cfg.Ordering == Serial {
		return s.queueSerial(c, frame)
	}
	if !s.admit() {
		s.releaseFrames(frame)
		return false
	}
	c.inflight.Add(1)
	s.spawn(c, frame)
	return true
}

// reject closes c for a framing error, telling Config.OnFrameError first.
func (s *Server) reject(c *Conn, err error) gnet.Action {
	c.setCloseErr(err)
	s.log.Debug("netio: closing connection", "conn", c.id, "remote", c.remote.String(), "err", err)
	if s.cfg.OnFrameError != nil {
		s.cfg.OnFrameError(c, err)
	}
	return gnet.Close
}

// boundAddr reads the listener's real address (gnet reports the configured
// one, port 0 included) from a duplicate of its socket.
func boundAddr(eng gnet.Engine) (net.Addr, error) {
	fd, err := eng.Dup()
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	return sockName(fd)
}

// localAddr is the connection's own address; gnet reports the listener's
// configured one (for example "[::]:0").
func localAddr(gc gnet.Conn) net.Addr {
	if a, err := sockName(gc.Fd()); err == nil {
		return a
	}
	return gc.LocalAddr()
}

func sockName(fd int) (net.Addr, error) {
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return nil, err
	}
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return &net.TCPAddr{IP: net.IP(sa.Addr[:]).To16(), Port: sa.Port}, nil
	case *unix.SockaddrInet6:
		a := &net.TCPAddr{IP: net.IP(sa.Addr[:]), Port: sa.Port}
		if sa.ZoneId != 0 {
			if ifi, err := net.InterfaceByIndex(int(sa.ZoneId)); err == nil {
				a.Zone = ifi.Name
			}
		}
		return a, nil
	}
	return nil, errors.New("netio: unexpected socket address family")
}

// cloneAddr copies a TCP address: gnet recycles the bytes of an IPv6 zone
// when it releases the connection, and Conn outlives that.
func cloneAddr(a net.Addr) net.Addr {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return a
	}
	return &net.TCPAddr{IP: slices.Clone(ta.IP), Port: ta.Port, Zone: strings.Clone(ta.Zone)}
}
