package netio

import (
	"fmt"

	"github.com/panjf2000/gnet/v2"
)

// A frame larger than assembleMin that has not arrived whole is
// assembled: its bytes move out of gnet's inbound buffer as they arrive
// into chunks of its own of up to assembleChunk bytes, each charged to the
// memory budget (Config.Limits) before it is allocated. gnet's buffer
// therefore stays small whatever the frame size (a 100 MiB request that
// stalled halfway held a 128 MiB ring buffer before, uncounted, which
// gnet's pool then kept), and a client that starts a frame and stops
// holds only what it sent, counted, until Config.ReadTimeout closes it.
// Chunks, not one buffer grown by doubling: a partial frame then leaves
// no garbage of earlier, smaller copies (twenty 10 MB partial frames
// peaked 20-40 MiB higher grown by doubling). A frame of more than one
// chunk is joined into one slice when complete (one copy; the joined
// slice inherits the chunks' charge, which done releases).
//
// A chunk the budget refuses leaves the connection waiting: its bytes
// stay unread in gnet's buffer (gnet cannot stop polling a socket) under
// budgetWaitMax, and the next Release wakes the loop to try again.
//
// Smaller frames wait whole in gnet's buffer as before; they are charged
// when copied out (readFrame), not when answered inline.

// assembleMin is the size past which an incomplete frame is assembled.
const assembleMin = maxInlineFrame

// assembleChunk is the largest chunk of an assembled frame.
const assembleChunk = 1 << 20

// fillPart moves what gnet holds of c's frame under assembly into its
// chunks. It reports whether the frame is complete; if not, action says
// what the loop does (close, when the connection waited too long for the
// budget).
func (s *Server) fillPart(c *Conn) (complete bool, action gnet.Action) {
	a := &c.asm
	for a.got < a.n {
		avail := c.gc.InboundBuffered()
		if avail == 0 {
			c.wantBytes(a.n - a.got)
			c.startedFrame()
			return false, gnet.None
		}
		k := len(a.chunks) - 1
		if k < 0 || len(a.chunks[k]) == cap(a.chunks[k]) {
			size := min(assembleChunk, a.n-a.got)
			if !s.budget().ChargeOrWait(int64(size), c.budgetWake) {
				c.startedFrame()
				return false, s.waitBudget(c)
			}
			a.charged += int64(size)
			a.chunks = append(a.chunks, make([]byte, 0, size))
			k++
		}
		ch := a.chunks[k]
		m, _ := c.gc.Read(ch[len(ch):min(cap(ch), len(ch)+avail)])
		if m == 0 {
			return false, s.reject(c, fmt.Errorf("netio: read of %d buffered bytes gave none: %w", avail, ErrBadFrame))
		}
		a.chunks[k] = ch[:len(ch)+m]
		a.got += m
	}
	return true, gnet.None
}

// assembly is a frame under assembly; event loop only.
type assembly struct {
	chunks  [][]byte
	got, n  int   // bytes received, declared
	charged int64 // bytes charged to the budget
}

// startPart begins assembling c's next frame of n bytes: the header is
// consumed, the body follows in fillPart.
func (s *Server) startPart(c *Conn, n int) {
	_, _ = c.gc.Discard(s.cfg.Framer.HeaderLen())
	c.asm = assembly{n: n}
	c.assembling = true
	c.startedFrame()
}

// takePart hands the complete assembled frame over (its charge goes with
// it, released by done) and clears the assembly.
func (c *Conn) takePart() []byte {
	a := &c.asm
	frame := a.chunks[0]
	if len(a.chunks) > 1 {
		frame = make([]byte, 0, a.n)
		for _, ch := range a.chunks {
			frame = append(frame, ch...)
		}
	}
	c.asm, c.assembling = assembly{}, false
	c.frameSince.Store(0)
	return frame
}

// dropPart frees a frame under assembly (the connection closed).
func (s *Server) dropPart(c *Conn) {
	if c.asm.charged > 0 {
		s.budget().Release(c.asm.charged)
	}
	c.asm, c.assembling = assembly{}, false
}

// budgetWaitMax bounds the unread bytes of a connection waiting for the
// memory budget. gnet reads a socket whatever its handler does, so a
// connection cannot be paused with TCP backpressure as Kafka mutes one;
// what the client sends meanwhile lands in gnet's buffer, outside the
// budget. Past this the connection is closed (ErrBacklog): under memory
// pressure a client that keeps sending is shed (it reconnects and
// retries) rather than buffered without bound.
const budgetWaitMax = 1 << 20

// waitBudget leaves c waiting for the budget (the caller registered it),
// closing it when too many bytes wait unread meanwhile.
func (s *Server) waitBudget(c *Conn) gnet.Action {
	if buffered := c.gc.InboundBuffered(); buffered > max(budgetWaitMax, assembleMin+s.cfg.Framer.HeaderLen()) {
		return s.reject(c, fmt.Errorf("netio: %d bytes waiting for the memory budget: %w", buffered, ErrBacklog))
	}
	return gnet.None
}

// startedFrame notes that c has an incomplete frame, for the read
// timeout, unless the frame was noted already.
func (c *Conn) startedFrame() {
	if c.frameSince.Load() == 0 {
		c.frameSince.Store(max(c.srv.now.Load(), 1))
	}
}

// chargeFrame charges n bytes of a whole frame about to be copied out of
// gnet's buffer, or registers c to be woken and reports false.
func (s *Server) chargeFrame(c *Conn, n int) bool {
	return s.budget().ChargeOrWait(int64(n), c.budgetWake)
}

// releaseFrames gives back the charge of frames that will not be served.
func (s *Server) releaseFrames(frames ...[]byte) {
	b := s.budget()
	if b == nil {
		return
	}
	var n int64
	for _, f := range frames {
		n += int64(len(f))
	}
	b.Release(n)
}
