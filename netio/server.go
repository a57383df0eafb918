package netio

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"golang.org/x/sys/unix"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// Server is one listener with its own gnet engine. Several Servers (one per
// protocol) run in one process; each is stopped through its own Engine, never
// through gnet's global Stop.
type Server struct {
	cfg Config
	h   Handler
	log *slog.Logger
	// inline is h when it is an InlineHandler. serialInline says so
	// under Serial ordering, where Conn counts its queued writes; wrote is
	// the callback that uncounts one (a method value made once).
	inline       InlineHandler
	serialInline bool
	wrote        gnet.AsyncCallback

	nextID atomic.Uint64
	// lastRefusedLog and refusedSinceLog rate-limit the log of
	// connections refused at accept (connRefused).
	lastRefusedLog  atomic.Int64
	refusedSinceLog atomic.Int64
	now             atomic.Int64  // coarse clock (UnixNano), advanced by OnTick
	draining        atomic.Bool   // Shutdown began: no new connections or frames
	inflight        atomic.Int64  // frames handed to handlers, done pending
	drained         chan struct{} // closed once inflight is zero while draining
	drainedOnce     sync.Once

	booted  chan struct{} // closed by OnBoot once eng and addr are set
	runDone chan struct{} // closed when gnet.Run returns

	// jobs hands Concurrent frames and Serial turns to idle workers
	// (workers.go).
	jobs        chan job
	idleWorkers atomic.Int64
	maxIdle     int64

	// mu guards the fields below.
	mu      sync.Mutex
	conns   map[*Conn]struct{}
	started bool
	eng     gnet.Engine
	addr    net.Addr
	runErr  error
	// lnFD is a copy of the listener's descriptor, taken at boot and
	// closed when the engine has stopped (-1 then, or if Dup failed);
	// lnShut says stopListening ran.
	lnFD   int
	lnShut bool

	// The stream (TLS) transport's (stream.go): its listener, the
	// goroutines of its accept loop and connections, and the stop of its
	// clock.
	ln         net.Listener
	tlsCfg     *tls.Config // Config.TLS as the transport uses it
	streamsWG  sync.WaitGroup
	streamStop chan struct{}
	streamOnce sync.Once
}

// New checks cfg and returns a Server that is not yet listening.
func New(cfg Config, h Handler) (*Server, error) {
	if h == nil {
		return nil, errors.New("netio: nil Handler")
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Server{
		cfg:     cfg,
		h:       h,
		log:     cfg.Logger.With("addr", cfg.Addr, "ordering", cfg.Ordering.String()),
		drained: make(chan struct{}),
		booted:  make(chan struct{}),
		runDone: make(chan struct{}),
		jobs:    make(chan job),
		maxIdle: maxIdleWorkers(),
		conns:   make(map[*Conn]struct{}),
		lnFD:    -1,
	}
	if ih, ok := h.(InlineHandler); ok {
		s.inline = ih
		s.serialInline = cfg.Ordering == Serial
	}
	s.wrote = s.wroteOne
	s.now.Store(time.Now().UnixNano())
	return s, nil
}

// Start binds the listener and returns once it is listening, or the bind
// error. The engine runs until Shutdown.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	if s.started || s.draining.Load() {
		s.mu.Unlock()
		return errors.New("netio: Start after Start or Shutdown")
	}
	s.started = true
	s.mu.Unlock()
	if s.cfg.TLS != nil {
		return s.startStream(ctx)
	}

	opts := []gnet.Option{
		gnet.WithMulticore(s.cfg.Multicore),
		gnet.WithNumEventLoop(s.cfg.NumLoops),
		gnet.WithTicker(s.cfg.IdleTimeout > 0 || s.cfg.ReadTimeout > 0),
		gnet.WithLogger(gnetLogger{l: s.log, draining: &s.draining}),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
		// Without SO_REUSEPORT one listener feeds all loops, so ":0" binds
		// one port and Addr reports it.
		gnet.WithReusePort(false),
		// SO_REUSEADDR: a restarted broker binds its port again at once,
		// although connections it closed still sit in TIME_WAIT on it.
		gnet.WithReuseAddr(true),
	}
	go func() {
		err := gnet.Run(&events{s: s}, "tcp://"+s.cfg.Addr, opts...)
		s.mu.Lock()
		s.runErr = err
		if s.lnFD >= 0 {
			_ = unix.Close(s.lnFD)
			s.lnFD = -1
		}
		s.mu.Unlock()
		close(s.runDone)
	}()
	select {
	case <-s.booted:
		s.log.Info("netio: listening", "bound", s.Addr().String())
		return nil
	case <-s.runDone:
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.runErr == nil {
			return errors.New("netio: engine stopped before listening")
		}
		return fmt.Errorf("netio: listen %s: %w", s.cfg.Addr, s.runErr)
	case <-ctx.Done():
		// Booting does no I/O once the socket is bound, so this wait is short.
		select {
		case <-s.booted:
			s.stopEngine()
		case <-s.runDone:
		}
		return ctx.Err()
	}
}

// Addr is the bound address (the chosen port when Config.Addr ends in
// ":0"), or nil before Start succeeded.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Shutdown stops accepting connections and handing frames, waits until
// every frame in flight has called done (or ctx ends), then closes all
// connections (OnClose gets ErrServerClosed) and stops the engine. It
// returns ctx's error if ctx ended first; the engine is stopped regardless.
func (s *Server) Shutdown(ctx context.Context) error {
	s.draining.Store(true)
	if d, ok := s.h.(Drainer); ok {
		d.OnDrain()
	}
	s.mu.Lock()
	started := s.started
	s.mu.Unlock()
	if !started {
		return nil
	}
	var waitErr error
	for s.inflight.Load() > 0 && waitErr == nil {
		select {
		case <-s.drained:
		case <-ctx.Done():
			waitErr = ctx.Err()
		}
	}
	if s.cfg.TLS != nil {
		return s.shutdownStream(ctx, waitErr)
	}
	select {
	case <-s.booted:
		if err := s.stopListening(); err != nil {
			s.log.Debug("netio: cannot shut the listener down; stopping the engine", "err", err)
			s.stopEngine()
		}
	case <-s.runDone:
	}
	select {
	case <-s.runDone:
	case <-ctx.Done():
		return ctx.Err()
	}
	return waitErr
}

// stopListening shuts the listening socket down (shutdown(2) on a copy of
// its descriptor), and that stops the engine. Stopping the engine directly
// races: gnet's acceptor may take a connection and queue it to an event
// loop that has already exited, leaving the socket open with nobody to
// read or close it. With the listener shut down, accept fails, the
// acceptor exits and shuts the engine down itself, and the loops run every
// connection queued to them (OnOpen closes it: draining) before they exit.
// Connections still in the kernel's accept queue are reset.
func (s *Server) stopListening() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lnShut {
		return nil // another Shutdown did it
	}
	if s.lnFD < 0 {
		return errors.New("no copy of the listener")
	}
	if err := unix.Shutdown(s.lnFD, unix.SHUT_RDWR); err != nil {
		return fmt.Errorf("shutdown listener: %w", err)
	}
	s.lnShut = true
	return nil
}

// stopEngine tells the engine to stop without waiting: Engine.Stop cancels
// the engine and then polls for it every 500 ms until its ctx ends, so an
// ended ctx makes it return at once; runDone tells when gnet.Run returned.
func (s *Server) stopEngine() {
	s.mu.Lock()
	eng := s.eng
	s.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = eng.Stop(ctx)
}

// frameFinished counts down a frame in flight and wakes Shutdown.
// admit counts a frame in flight unless the server is draining, and
// reports whether it may be handed to the handler. Counting before
// looking at draining is the rule every way of handing a frame follows:
// Shutdown then either sees the frame in flight and waits for it, or the
// frame sees draining and backs out. An admitted frame ends with
// frameFinished.
func (s *Server) admit() bool {
	s.inflight.Add(1)
	if s.draining.Load() {
		s.frameFinished()
		return false
	}
	return true
}

func (s *Server) frameFinished() {
	// Once draining, inflight only rises for an instant in admit, which
	// backs out at once, so reaching zero means every real frame is done.
	if s.inflight.Add(-1) == 0 && s.draining.Load() {
		s.drainedOnce.Do(func() { close(s.drained) })
	}
}

// serve runs one frame on its own goroutine.
func (s *Server) serve(c *Conn, frame []byte) {
	d := &frameDone{c: c, n: int32(len(frame))}
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("netio: handler panicked", "conn", c.id, "remote", c.remote.String(), "panic", r)
			c.closeWith(fmt.Errorf("%w: %v", ErrHandlerPanic, r))
			d.done()
		}
	}()
	s.h.OnFrame(c, frame, d.done)
}

// expiredConns returns the connections to close at now: those with
// nothing in flight and no traffic for IdleTimeout (if set), and those
// with a frame started more than ReadTimeout ago (if set).
func (s *Server) expiredConns(now int64) (idle, slow []*Conn) {
	idleCut := now - int64(s.cfg.IdleTimeout)
	readCut := now - int64(s.cfg.ReadTimeout)
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if s.cfg.ReadTimeout > 0 {
			if since := c.frameSince.Load(); since != 0 && since < readCut {
				slow = append(slow, c)
				continue
			}
		}
		if s.cfg.IdleTimeout > 0 && c.inflight.Load() == 0 && c.lastActive.Load() < idleCut {
			idle = append(idle, c)
		}
	}
	return idle, slow
}

// Conns is the number of open connections.
func (s *Server) Conns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}
