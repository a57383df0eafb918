package netio

import (
	"fmt"

	"github.com/panjf2000/gnet/v2"
)

// A frame larger than assembleMin that has not arrived whole is
// assembled: its bytes move out of gnet's inbound buffer into a buffer of
// its own as they arrive, and that buffer is charged to the memory budget
// (Config.Limits) as it grows. gnet's buffer therefore stays small
// whatever the frame size (a 100 MiB request that stalled halfway held a
// 128 MiB ring buffer before, uncounted, which gnet's pool then kept),
// and a client that starts a frame and stops holds only what it sent,
// counted, until Config.ReadTimeout closes it.
//
// The buffer grows by doubling from assembleFirst to the frame's declared
// length, never past it, so the bytes charged for a complete frame are
// its length, which done releases. A growth the budget refuses leaves the
// connection waiting: its bytes stay unread in gnet's buffer (gnet cannot
// stop polling a socket) under the MaxBufferedBytes bound, and the next
// Release wakes the loop to try again.
//
// Smaller frames wait whole in gnet's buffer as before; they are charged
// when copied out (readFrame), not when answered inline.

// assembleMin is the size past which an incomplete frame is assembled.
const assembleMin = maxInlineFrame

// assembleFirst is the first buffer of an assembled frame.
const assembleFirst = 1 << 20

// fillPart moves what gnet holds of c's frame under assembly into it. It
// reports whether the frame is complete; if not, action says what the
// loop does (close, when the connection waited too long for the budget).
func (s *Server) fillPart(c *Conn) (complete bool, action gnet.Action) {
	for len(c.part) < c.partN {
		avail := c.gc.InboundBuffered()
		if avail == 0 {
			c.wantBytes(c.partN - len(c.part))
			c.startedFrame()
			return false, gnet.None
		}
		if len(c.part) == cap(c.part) && !s.growPart(c, avail) {
			c.startedFrame()
			return false, s.waitBudget(c)
		}
		room := c.part[len(c.part):min(cap(c.part), len(c.part)+avail)]
		m, _ := c.gc.Read(room)
		if m == 0 {
			return false, s.reject(c, fmt.Errorf("netio: read of %d buffered bytes gave none: %w", avail, ErrBadFrame))
		}
		c.part = c.part[:len(c.part)+m]
	}
	return true, gnet.None
}

// growPart enlarges c's assembly buffer, charging the budget for it; on
// a refusal it has registered c to be woken and reports false.
func (s *Server) growPart(c *Conn, avail int) bool {
	want := min(max(2*cap(c.part), assembleFirst, len(c.part)+min(avail, assembleFirst)), c.partN)
	delta := int64(want - cap(c.part))
	if !s.budget().ChargeOrWait(delta, c.budgetWake) {
		return false
	}
	nb := make([]byte, len(c.part), want)
	copy(nb, c.part)
	c.part = nb
	c.charged += delta
	return true
}

// startPart begins assembling c's next frame of n bytes: the header is
// consumed, the body follows in fillPart.
func (s *Server) startPart(c *Conn, n int) {
	_, _ = c.gc.Discard(s.cfg.Framer.HeaderLen())
	c.part, c.partN, c.charged = make([]byte, 0), n, 0
	c.startedFrame()
}

// takePart hands the complete assembled frame over (its charge goes with
// it, released by done) and clears the assembly.
func (c *Conn) takePart() []byte {
	frame := c.part
	c.part, c.partN, c.charged = nil, 0, 0
	c.frameSince.Store(0)
	return frame
}

// dropPart frees a frame under assembly (the connection closed).
func (s *Server) dropPart(c *Conn) {
	if c.charged > 0 {
		s.budget().Release(c.charged)
	}
	c.part, c.partN, c.charged = nil, 0, 0
}

// waitBudget leaves c waiting for the budget (the caller registered it),
// closing it when too many bytes wait unread meanwhile.
func (s *Server) waitBudget(c *Conn) gnet.Action {
	if buffered := c.gc.InboundBuffered(); buffered > s.cfg.MaxBufferedBytes {
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
