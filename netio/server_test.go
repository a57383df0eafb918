package netio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestEchoPipelined(t *testing.T) {
	tests := []struct {
		ordering Ordering
		inOrder  bool
	}{
		{Serial, true},
		{Concurrent, false},
	}
	for _, tt := range tests {
		t.Run(tt.ordering.String(), func(t *testing.T) {
			s := startServer(t, Config{Ordering: tt.ordering, Framer: LengthPrefixed{Max: 4096}}, &funcHandler{})
			nc := dial(t, s)
			const n = 1000
			var sent []string
			var out []byte
			for i := range n {
				body := fmt.Sprintf("%d:%s", i, bytes.Repeat([]byte{'x'}, i*7%3000))
				sent = append(sent, body)
				out = append(out, encode([]byte(body))...)
			}
			go func() { _, _ = nc.Write(out) }() // one write: frames cross reads
			var got []string
			for range n {
				got = append(got, string(mustReadFrame(t, nc)))
			}
			if !tt.inOrder {
				slices.Sort(got)
				slices.Sort(sent)
			}
			if !slices.Equal(got, sent) {
				t.Fatalf("replies differ from requests (in order: %v)", tt.inOrder)
			}
		})
	}
}

// TestSerialOrderAcrossConns completes requests out of order across
// connections; each connection still sees one request in flight and its
// replies in request order.
func TestSerialOrderAcrossConns(t *testing.T) {
	var overlap atomic.Int32
	h := &funcHandler{
		open: func(c *Conn) { c.SetValue(new(atomic.Int32)) },
		frame: func(c *Conn, frame []byte, done func()) {
			busy := c.Value().(*atomic.Int32)
			if busy.Add(1) != 1 {
				overlap.Add(1)
			}
			go func() {
				time.Sleep(time.Duration(rand.IntN(200)) * time.Microsecond) // scramble completion order
				busy.Add(-1)
				echo(c, frame, done)
			}()
		},
	}
	s := startServer(t, Config{Ordering: Serial}, h)
	const conns, frames = 8, 200
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for range conns {
		nc := dial(t, s)
		wg.Go(func() {
			go func() {
				for i := range frames {
					_, _ = nc.Write(encode(binary.BigEndian.AppendUint32(nil, uint32(i))))
				}
			}()
			for i := range frames {
				b, err := readFrame(nc)
				if err != nil {
					errs <- err
					return
				}
				if got := binary.BigEndian.Uint32(b); got != uint32(i) {
					errs <- fmt.Errorf("reply %d carries request %d", i, got)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := overlap.Load(); n != 0 {
		t.Errorf("%d frames handed while another of the same connection was in flight", n)
	}
}

// TestConcurrentOvertake: a slow frame does not hold back the next one.
func TestConcurrentOvertake(t *testing.T) {
	slow := make(chan parked, 1)
	h := &funcHandler{frame: func(c *Conn, frame []byte, done func()) {
		if string(frame) == "slow" {
			slow <- parked{c, frame, done}
			return
		}
		echo(c, frame, done)
	}}
	s := startServer(t, Config{Ordering: Concurrent}, h)
	nc := dial(t, s)
	writeFrame(t, nc, []byte("slow"))
	writeFrame(t, nc, []byte("fast"))
	if got := string(mustReadFrame(t, nc)); got != "fast" {
		t.Fatalf("first reply %q, want fast", got)
	}
	p := <-slow
	echo(p.c, p.frame, p.done)
	if got := string(mustReadFrame(t, nc)); got != "slow" {
		t.Fatalf("second reply %q, want slow", got)
	}
}

func TestBadFrameCloses(t *testing.T) {
	tests := []struct {
		name   string
		header []byte
		want   error
	}{
		{"over max", header(1025), ErrFrameTooLarge},
		{"far over max", []byte{0x7f, 0xff, 0xff, 0xff}, ErrFrameTooLarge},
		{"negative", []byte{0xff, 0xff, 0xff, 0xfe}, ErrBadFrame},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var frameErr atomic.Pointer[error]
			h := &funcHandler{}
			s := startServer(t, Config{
				Framer:       LengthPrefixed{Max: 1024},
				OnFrameError: func(_ *Conn, err error) { frameErr.Store(&err) },
			}, h)
			good, bad := dial(t, s), dial(t, s)
			writeFrame(t, good, []byte("before"))
			mustReadFrame(t, good)
			if _, err := bad.Write(tt.header); err != nil {
				t.Fatal(err)
			}
			expectClosed(t, bad)
			if p := frameErr.Load(); p == nil || !errors.Is(*p, tt.want) {
				t.Fatalf("OnFrameError got %v, want %v", p, tt.want)
			}
			if err := h.waitClosed(t, h.serverSide(t, bad)); !errors.Is(err, tt.want) {
				t.Fatalf("OnClose err %v, want %v", err, tt.want)
			}
			writeFrame(t, good, []byte("after"))
			if got := string(mustReadFrame(t, good)); got != "after" {
				t.Fatalf("good connection got %q", got)
			}
		})
	}
}

func TestTruncatedFrameAtClose(t *testing.T) {
	var frames atomic.Int32
	h := &funcHandler{frame: func(c *Conn, frame []byte, done func()) {
		frames.Add(1)
		echo(c, frame, done)
	}}
	s := startServer(t, Config{}, h)
	nc := dial(t, s)
	if _, err := nc.Write(append(header(100), make([]byte, 10)...)); err != nil {
		t.Fatal(err)
	}
	c := h.serverSide(t, nc)
	_ = nc.Close()
	h.waitClosed(t, c)
	if n := frames.Load(); n != 0 {
		t.Fatalf("%d frames handed from a truncated stream", n)
	}
	other := dial(t, s)
	writeFrame(t, other, []byte("still here"))
	mustReadFrame(t, other)
}

func TestMaxConns(t *testing.T) {
	h := &funcHandler{}
	s := startServer(t, Config{MaxConns: 2}, h)
	a, b := dial(t, s), dial(t, s)
	for _, nc := range []net.Conn{a, b} {
		writeFrame(t, nc, []byte("hi"))
		mustReadFrame(t, nc)
	}
	expectClosed(t, dial(t, s))
	_ = a.Close()
	h.waitClosed(t, h.serverSide(t, a))
	c := dial(t, s)
	writeFrame(t, c, []byte("room again"))
	mustReadFrame(t, c)
}

// TestIdleTimeout: an idle connection is closed; one with a long poll in
// flight is not, however long the poll.
func TestIdleTimeout(t *testing.T) {
	polls := make(chan parked, 1)
	h := &funcHandler{frame: func(c *Conn, frame []byte, done func()) { polls <- parked{c, frame, done} }}
	s := startServer(t, Config{IdleTimeout: 250 * time.Millisecond}, h)
	busy := dial(t, s)
	writeFrame(t, busy, []byte("poll"))
	p := <-polls
	idle := dial(t, s)
	expectClosed(t, idle)
	if err := h.waitClosed(t, h.serverSide(t, idle)); !errors.Is(err, ErrIdle) {
		t.Fatalf("idle OnClose err %v, want ErrIdle", err)
	}
	if _, closed := h.closeErr(p.c.ID()); closed {
		t.Fatal("connection with a frame in flight was closed as idle")
	}
	echo(p.c, p.frame, p.done)
	if got := string(mustReadFrame(t, busy)); got != "poll" {
		t.Fatalf("got %q", got)
	}
	expectClosed(t, busy) // idle again after the reply
}

func TestBacklogCloses(t *testing.T) {
	polls := make(chan parked, 1)
	h := &funcHandler{frame: func(c *Conn, frame []byte, done func()) { polls <- parked{c, frame, done} }}
	s := startServer(t, Config{Framer: LengthPrefixed{Max: 1024}, MaxBufferedBytes: 8 << 10}, h)
	nc := dial(t, s)
	writeFrame(t, nc, []byte("first"))
	p := <-polls
	defer p.done()
	go func() {
		for range 1000 { // 1 MiB behind the parked frame
			if _, err := nc.Write(encode(make([]byte, 1020))); err != nil {
				return
			}
		}
	}()
	expectClosed(t, nc)
	if err := h.waitClosed(t, p.c); !errors.Is(err, ErrBacklog) {
		t.Fatalf("OnClose err %v, want ErrBacklog", err)
	}
}

func TestPushAndConnState(t *testing.T) {
	h := &funcHandler{open: func(c *Conn) { c.SetValue("client-1") }}
	s := startServer(t, Config{Ordering: Concurrent}, h)
	nc := dial(t, s)
	c := h.serverSide(t, nc)
	if v, _ := c.Value().(string); v != "client-1" {
		t.Fatalf("Value() = %v", c.Value())
	}
	if c.LocalAddr().String() != s.Addr().String() {
		t.Fatalf("LocalAddr %v, server Addr %v", c.LocalAddr(), s.Addr())
	}
	if c.RemoteAddr().String() != nc.LocalAddr().String() {
		t.Fatalf("RemoteAddr %v, client %v", c.RemoteAddr(), nc.LocalAddr())
	}
	go func() { _ = c.Write(encode([]byte("NOTIFY_CONSUMER_IDS_CHANGED"))) }()
	if got := string(mustReadFrame(t, nc)); got != "NOTIFY_CONSUMER_IDS_CHANGED" {
		t.Fatalf("pushed frame %q", got)
	}
}

func TestHandlerPanicClosesConn(t *testing.T) {
	h := &funcHandler{frame: func(c *Conn, frame []byte, done func()) {
		if string(frame) == "boom" {
			panic("boom")
		}
		echo(c, frame, done)
	}}
	s := startServer(t, Config{}, h)
	bad, good := dial(t, s), dial(t, s)
	writeFrame(t, bad, []byte("boom"))
	expectClosed(t, bad)
	if err := h.waitClosed(t, h.serverSide(t, bad)); !errors.Is(err, ErrHandlerPanic) {
		t.Fatalf("OnClose err %v, want ErrHandlerPanic", err)
	}
	writeFrame(t, good, []byte("ok"))
	mustReadFrame(t, good)
}
