package netio

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// The stream transport serves a Server whose Config.TLS is set: a
// net.Listener and crypto/tls, one reading goroutine and one writing
// goroutine per connection, behind the same Handler and Conn as the gnet
// transport (gnet has no TLS). What a handler sees is the same: OnOpen
// before any frame (here after the TLS handshake, so Conn.TLS is set),
// frames under the Framer's and Conn.SetMaxFrame's limits, Serial or
// Concurrent hand-off with done, the memory budget charged from the first
// byte of a frame until done, Config.ReadTimeout for a started frame,
// Config.IdleTimeout, Write/WriteThen queued in order, Close after the
// queued writes, OnClose once.
//
// The reader reads ahead one frame: under Serial the next request is read
// (and charged) while the one before is served, and handed on its done.
// Bytes not yet read stay in the kernel's socket buffer: unlike gnet, a
// blocking reader stops reading, so TCP's window is the backpressure.
//
// Ownership: the reader goroutine owns the read side and calls OnOpen and
// OnClose; the writer goroutine owns the write side and is the only one
// that writes to the tls.Conn; stream.mu guards the write queue.

// handshakeTimeout bounds a TLS handshake when Config.ReadTimeout is off.
const handshakeTimeout = 10 * time.Second

// streamReadBuf is the reader's buffer: several TLS records (16 KiB of
// plaintext each) per read(2) when frames are small.
const streamReadBuf = 64 << 10

// streamWriteBuf coalesces queued replies into full TLS records.
const streamWriteBuf = 16 << 10

// recordBuf collects the TLS records of a batch of replies under the
// tls.Conn, which writes each record (16 KiB of plaintext at most) with a
// write(2) of its own: a 1 MiB fetch response was 64 system calls.
const recordBuf = 128 << 10

// flushConn is the TCP connection under the tls.Conn: once the handshake
// is done it buffers writes until Flush (the writer's, after each batch),
// so the records of a batch leave in writes of up to recordBuf. mu
// serializes the writer's Flush with the close_notify that tls.Conn.Close
// writes from another goroutine.
type flushConn struct {
	net.Conn
	buffering atomic.Bool
	mu        sync.Mutex
	w         *bufio.Writer
}

func (f *flushConn) Write(b []byte) (int, error) {
	if !f.buffering.Load() {
		return f.Conn.Write(b)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.w.Write(b)
}

func (f *flushConn) Flush() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.w.Flush()
}

// stream is the per-connection state of the stream transport.
type stream struct {
	fc    *flushConn // under nc
	nc    net.Conn
	state *tls.ConnectionState // set after the handshake, before OnOpen
	kickc chan struct{}        // wakes the reader (done, budget, Close)

	mu       sync.Mutex
	cond     sync.Cond // signalled when queue, closeReq or dead change
	queue    []pendingWrite
	closeReq bool // write what is queued, then close
	dead     bool // nc is closed: writes fail
}

type pendingWrite struct {
	bufs [][]byte
	done func(error) // WriteThen's, or nil
}

func newStream(nc net.Conn) *stream {
	st := &stream{nc: nc, kickc: make(chan struct{}, 1)}
	st.cond.L = &st.mu
	return st
}

// kick wakes the reader if it waits; it never blocks.
func (st *stream) kick() {
	select {
	case st.kickc <- struct{}{}:
	default:
	}
}

// enqueue queues a write; false if the connection is dead (done is not
// called then).
func (st *stream) enqueue(w pendingWrite) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.dead || st.closeReq {
		return false
	}
	st.queue = append(st.queue, w)
	st.cond.Signal()
	return true
}

// closeAfterWrites makes the writer close the connection once the queued
// writes are out.
func (st *stream) closeAfterWrites() {
	st.mu.Lock()
	st.closeReq = true
	st.cond.Signal()
	st.mu.Unlock()
	st.kick()
}

// abort closes the connection now; queued writes fail.
func (st *stream) abort() {
	st.mu.Lock()
	was := st.dead
	st.dead = true
	failed := st.queue
	st.queue = nil
	st.cond.Signal()
	st.mu.Unlock()
	if !was {
		_ = st.nc.Close()
	}
	for _, w := range failed {
		if w.done != nil {
			w.done(ErrClosed)
		}
	}
	st.kick()
}

// writeLoop writes queued replies in order, coalescing what queued up
// while it wrote, until the connection dies or Close's writes are out. A
// peer that stops reading blocks it for at most timeout per batch (then
// the connection is closed).
func (st *stream) writeLoop(timeout time.Duration) {
	bw := bufio.NewWriterSize(st.nc, streamWriteBuf)
	for {
		st.mu.Lock()
		for len(st.queue) == 0 && !st.closeReq && !st.dead {
			st.cond.Wait()
		}
		if st.dead {
			st.mu.Unlock()
			return
		}
		batch := st.queue
		st.queue = nil
		closing := st.closeReq && len(batch) == 0
		st.mu.Unlock()
		if closing {
			st.abort()
			return
		}
		if timeout > 0 {
			_ = st.nc.SetWriteDeadline(time.Now().Add(timeout))
		}
		var err error
		for _, w := range batch {
			for _, b := range w.bufs {
				if err == nil {
					_, err = bw.Write(b)
				}
			}
		}
		if err == nil {
			err = bw.Flush()
		}
		if err == nil && st.fc != nil {
			err = st.fc.Flush()
		}
		for _, w := range batch {
			if w.done != nil {
				if err != nil {
					w.done(ErrClosed)
				} else {
					w.done(nil)
				}
			}
		}
		if err != nil {
			st.abort()
			return
		}
	}
}

// startStream listens on Config.Addr and serves connections over TLS
// until Shutdown.
func (s *Server) startStream(ctx context.Context) error {
	// Full-size records from the first byte: Go starts a connection (and
	// one idle for a second) with ~1 KiB records for latency, which made
	// fetch responses many small records.
	s.tlsCfg = s.cfg.TLS.Clone()
	s.tlsCfg.DynamicRecordSizingDisabled = true
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.cfg.Addr)
	if err != nil {
		s.mu.Lock()
		s.runErr = err
		s.mu.Unlock()
		close(s.runDone)
		return fmt.Errorf("netio: listen %s: %w", s.cfg.Addr, err)
	}
	s.mu.Lock()
	s.ln, s.addr = ln, ln.Addr()
	s.mu.Unlock()
	close(s.booted)
	s.streamStop = make(chan struct{})
	go s.tickStream()
	s.streamsWG.Add(1)
	go s.acceptStream(ln)
	s.log.Info("netio: listening (TLS)", "bound", ln.Addr().String())
	return nil
}

// tickStream advances the coarse clock (Conn.lastActive) until Shutdown.
func (s *Server) tickStream() {
	t := time.NewTicker(s.cfg.tickInterval())
	defer t.Stop()
	for {
		select {
		case now := <-t.C:
			s.now.Store(now.UnixNano())
		case <-s.streamStop:
			return
		}
	}
}

func (s *Server) acceptStream(ln net.Listener) {
	defer s.streamsWG.Done()
	for {
		raw, err := ln.Accept()
		if err != nil {
			if s.draining.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Warn("netio: accept", "err", err)
			time.Sleep(10 * time.Millisecond) // EMFILE and the like: do not spin
			continue
		}
		if s.draining.Load() {
			_ = raw.Close()
			continue
		}
		s.streamsWG.Add(1)
		go s.serveStream(raw)
	}
}

// serveStream runs one connection: limits, handshake, OnOpen, frames,
// OnClose.
func (s *Server) serveStream(raw net.Conn) {
	defer s.streamsWG.Done()
	st := newStream(raw)
	c := &Conn{id: s.nextID.Add(1), srv: s, st: st, local: raw.LocalAddr(), remote: raw.RemoteAddr()}
	c.lastActive.Store(s.now.Load())
	c.budgetWake = st.kick
	s.mu.Lock()
	if s.cfg.MaxConns > 0 && len(s.conns) >= s.cfg.MaxConns {
		s.mu.Unlock()
		s.connRefused(c, fmt.Errorf("%w: max %d on this listener", ErrTooManyConns, s.cfg.MaxConns))
		_ = raw.Close()
		return
	}
	if err := s.cfg.Limits.admitConn(c.remote); err != nil {
		s.mu.Unlock()
		s.connRefused(c, err)
		_ = raw.Close()
		return
	}
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	forget := func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		s.cfg.Limits.releaseConn(c.remote)
	}

	if err := s.handshake(raw, st); err != nil {
		s.log.Debug("netio: TLS handshake failed", "remote", c.remote.String(), "err", err)
		_ = st.nc.Close()
		c.markClosed()
		forget()
		return
	}
	go st.writeLoop(2 * max(s.cfg.ReadTimeout, DefaultReadTimeout))

	s.h.OnOpen(c)
	err := s.readStream(c, st)
	c.mu.Lock()
	if c.closing {
		err = nil // Close or a reject: its reason is closeErr
	}
	c.mu.Unlock()
	if err != nil && !errors.Is(err, io.EOF) {
		c.setCloseErr(err)
	}
	st.abort()
	if why := c.markClosed(); why != nil {
		err = why
	} else if err == nil && s.draining.Load() {
		err = ErrServerClosed
	}
	forget()
	s.h.OnClose(c, err)
}

// tlsRecordHandshake is the first byte of a TLS connection (a handshake
// record's content type), which Config.TLSOptional looks for.
const tlsRecordHandshake = 0x16

// handshake runs the TLS handshake on raw and sets st's connection and
// TLS state; with Config.TLSOptional, a connection whose first byte does
// not start a TLS handshake is served in plaintext (st.state stays nil).
func (s *Server) handshake(raw net.Conn, st *stream) error {
	timeout := s.cfg.ReadTimeout
	if timeout <= 0 {
		timeout = handshakeTimeout
	}
	_ = raw.SetDeadline(time.Now().Add(timeout))
	defer func() { _ = raw.SetDeadline(time.Time{}) }()
	under := raw
	if s.cfg.TLSOptional {
		pc := &peekedConn{Conn: raw, r: bufio.NewReaderSize(raw, 512)}
		first, err := pc.r.Peek(1)
		if err != nil {
			return err
		}
		if first[0] != tlsRecordHandshake {
			st.nc = pc // plaintext, from the byte peeked
			return nil
		}
		under = pc
	}
	fc := &flushConn{Conn: under, w: bufio.NewWriterSize(under, recordBuf)}
	tc := tls.Server(fc, s.tlsCfg)
	st.nc, st.fc = tc, fc
	if err := tc.Handshake(); err != nil {
		return err
	}
	fc.buffering.Store(true) // the writer flushes from now on
	cs := tc.ConnectionState()
	st.state = &cs
	return nil
}

// peekedConn is a connection whose first bytes were read ahead into r.
type peekedConn struct {
	net.Conn
	r *bufio.Reader
}

func (p *peekedConn) Read(b []byte) (int, error) { return p.r.Read(b) }

// readStream reads frames off c and hands them on until the connection
// fails or closes; it returns why.
func (s *Server) readStream(c *Conn, st *stream) error {
	br := bufio.NewReaderSize(st.nc, streamReadBuf)
	hdr := make([]byte, s.cfg.Framer.HeaderLen())
	limit := int32(s.cfg.MaxInFlight)
	for {
		if err := s.awaitFrame(c, st, br); err != nil {
			return err
		}
		if s.cfg.ReadTimeout > 0 {
			_ = st.nc.SetReadDeadline(time.Now().Add(s.cfg.ReadTimeout))
		}
		if _, err := io.ReadFull(br, hdr); err != nil {
			return readErr(err)
		}
		n, err := s.cfg.Framer.FrameLen(hdr)
		if err == nil {
			err = c.checkMaxFrame(n)
		}
		if err != nil {
			s.reject(c, err)
			return err
		}
		for !s.budget().ChargeOrWait(int64(n), st.kick) {
			if !s.waitKick(c, st) {
				return nil
			}
		}
		frame := make([]byte, n)
		if _, err := io.ReadFull(br, frame); err != nil {
			s.budget().Release(int64(n))
			return readErr(err)
		}
		_ = st.nc.SetReadDeadline(time.Time{})
		c.lastActive.Store(s.now.Load())
		for c.inflight.Load() >= limit {
			if !s.waitKick(c, st) {
				s.budget().Release(int64(n))
				return nil
			}
		}
		if !s.admit() {
			s.budget().Release(int64(n))
			return ErrServerClosed
		}
		c.inflight.Add(1)
		s.spawn(c, frame)
	}
}

// awaitFrame waits for the first byte of the next frame, closing an idle
// connection after Config.IdleTimeout without traffic or frames in flight.
func (s *Server) awaitFrame(c *Conn, st *stream, br *bufio.Reader) error {
	for {
		if br.Buffered() > 0 {
			return nil
		}
		if s.cfg.IdleTimeout > 0 {
			_ = st.nc.SetReadDeadline(time.Now().Add(s.cfg.IdleTimeout))
		}
		_, err := br.Peek(1)
		if err == nil {
			return nil
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			return err
		}
		idleCut := s.now.Load() - int64(s.cfg.IdleTimeout)
		if c.inflight.Load() == 0 && c.lastActive.Load() < idleCut {
			return ErrIdle
		}
	}
}

// waitKick waits for a kick; false when c is closing.
func (s *Server) waitKick(c *Conn, st *stream) bool {
	if c.Closed() {
		return false
	}
	<-st.kickc
	return !c.Closed()
}

// readErr maps a deadline hit inside a frame to ErrReadTimeout.
func readErr(err error) error {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return ErrReadTimeout
	}
	return err
}

// shutdownStream stops the stream transport: no new connections, frames
// in flight finish (or ctx ends), every connection closes.
func (s *Server) shutdownStream(ctx context.Context, waitErr error) error {
	s.mu.Lock()
	ln := s.ln
	conns := make([]*Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	if ln != nil {
		_ = ln.Close()
	}
	for _, c := range conns {
		c.closeWith(ErrServerClosed)
	}
	// Connections accepted while we listed them see draining and close.
	done := make(chan struct{})
	go func() {
		s.streamsWG.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		for _, c := range conns {
			c.st.abort()
		}
		<-done
	}
	s.streamOnce.Do(func() {
		close(s.streamStop)
		close(s.runDone)
	})
	return waitErr
}

// TLS is the connection's TLS state (peer certificates for mutual TLS),
// or nil on a plaintext listener.
func (c *Conn) TLS() *tls.ConnectionState {
	if c.st == nil {
		return nil
	}
	return c.st.state
}

// SetMaxFrame bounds the frames c may send from now on to n bytes (a
// declared length over it closes c with ErrFrameTooLarge before a byte of
// the body is read); 0 goes back to the listener's Framer limit alone. A
// Kafka SASL listener holds unauthenticated connections to 512 KiB.
func (c *Conn) SetMaxFrame(n int) { c.maxFrame.Store(int64(n)) }

func (c *Conn) checkMaxFrame(n int) error {
	if m := c.maxFrame.Load(); m > 0 && int64(n) > m {
		return fmt.Errorf("netio: length %d over this connection's %d: %w", n, m, ErrFrameTooLarge)
	}
	return nil
}
