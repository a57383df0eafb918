package netio

import (
	"encoding/binary"
	"sync/atomic"
	"testing"
	"time"
)

// TestSerialReadAheadStalls pipelines more than the read-ahead holds while
// the handler finishes some frames before returning and others later, from
// another goroutine: every reply comes back in order, one frame at a time.
func TestSerialReadAheadStalls(t *testing.T) {
	var busy, overlap atomic.Int32
	h := &funcHandler{frame: func(c *Conn, frame []byte, done func()) {
		if busy.Add(1) != 1 {
			overlap.Add(1)
		}
		finish := func() {
			busy.Add(-1)
			echo(c, frame, done)
		}
		if binary.BigEndian.Uint32(frame)%3 == 0 {
			go func() {
				time.Sleep(20 * time.Microsecond)
				finish()
			}()
			return
		}
		finish()
	}}
	// The read-ahead is bounded by MaxBufferedBytes: 4 frames here.
	s := startServer(t, Config{Framer: LengthPrefixed{Max: 1024}, MaxBufferedBytes: 4 << 10}, h)
	nc := dial(t, s)
	// Six frames outstanding: one in flight, four read ahead, the rest
	// unread but under MaxBufferedBytes.
	const frames, window = 500, 6
	credit := make(chan struct{}, window)
	for range window {
		credit <- struct{}{}
	}
	go func() {
		for i := range frames {
			<-credit
			body := binary.BigEndian.AppendUint32(make([]byte, 0, 1000), uint32(i))
			if _, err := nc.Write(encode(body[:1000])); err != nil {
				return
			}
		}
	}()
	for i := range frames {
		if got := binary.BigEndian.Uint32(mustReadFrame(t, nc)); got != uint32(i) {
			t.Fatalf("reply %d carries request %d", i, got)
		}
		credit <- struct{}{}
	}
	if n := overlap.Load(); n != 0 {
		t.Errorf("%d frames handed while another was in flight", n)
	}
}

// TestSerialCloseDropsReadAhead: frames read ahead behind a parked request
// are never handed once the connection is closed.
func TestSerialCloseDropsReadAhead(t *testing.T) {
	var handed atomic.Int32
	polls := make(chan parked, 1)
	h := &funcHandler{frame: func(c *Conn, frame []byte, done func()) {
		handed.Add(1)
		polls <- parked{c, frame, done}
	}}
	s := startServer(t, Config{}, h)
	nc := dial(t, s)
	writeFrame(t, nc, []byte("parked"))
	p := <-polls
	for range 3 {
		writeFrame(t, nc, []byte("queued"))
	}
	waitFor(t, "3 frames read ahead", func() bool {
		p.c.mu.Lock()
		defer p.c.mu.Unlock()
		return len(p.c.serial.frames)-p.c.serial.head == 3
	})
	_ = p.c.Close()
	p.done()
	h.waitClosed(t, p.c)
	if n := handed.Load(); n != 1 {
		t.Fatalf("%d frames handed, want 1", n)
	}
}
