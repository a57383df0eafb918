package netio

import (
	"net"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/panjf2000/gnet/v2"
)

// Handler is what a protocol adapter implements.
type Handler interface {
	// OnOpen is called on the event loop when a connection opens, before
	// any of its frames. It must not block.
	OnOpen(c *Conn)
	// OnFrame is called off the event loop, on a goroutine netio starts
	// or reuses (under Serial, consecutive frames may share one; under
	// Concurrent, a worker that finished a frame waits for the next, see
	// workers.go), with one frame body
	// (without the header); it may block. The handler owns frame. It may
	// return before replying; it must call done exactly once (extra calls
	// are ignored) when the request is finished, replied or not (Kafka
	// acks=0 writes nothing). Under Serial the connection's next frame
	// waits for done.
	OnFrame(c *Conn, frame []byte, done func())
	// OnClose is called on the event loop once, when the connection is
	// closed; err says why (nil or io.EOF for an orderly close, or one of
	// this package's sentinel errors). Frames in flight may still be running
	// and their Writes return ErrClosed. It must not block.
	OnClose(c *Conn, err error)
}

// Drainer is a Handler that wants to know when Shutdown starts: Shutdown
// waits for the frames in flight, and a handler that parks requests (a
// Kafka fetch waiting for data) answers them at once instead. OnDrain is
// called once, from Shutdown's goroutine; it must not block.
type Drainer interface {
	OnDrain()
}

// Conn is one client connection. Its methods are safe from any goroutine.
type Conn struct {
	id     uint64
	srv    *Server
	gc     gnet.Conn // the gnet transport; nil on a TLS listener
	st     *stream   // the stream (TLS) transport; nil on gnet
	local  net.Addr
	remote net.Addr
	value  atomic.Pointer[any]
	// maxFrame, if positive, bounds this connection's frames below the
	// Framer's maximum (SetMaxFrame).
	maxFrame atomic.Int64

	// inflight counts frames handed to the handler whose done is pending.
	inflight atomic.Int32
	// stalled is set by the event loop when it left frames unread because
	// inflight was at the limit; done clears it and wakes the loop.
	// Concurrent only: Serial uses serial.stalled.
	stalled atomic.Bool
	// lastActive is the server's coarse clock at the last read, write or done.
	lastActive atomic.Int64
	// queued counts the asynchronous writes queued on the event loop and
	// not yet run, when the server answers Serial frames inline: a frame
	// answered there must not overtake the reply of the one before.
	queued atomic.Int32
	// out collects the replies of frames answered inline during one
	// OnTraffic; only the event loop touches it (inline.go).
	out []byte
	// need is what the last drain found missing of an incomplete frame
	// (0: none) and lowat the SO_RCVLOWAT now set (0: the kernel's
	// default of 1; -1: the socket refused it); event loop only (lowat.go).
	need  int
	lowat int
	// asm is the frame under assembly, if assembling (assemble.go);
	// event loop only. frameSince is the server's coarse clock when the
	// current incomplete frame was first seen (0: none), for
	// Config.ReadTimeout.
	asm        assembly
	assembling bool
	frameSince atomic.Int64
	// budgetWake wakes the loop for c when budget was released (made
	// once: Budget keeps it while c waits).
	budgetWake func()

	// mu guards the fields below. It is held across every gnet call that
	// enqueues work on the event loop (write, wake, close), so that none is
	// made after OnClose: once the engine stops, gnet's poller is gone.
	mu       sync.Mutex
	closed   bool
	closing  bool // Close or closeWith was called
	closeErr error
	serial   serialQueue // Serial ordering only
}

// ID is unique among the connections of one Server.
func (c *Conn) ID() uint64 { return c.id }

// RemoteAddr is the client's address.
func (c *Conn) RemoteAddr() net.Addr { return c.remote }

// LocalAddr is the server's address of this connection.
func (c *Conn) LocalAddr() net.Addr { return c.local }

// Closed reports whether the connection is closed or closing: its writes
// fail and its frames in flight may give up early.
func (c *Conn) Closed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed || c.closing
}

// SetValue stores per-connection adapter state (a RocketMQ client id, Kafka
// fetch sessions, ...).
func (c *Conn) SetValue(v any) { c.value.Store(&v) }

// Value returns what SetValue stored, or nil.
func (c *Conn) Value() any {
	if p := c.value.Load(); p != nil {
		return *p
	}
	return nil
}

// Write queues bufs to be written to the connection, in order and after
// everything queued before. It is the way to reply and to push unsolicited
// frames (RocketMQ NOTIFY_CONSUMER_IDS_CHANGED). Write takes ownership of
// bufs and of every slice in it: the caller must not modify them afterwards,
// nor reuse the bufs slice itself. It returns ErrClosed if the connection is
// closed; a write that fails later closes the connection.
func (c *Conn) Write(bufs ...[]byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	c.lastActive.Store(c.srv.now.Load())
	if c.st != nil {
		if !c.st.enqueue(pendingWrite{bufs: bufs}) {
			return ErrClosed
		}
		return nil
	}
	var cb gnet.AsyncCallback
	if c.srv.serialInline {
		cb = c.srv.wrote
	}
	if len(bufs) == 1 {
		c.queue(cb)
		if c.gc.AsyncWrite(bufs[0], cb) != nil {
			c.unqueue(cb)
			return ErrClosed
		}
		return nil
	}
	for chunk := range slices.Chunk(bufs, maxIovecs) {
		c.queue(cb)
		if c.gc.AsyncWritev(chunk, cb) != nil {
			c.unqueue(cb)
			return ErrClosed
		}
	}
	return nil
}

// queue and unqueue count an asynchronous write whose callback is cb
// (Server.wrote, when writes are counted; nil otherwise).
func (c *Conn) queue(cb gnet.AsyncCallback) {
	if cb != nil {
		c.queued.Add(1)
	}
}

func (c *Conn) unqueue(cb gnet.AsyncCallback) {
	if cb != nil {
		c.queued.Add(-1)
	}
}

// maxIovecs is Linux's UIO_MAXIOV (IOV_MAX on the BSDs): writev fails
// with EINVAL for more buffers, and gnet's first writev of an AsyncWritev
// does not cut the list (its flush of the outbound buffer does), so the
// connection was closed with "writev: invalid argument" (a Kafka fetch of
// over a thousand small batches). Longer lists go out as several
// AsyncWritev calls: gnet runs them in order, and once one has left bytes
// in the outbound buffer the next ones are appended behind them.
const maxIovecs = 1024

// Close closes the connection after the writes queued before it; Handler
// OnClose follows on the event loop. Closing twice is harmless.
func (c *Conn) Close() error {
	c.closeWith(nil)
	return nil
}

// closeWith closes the connection, remembering err for OnClose.
func (c *Conn) closeWith(err error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	if c.closeErr == nil {
		c.closeErr = err
	}
	c.closing = true
	dropped := c.serial.reset() // a closing connection hands no more frames
	if c.st != nil {
		c.st.closeAfterWrites()
	} else {
		_ = c.gc.Close()
	}
	c.mu.Unlock()
	c.srv.releaseFrames(dropped...)
}

// setCloseErr remembers why the event loop is about to close c.
func (c *Conn) setCloseErr(err error) {
	c.mu.Lock()
	if c.closeErr == nil {
		c.closeErr = err
	}
	c.closing = true
	dropped := c.serial.reset()
	c.mu.Unlock()
	c.srv.releaseFrames(dropped...)
}

// markClosed is called by OnClose on the event loop; it returns the reason
// remembered by closeWith or setCloseErr, if any.
func (c *Conn) markClosed() error {
	c.mu.Lock()
	c.closed = true
	dropped := c.serial.reset()
	err := c.closeErr
	c.mu.Unlock()
	c.srv.releaseFrames(dropped...)
	return err
}

// wake makes the event loop look at c's unread bytes again.
func (c *Conn) wake() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.st != nil {
		c.st.kick()
		return
	}
	if !c.closed {
		_ = c.gc.Wake(nil)
	}
}

// frameDone is the done callback of one frame of n bytes (charged to
// the budget, if any, until done).
type frameDone struct {
	c    *Conn
	n    int32 // frames are under 2 GiB (LengthPrefixed); 16 bytes in all
	once atomic.Bool
}

func (d *frameDone) done() {
	if !d.once.CompareAndSwap(false, true) {
		return
	}
	c := d.c
	c.srv.budget().Release(int64(d.n))
	c.lastActive.Store(c.srv.now.Load())
	c.inflight.Add(-1)
	if c.st != nil {
		c.st.kick() // the reader hands the next frame
		c.srv.frameFinished()
		return
	}
	if c.srv.cfg.Ordering == Serial {
		c.srv.serialDone(c)
	}
	// The loop sets stalled before re-checking inflight, and we decrement
	// before clearing stalled, so either the loop sees the free slot or we
	// see stalled: no wake-up is lost.
	if c.stalled.CompareAndSwap(true, false) {
		c.wake()
	}
	c.srv.frameFinished()
}
