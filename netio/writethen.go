package netio

import (
	"slices"
	"sync/atomic"

	"github.com/panjf2000/gnet/v2"
)

// WriteThen is Write with a completion callback, for buffers the caller
// must get back: a RocketMQ pull response sends its header followed by
// slices of the mapped CommitLog and releases them in done (zero copy,
// docs/design.md section 3).
//
// done runs exactly once, with nil once every byte of bufs has left the
// caller's slices (written to the socket, or copied into gnet's outbound
// buffer when the socket is full), or with an error when the connection
// closed first. From then on the caller may reuse or unmap bufs. done runs
// on the event loop, or on the calling goroutine when WriteThen fails at
// once (it then also returns ErrClosed); it must not block.
func (c *Conn) WriteThen(done func(error), bufs ...[]byte) error {
	var once atomic.Bool
	finish := func(err error) {
		if once.CompareAndSwap(false, true) {
			done(err)
		}
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		finish(ErrClosed)
		return ErrClosed
	}
	c.lastActive.Store(c.srv.now.Load())
	// gnet calls back after writev: the bytes are on the socket or copied
	// to the outbound buffer, or the connection was gone (net.ErrClosed).
	// Over maxIovecs buffers go out in chunks, run in order on the event
	// loop: the last chunk's success means all of them succeeded.
	if len(bufs) == 0 {
		c.mu.Unlock()
		finish(nil)
		return nil
	}
	if c.st != nil {
		c.mu.Unlock()
		if !c.st.enqueue(pendingWrite{bufs: bufs, done: finish}) {
			finish(ErrClosed)
			return ErrClosed
		}
		return nil
	}
	left := (len(bufs) + maxIovecs - 1) / maxIovecs
	counted := c.srv.serialInline
	var err error
	for chunk := range slices.Chunk(bufs, maxIovecs) {
		left--
		last := left == 0
		if counted {
			c.queued.Add(1)
		}
		err = c.gc.AsyncWritev(chunk, func(_ gnet.Conn, err error) error {
			if counted {
				c.queued.Add(-1)
			}
			if err != nil {
				finish(ErrClosed)
			} else if last {
				finish(nil)
			}
			return nil
		})
		if err != nil {
			if counted {
				c.queued.Add(-1)
			}
			break
		}
	}
	c.mu.Unlock()
	if err != nil {
		finish(ErrClosed)
		return ErrClosed
	}
	return nil
}
