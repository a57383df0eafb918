package netio

import "slices"

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

// reset drops the waiting frames, which will never be handed, and
// returns them so the caller can release their budget (outside Conn.mu:
// Release may wake connections).
func (q *serialQueue) reset() [][]byte {
	var dropped [][]byte
	if q.head < len(q.frames) {
		dropped = slices.Clone(q.frames[q.head:])
	}
	clear(q.frames)
	q.frames, q.head, q.bytes = nil, 0, 0
	return dropped
}

// serialFull reports whether c's queue has no room for a frame of n
// bytes (a frame of any size fits an empty queue); the next pop then
// wakes the loop.
func (s *Server) serialFull(c *Conn, n int) bool {
	limit := min(serialReadAhead, s.cfg.MaxBufferedBytes)
	c.mu.Lock()
	full := !c.serial.empty() && c.serial.bytes+n > limit
	c.serial.stalled = full
	c.mu.Unlock()
	return full
}

// queueSerial queues a frame read off c and starts serveSerial if nobody
// is handing c's frames; false when c is closing.
func (s *Server) queueSerial(c *Conn, frame []byte) bool {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		s.releaseFrames(frame)
		return false
	}
	c.serial.push(frame)
	start := c.startSerialLocked()
	c.mu.Unlock()
	if start {
		s.spawnSerial(c)
	}
	return true
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
			dropped := q.reset()
			c.mu.Unlock()
			s.releaseFrames(append(dropped, frame)...)
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
