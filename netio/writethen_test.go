package netio

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

// TestWriteThen: done runs once the bytes left the caller's slices, which
// may then be overwritten without changing what the client reads; on a
// closed connection done reports ErrClosed.
func TestWriteThen(t *testing.T) {
	type result struct {
		c   *Conn
		err error
	}
	results := make(chan result, 16)
	h := &funcHandler{frame: func(c *Conn, frame []byte, done func()) {
		defer done()
		payload := bytes.Repeat(frame, 64<<10) // big enough to fill the socket
		parts := [][]byte{header(len(payload)), payload[:len(payload)/2], payload[len(payload)/2:]}
		err := c.WriteThen(func(err error) {
			for _, p := range parts[1:] {
				clear(p) // the "unmap": must not reach the client
			}
			results <- result{c, err}
		}, parts...)
		if err != nil {
			t.Errorf("WriteThen: %v", err)
		}
	}}
	s := startServer(t, Config{Ordering: Concurrent}, h)
	nc := dial(t, s)
	writeFrame(t, nc, []byte("abcd"))
	var r result
	select {
	case r = <-results:
	case <-time.After(testDeadline):
		t.Fatal("done never ran")
	}
	if r.err != nil {
		t.Fatalf("done(%v)", r.err)
	}
	got := mustReadFrame(t, nc)
	if want := bytes.Repeat([]byte("abcd"), 64<<10); !bytes.Equal(got, want) {
		t.Fatalf("client read %d bytes, not the %d written (or they were changed after done)", len(got), len(want))
	}

	// Closed connection: done reports ErrClosed, once.
	_ = nc.Close()
	_ = h.waitClosed(t, r.c)
	calls := 0
	var gotErr error
	err := r.c.WriteThen(func(err error) { calls++; gotErr = err }, []byte("x"))
	if !errors.Is(err, ErrClosed) || !errors.Is(gotErr, ErrClosed) || calls != 1 {
		t.Fatalf("on a closed conn: WriteThen %v, done(%v) %d times", err, gotErr, calls)
	}
}
