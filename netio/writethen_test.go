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

// TestWriteManyBuffers: over UIO_MAXIOV (1024) buffers in one Write or
// WriteThen reach the client whole and in order; one writev of them all
// fails with EINVAL and gnet closed the connection ("writev: invalid
// argument", a Kafka fetch of thousands of small batches).
func TestWriteManyBuffers(t *testing.T) {
	for _, then := range []bool{false, true} {
		h := &funcHandler{frame: func(c *Conn, frame []byte, done func()) {
			defer done()
			const n = 3*maxIovecs + 7
			bufs := [][]byte{header(4 * n)}
			for i := range n {
				bufs = append(bufs, []byte{frame[0], byte(i >> 16), byte(i >> 8), byte(i)})
			}
			var err error
			if then {
				err = c.WriteThen(func(error) {}, bufs...)
			} else {
				err = c.Write(bufs...)
			}
			if err != nil {
				t.Errorf("write: %v", err)
			}
		}}
		s := startServer(t, Config{}, h)
		nc := dial(t, s)
		for round := range 3 {
			writeFrame(t, nc, []byte{byte(round)})
			got := mustReadFrame(t, nc)
			if len(got) != 4*(3*maxIovecs+7) {
				t.Fatalf("then=%v: read %d bytes", then, len(got))
			}
			for i := 0; i < len(got); i += 4 {
				if want := []byte{byte(round), byte(i / 4 >> 16), byte(i / 4 >> 8), byte(i / 4)}; !bytes.Equal(got[i:i+4], want) {
					t.Fatalf("then=%v: buffer %d is %x, want %x", then, i/4, got[i:i+4], want)
				}
			}
		}
	}
}
