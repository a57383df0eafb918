package netio

import (
	"fmt"

	"github.com/panjf2000/gnet/v2"
)

// Serial connections read ahead: the event loop copies complete frames into
// the connection's queue, and one goroutine at a time (serveSerial) hands
// them to the handler, the next right after done() of the previous one. A
// pipelined client (Kafka's producer keeps up to five requests in flight)
// thus costs no event-loop wake-up and no hand-off per frame, only per
// burst; a serveSerial that finds nothing to do returns its goroutine to
// the server's idle workers (workers.go), so idle connections hold none.
//
// The queue holds at most serialReadAhead bytes, or one frame of any size
// (a frame that does not fit waits until the queue is empty), and at most
// MaxBufferedBytes: what does not fit stays unread in gnet's buffer, under
// the same ErrBacklog bound as a Concurrent connection at MaxInFlight.

// serialReadAhead bounds the bytes of frames copied ahead per connection.
const serialReadAhead = 1 << 20

// serialQueue is a Serial connection's read-ahead; Conn.mu guards it.
type serialQueue struct {
	frames [][]byte
	head   int  // frames[head:] are waiting
	bytes  int  // bytes in frames[head:]
	busy   bool // a frame was handed and its done is pending
	// running says a serveSerial goroutine is live; it exits when the
	// queue is empty or the handler returned before calling done.
	running bool
	// stalled says the event loop left complete frames unread because the
	// queue was full; the next pop wakes it.
	stalled bool
}

func (q *serialQueue) push(frame []byte) {
	if q.head == len(q.frames) {
		q.frames, q.head = q.frames[:0], 0
	}
	q.frames = append(q.frames, frame)
	q.bytes += len(frame)
}

func (q *serialQueue) pop() []byte {
	frame := q.frames[q.head]
	q.frames[q.head] = nil
	q.head++
	q.bytes -= len(frame)
	return frame
}

func (q *serialQueue) empty() bool { return q.head == len(q.frames) }

// reset drops the waiting frames; they will never be handed.
func (q *serialQueue) reset() {
	clear(q.frames)
	q.frames, q.head, q.bytes = nil, 0, 0
}

// drainSerial copies every complete frame in c's inbound buffer into c's
// queue, as far as the queue's bounds allow, and starts serveSerial if
// nobody is handing c's frames. It runs on c's event loop.
func (s *Server) drainSerial(c *Conn) gnet.Action {
	gc := c.gc
	hdrLen := s.cfg.Framer.HeaderLen()
	limit := min(serialReadAhead, s.cfg.MaxBufferedBytes)
	for {
		buffered := gc.InboundBuffered()
		n, ok, err := s.frameLen(c, buffered)
		if err != nil {
			return s.reject(c, err)
		}
		if !ok {
			return gnet.None
		}
		c.mu.Lock()
		full := !c.serial.empty() && c.serial.bytes+n > limit
		c.serial.stalled = full
		c.mu.Unlock()
		if full {
			if buffered > s.cfg.MaxBufferedBytes {
				return s.reject(c, fmt.Errorf("netio: %d bytes waiting: %w", buffered, ErrBacklog))
			}
			return gnet.None // the next pop wakes us
		}
		if buffered-hdrLen < n {
			c.wantBytes(hdrLen + n - buffered)
			return gnet.None
		}
		if s.inline != nil && n <= maxInlineFrame && c.serialIdle() {
			handled, action := s.serialInlineFrame(c, hdrLen, n)
			if handled {
				if action != gnet.None {
					return action
				}
				continue
			}
		}
		frame, err := s.readFrame(c, n)
		if err != nil {
			return s.reject(c, err)
		}
		c.mu.Lock()
		if c.closing {
			c.mu.Unlock()
			return gnet.None
		}
		c.serial.push(frame)
		start := c.startSerialLocked()
		c.mu.Unlock()
		if start {
			s.spawnSerial(c)
		}
	}
}

// startSerialLocked reports whether a serveSerial goroutine must be started
// for c, and if so marks it running.
func (c *Conn) startSerialLocked() bool {
	q := &c.serial
	if q.running || q.busy || q.empty() || c.closing || c.closed {
		return false
	}
	q.running = true
	return true
}

// serveSerial hands c's queued frames to the handler one at a time, while
// each frame's done is called before the handler returns.
func (s *Server) serveSerial(c *Conn) {
	for {
		c.mu.Lock()
		q := &c.serial
		if q.busy || q.empty() || c.closing || c.closed {
			q.running = false
			c.mu.Unlock()
			return
		}
		frame := q.pop()
		q.busy = true
		if q.stalled && !c.closed {
			q.stalled = false
			_ = c.gc.Wake(nil)
		}
		c.mu.Unlock()

		if !s.admit() {
			c.mu.Lock()
			q.running, q.busy = false, false
			q.reset()
			c.mu.Unlock()
			return
		}
		c.inflight.Add(1)
		s.serve(c, frame)
	}
}

// serialDone is done's part for a Serial connection: it frees the slot and
// restarts serveSerial if it exited while the frame was in flight.
func (s *Server) serialDone(c *Conn) {
	c.mu.Lock()
	c.serial.busy = false
	start := c.startSerialLocked()
	c.mu.Unlock()
	if start {
		s.spawnSerial(c)
	}
}

// serialInlineFrame offers the idle connection c's next frame (n bytes
// after a hdrLen header, all buffered) to the InlineHandler; a frame it
// answers is discarded and its reply left in c.out.
func (s *Server) serialInlineFrame(c *Conn, hdrLen, n int) (bool, gnet.Action) {
	if !s.admit() {
		return false, gnet.None // serveSerial drops it
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
