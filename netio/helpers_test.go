package netio

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"
)

// testDeadline bounds every wait in the tests; it catches hangs and is
// never what a test asserts.
const testDeadline = 20 * time.Second

// funcHandler is a Handler built from functions; nil ones do nothing, and a
// nil frame function echoes the frame and calls done.
type funcHandler struct {
	open  func(c *Conn)
	frame func(c *Conn, frame []byte, done func())
	close func(c *Conn, err error)

	mu     sync.Mutex
	closed map[uint64]error // conn id -> OnClose error
	opened []*Conn
}

func (h *funcHandler) OnOpen(c *Conn) {
	h.mu.Lock()
	h.opened = append(h.opened, c)
	h.mu.Unlock()
	if h.open != nil {
		h.open(c)
	}
}

func (h *funcHandler) OnFrame(c *Conn, frame []byte, done func()) {
	if h.frame == nil {
		echo(c, frame, done)
		return
	}
	h.frame(c, frame, done)
}

func (h *funcHandler) OnClose(c *Conn, err error) {
	h.mu.Lock()
	if h.closed == nil {
		h.closed = make(map[uint64]error)
	}
	h.closed[c.ID()] = err
	h.mu.Unlock()
	if h.close != nil {
		h.close(c, err)
	}
}

// closeErr reports whether conn id was closed, and why.
func (h *funcHandler) closeErr(id uint64) (error, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	err, ok := h.closed[id]
	return err, ok
}

// serverSide waits for and returns the server's Conn of client connection nc.
func (h *funcHandler) serverSide(t testing.TB, nc net.Conn) *Conn {
	t.Helper()
	var found *Conn
	waitFor(t, "server side of "+nc.LocalAddr().String(), func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, c := range h.opened {
			if c.RemoteAddr().String() == nc.LocalAddr().String() {
				found = c
				return true
			}
		}
		return false
	})
	return found
}

// waitClosed waits for OnClose of c and returns its error.
func (h *funcHandler) waitClosed(t testing.TB, c *Conn) error {
	t.Helper()
	waitFor(t, "OnClose", func() bool { _, ok := h.closeErr(c.ID()); return ok })
	err, _ := h.closeErr(c.ID())
	return err
}

// echo replies with the frame itself.
func echo(c *Conn, frame []byte, done func()) {
	_ = c.Write(header(len(frame)), frame)
	done()
}

func header(n int) []byte {
	return binary.BigEndian.AppendUint32(nil, uint32(n))
}

func encode(body []byte) []byte {
	return append(header(len(body)), body...)
}

// startServer starts a loopback server and shuts it down at the end of t.
func startServer(t testing.TB, cfg Config, h Handler) *Server {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s, err := New(cfg, h)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	defer cancel()
	if err := s.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return s
}

func dial(t testing.TB, s *Server) net.Conn {
	t.Helper()
	nc, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	_ = nc.SetDeadline(time.Now().Add(testDeadline))
	t.Cleanup(func() { _ = nc.Close() })
	return nc
}

func writeFrame(t testing.TB, nc net.Conn, body []byte) {
	t.Helper()
	if _, err := nc.Write(encode(body)); err != nil {
		t.Fatalf("write: %v", err)
	}
}

func readFrame(r io.Reader) ([]byte, error) {
	var h [4]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, err
	}
	body := make([]byte, binary.BigEndian.Uint32(h[:]))
	_, err := io.ReadFull(r, body)
	return body, err
}

func mustReadFrame(t testing.TB, r io.Reader) []byte {
	t.Helper()
	b, err := readFrame(r)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return b
}

// expectClosed reads until the server closes nc; it fails if a frame or a
// timeout comes instead.
func expectClosed(t testing.TB, nc net.Conn) {
	t.Helper()
	var buf [1]byte
	_, err := nc.Read(buf[:])
	var ne net.Error
	if err == nil || (errors.As(err, &ne) && ne.Timeout()) {
		t.Fatalf("connection still open: read err %v", err)
	}
}

// waitFor polls cond until it holds.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testDeadline)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// parked is a frame whose handler is waiting to be released, as a long
// poll would.
type parked struct {
	c     *Conn
	frame []byte
	done  func()
}
