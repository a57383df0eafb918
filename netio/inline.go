package netio

import (
	"fmt"

	"github.com/panjf2000/gnet/v2"
)

// InlineHandler is a Handler that answers some frames on the event loop
// itself. A request that cannot block (a RocketMQ send in ASYNC_FLUSH mode:
// a copy into the page cache, no fsync wait) then costs neither a goroutine
// nor the event-loop wake-up of an asynchronous write: its reply goes out
// with the loop's own write(2), one for all the frames of one read.
//
// Under Serial ordering a frame is offered only while the connection has
// nothing else in progress: no frame queued or being served, and no reply
// of an earlier frame still queued for the loop to write. Its inline reply
// thus keeps its place in the reply order.
type InlineHandler interface {
	Handler
	// OnFrameInline is called on the event loop with each complete frame
	// of up to 64 KiB before it would be handed to OnFrame. frame is valid
	// only during the call (it may alias gnet's read buffer): the handler
	// must not keep it or any slice of it.
	//
	// To answer the frame here it appends its reply, if any, to dst and
	// returns the extended slice and true; the frame is then finished
	// (there is no done). To decline it returns false without having done
	// anything, and the frame goes to OnFrame as usual (a copy of it, off
	// the loop). It must not block: no fsync wait, no long poll, no lock
	// held across I/O; everything it does delays every connection of the
	// loop.
	OnFrameInline(c *Conn, frame, dst []byte) ([]byte, bool)
}

// maxInlineFrame is the largest frame offered to an InlineHandler. A
// larger one goes to OnFrame straight away: the work on it is mostly
// copying, and a frame that wraps around gnet's ring buffer would be
// copied twice (once to peek it whole, once to hand it on).
const maxInlineFrame = 64 << 10

// maxKeptOut is the capacity of a connection's inline reply buffer kept
// between reads; a larger one is dropped after it is written.
const maxKeptOut = 64 << 10

// inlineFrame offers frame, which aliases c's inbound buffer, to
// s.inline on the event loop, and reports whether it answered it; its
// reply is then in c.out. A panicking handler closes c: the frame counts as
// handled and the action is gnet.Close.
func (s *Server) inlineFrame(c *Conn, frame []byte) (handled bool, action gnet.Action) {
	mark := len(c.out)
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("netio: handler panicked", "conn", c.id, "remote", c.remote.String(), "panic", r)
			c.out = c.out[:mark]
			c.setCloseErr(fmt.Errorf("%w: %v", ErrHandlerPanic, r))
			handled, action = true, gnet.Close
		}
	}()
	out, ok := s.inline.OnFrameInline(c, frame[:len(frame):len(frame)], c.out)
	if !ok {
		return false, gnet.None
	}
	c.out = out
	return true, gnet.None
}

// flushOut writes the replies of inline frames with the loop's own write:
// gnet writes at once, or queues behind bytes already waiting in its
// outbound buffer. It runs on c's event loop. A failed write makes gnet
// close c at once (OnClose runs inside it); flushOut then reports false
// and the caller must not touch c's buffers again.
func (s *Server) flushOut(c *Conn) bool {
	if len(c.out) == 0 {
		return true
	}
	c.lastActive.Store(s.now.Load())
	_, err := c.gc.Write(c.out)
	if cap(c.out) > maxKeptOut {
		c.out = nil
	} else {
		c.out = c.out[:0]
	}
	return err == nil
}

// wroteOne is the callback of a counted asynchronous write (Conn.queued);
// gnet runs it on the event loop once the write ran or failed.
func (s *Server) wroteOne(gc gnet.Conn, _ error) error {
	if c, ok := gc.Context().(*Conn); ok {
		c.queued.Add(-1)
	}
	return nil
}

// serialIdle reports whether a Serial connection has nothing in progress,
// so a frame answered inline keeps its place in the reply order. It runs
// on c's event loop, the only goroutine that queues c's frames; the reply
// of the last frame served is counted in queued before its done frees the
// queue, so seeing the queue free means seeing that write.
func (c *Conn) serialIdle() bool {
	c.mu.Lock()
	q := &c.serial
	idle := !q.running && !q.busy && q.empty() && !c.closing && !c.closed
	c.mu.Unlock()
	return idle && c.queued.Load() == 0
}

// offerInline offers c's next frame (n bytes after a hdrLen header, all
// buffered) to the InlineHandler, without a copy; a frame it answers is
// discarded and its reply left in c.out. While the server drains it
// offers nothing (queueFrame then drops the frame).
func (s *Server) offerInline(c *Conn, hdrLen, n int) (bool, gnet.Action) {
	if !s.admit() {
		return false, gnet.None
	}
	defer s.frameFinished()
	whole, err := c.gc.Peek(hdrLen + n)
	if err != nil {
		return true, s.reject(c, fmt.Errorf("netio: short peek of %d (%v): %w", hdrLen+n, err, ErrBadFrame))
	}
	handled, action := s.inlineFrame(c, whole[hdrLen:])
	if handled && action == gnet.None {
		_, _ = c.gc.Discard(hdrLen + n)
	}
	return handled, action
}
