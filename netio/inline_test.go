package netio

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync/atomic"
	"testing"
)

// inlineHandler answers frames that start with "i" on the event loop by
// echoing them (frames starting with "big" get a reply of that many KiB
// given after it, "boom" panics) and declines the others, which funcHandler
// echoes off the loop.
type inlineHandler struct {
	funcHandler
	inline   atomic.Int64 // frames answered inline
	declined atomic.Int64
	offFrame atomic.Int64 // frames that reached OnFrame
	// hold, if set, is called on the loop before a frame "ihold" is
	// answered.
	hold func()
}

func (h *inlineHandler) OnFrameInline(c *Conn, frame, dst []byte) ([]byte, bool) {
	switch {
	case bytes.Equal(frame, []byte("iboom")):
		panic("boom")
	case bytes.HasPrefix(frame, []byte("ibig")):
		var kib int
		_, _ = fmt.Sscanf(string(frame[4:]), "%d", &kib)
		h.inline.Add(1)
		return append(dst, encode(bytes.Repeat([]byte{'b'}, kib<<10))...), true
	case bytes.HasPrefix(frame, []byte("i")):
		if h.hold != nil && string(frame) == "ihold" {
			h.hold()
		}
		h.inline.Add(1)
		dst = append(dst, header(len(frame))...)
		return append(dst, frame...), true
	}
	h.declined.Add(1)
	return dst, false
}

func (h *inlineHandler) OnFrame(c *Conn, frame []byte, done func()) {
	h.offFrame.Add(1)
	h.funcHandler.OnFrame(c, frame, done)
}

// TestInlineMixed pipelines frames answered inline and frames handed off
// the loop in one write; every reply comes back with the request's bytes,
// and each frame took exactly one of the two ways.
func TestInlineMixed(t *testing.T) {
	h := &inlineHandler{}
	s := startServer(t, Config{Ordering: Concurrent, Framer: LengthPrefixed{Max: 8192}}, h)
	nc := dial(t, s)
	const n = 2000
	var sent []string
	var out []byte
	inline := 0
	for i := range n {
		kind := "o"
		if i%3 != 0 {
			kind = "i"
			inline++
		}
		body := fmt.Sprintf("%s%d:%s", kind, i, bytes.Repeat([]byte{'x'}, i*7%5000))
		sent = append(sent, body)
		out = append(out, encode([]byte(body))...)
	}
	go func() { _, _ = nc.Write(out) }() // frames cross reads and gnet's ring buffer
	var got []string
	for range n {
		got = append(got, string(mustReadFrame(t, nc)))
	}
	slices.Sort(got)
	slices.Sort(sent)
	if !slices.Equal(got, sent) {
		t.Fatal("replies differ from requests")
	}
	if h.inline.Load() != int64(inline) || h.offFrame.Load() != int64(n-inline) || h.declined.Load() != int64(n-inline) {
		t.Fatalf("inline %d, declined %d, OnFrame %d; want %d, %d, %d",
			h.inline.Load(), h.declined.Load(), h.offFrame.Load(), inline, n-inline, n-inline)
	}
}

// TestInlineLargeReply: replies larger than the kept buffer go out whole,
// and the next small reply still follows.
func TestInlineLargeReply(t *testing.T) {
	h := &inlineHandler{}
	s := startServer(t, Config{Ordering: Concurrent}, h)
	nc := dial(t, s)
	for _, kib := range []int{1, 200, 1} {
		writeFrame(t, nc, fmt.Appendf(nil, "ibig%d", kib))
		if got := mustReadFrame(t, nc); len(got) != kib<<10 {
			t.Fatalf("reply of %d bytes, want %d", len(got), kib<<10)
		}
	}
	writeFrame(t, nc, []byte("ismall"))
	if got := string(mustReadFrame(t, nc)); got != "ismall" {
		t.Fatalf("reply %q", got)
	}
}

// TestInlineSerialNeverInline: under Serial ordering every frame goes to
// OnFrame, in order.
func TestInlineSerialNeverInline(t *testing.T) {
	h := &inlineHandler{}
	s := startServer(t, Config{Ordering: Serial}, h)
	nc := dial(t, s)
	for i := range 10 {
		body := fmt.Sprintf("i%d", i)
		writeFrame(t, nc, []byte(body))
		if got := string(mustReadFrame(t, nc)); got != body {
			t.Fatalf("reply %q, want %q", got, body)
		}
	}
	if h.inline.Load() != 0 || h.offFrame.Load() != 10 {
		t.Fatalf("inline %d, OnFrame %d; want 0, 10", h.inline.Load(), h.offFrame.Load())
	}
}

// TestInlinePanicClosesConn: a panic on the loop closes that connection
// with ErrHandlerPanic, after the replies answered before it in the same
// read; other connections carry on.
func TestInlinePanicClosesConn(t *testing.T) {
	h := &inlineHandler{}
	s := startServer(t, Config{Ordering: Concurrent}, h)
	bad, good := dial(t, s), dial(t, s)
	if _, err := bad.Write(append(encode([]byte("ifirst")), encode([]byte("iboom"))...)); err != nil {
		t.Fatal(err)
	}
	if got := string(mustReadFrame(t, bad)); got != "ifirst" {
		t.Fatalf("reply %q, want ifirst", got)
	}
	expectClosed(t, bad)
	if err := h.waitClosed(t, h.serverSide(t, bad)); !errors.Is(err, ErrHandlerPanic) {
		t.Fatalf("OnClose err %v, want ErrHandlerPanic", err)
	}
	writeFrame(t, good, []byte("iok"))
	if got := string(mustReadFrame(t, good)); got != "iok" {
		t.Fatalf("reply %q", got)
	}
}

// TestInlineWriteToResetConn: the client resets its connection while the
// loop answers its frame, so the loop's direct write fails and gnet closes
// the connection inside it. OnClose comes once, and the server carries on.
func TestInlineWriteToResetConn(t *testing.T) {
	reached, release := make(chan struct{}), make(chan struct{})
	h := &inlineHandler{hold: func() { reached <- struct{}{}; <-release }}
	s := startServer(t, Config{Ordering: Concurrent}, h)
	nc := dial(t, s)
	c := h.serverSide(t, nc)
	writeFrame(t, nc, []byte("ihold"))
	<-reached
	_ = nc.(*net.TCPConn).SetLinger(0) // close sends RST
	_ = nc.Close()
	close(release)
	if err := h.waitClosed(t, c); err == nil {
		t.Fatal("OnClose without an error after a failed write")
	}
	other := dial(t, s)
	writeFrame(t, other, []byte("istill"))
	if got := string(mustReadFrame(t, other)); got != "istill" {
		t.Fatalf("reply %q", got)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.closed) != 1 {
		t.Fatalf("%d OnClose calls, want 1", len(h.closed))
	}
}

// TestInlineLargeFrameGoesOffTheLoop: a frame over maxInlineFrame is
// never offered inline.
func TestInlineLargeFrameGoesOffTheLoop(t *testing.T) {
	h := &inlineHandler{}
	s := startServer(t, Config{Ordering: Concurrent}, h)
	nc := dial(t, s)
	for _, size := range []int{maxInlineFrame, maxInlineFrame + 1} {
		body := append([]byte("i"), bytes.Repeat([]byte{'x'}, size-1)...)
		writeFrame(t, nc, body)
		if got := mustReadFrame(t, nc); !bytes.Equal(got, body) {
			t.Fatalf("reply of %d bytes differs", len(got))
		}
	}
	if h.inline.Load() != 1 || h.offFrame.Load() != 1 || h.declined.Load() != 0 {
		t.Fatalf("inline %d, declined %d, OnFrame %d; want 1, 0, 1", h.inline.Load(), h.declined.Load(), h.offFrame.Load())
	}
}
