package netio

import "golang.org/x/sys/unix"

// maxLowat bounds the receive low-water mark asked of the kernel.
const maxLowat = 64 << 10

// A client may write one frame in pieces: rocketmq-client-go writes the
// length, the header length, the header and the body of each request with
// four write(2)s, and a large request arrives in many segments. Each piece
// that arrives on its own wakes the event loop, which finds an incomplete
// frame and sleeps again: on a paravirtualized 2-core machine a wake-up
// and the sleep after it cost more than the rest of a RocketMQ send.
//
// So when the loop leaves a frame incomplete, it sets the socket's
// SO_RCVLOWAT to the bytes still missing (up to maxLowat): the kernel
// reports the socket readable only once they are there, or at end of
// stream, an error, or when the receive buffer runs short (Linux wakes
// the reader then whatever the mark). The next OnTraffic sets it back to 1
// once no frame is incomplete. Both setsockopts together cost less than
// one extra wake-up, and only connections that split frames pay them.

// wantBytes records that c's next frame lacks need bytes; OnTraffic
// passes it on to the kernel (setLowat) when the loop is done with c.
func (c *Conn) wantBytes(need int) { c.need = need }

// setLowat sets c's receive low-water mark to the bytes the last drain
// found missing (1 when none), if that changed. A socket that refuses
// the option is left at the kernel's default for good.
func (s *Server) setLowat(c *Conn) {
	want := min(max(c.need, 1), maxLowat)
	c.need = 0
	if want == max(c.lowat, 1) || c.lowat < 0 {
		return
	}
	if err := unix.SetsockoptInt(c.gc.Fd(), unix.SOL_SOCKET, unix.SO_RCVLOWAT, want); err != nil {
		s.log.Debug("netio: cannot set SO_RCVLOWAT", "conn", c.id, "err", err)
		c.lowat = -1
		return
	}
	c.lowat = want
}
