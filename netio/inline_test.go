package netio

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync/atomic"
	"testing"
	"time"
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

// TestInlineSerialKeepsOrder: under Serial ordering frames are answered
// inline only while nothing else is in progress on the connection, so
// replies keep the request order even when frames handed off the loop
// (some of them slow, some with replies in several buffers) sit between
// frames answered inline; a connection that sends only inline frames
// gets them all answered on the loop.
func TestInlineSerialKeepsOrder(t *testing.T) {
	h := &inlineHandler{}
	h.frame = func(c *Conn, frame []byte, done func()) {
		if bytes.Contains(frame, []byte("slow")) {
			time.Sleep(2 * time.Millisecond)
		}
		if bytes.Contains(frame, []byte("then")) { // WriteThen, two buffers
			defer done()
			_ = c.WriteThen(func(error) {}, header(len(frame)), frame)
			return
		}
		echo(c, frame, done)
	}
	s := startServer(t, Config{Ordering: Serial, Framer: LengthPrefixed{Max: 8192}}, h)

	nc := dial(t, s)
	for i := range 10 {
		body := fmt.Sprintf("i%d", i)
		writeFrame(t, nc, []byte(body))
		if got := string(mustReadFrame(t, nc)); got != body {
			t.Fatalf("reply %q, want %q", got, body)
		}
	}
	if h.inline.Load() != 10 || h.offFrame.Load() != 0 {
		t.Fatalf("inline %d, OnFrame %d; want 10, 0", h.inline.Load(), h.offFrame.Load())
	}

	// Groups of pipelined frames, each group sent once the replies of the
	// one before are in: a group's first frames usually find the
	// connection idle and are answered inline, and the frames after its
	// first off-the-loop frame queue behind it.
	nc2 := dial(t, s)
	const groups, per = 150, 7
	for g := range groups {
		var sent []string
		var out []byte
		for i := range per {
			kind := "i"
			switch (g + i) % per {
			case 2:
				kind = "o"
			case 4:
				kind = "oslow"
			case 6:
				kind = "othen"
			}
			body := fmt.Sprintf("%s%d.%d:%s", kind, g, i, bytes.Repeat([]byte{'x'}, (g*per+i)*7%3000))
			sent = append(sent, body)
			out = append(out, encode([]byte(body))...)
		}
		if _, err := nc2.Write(out); err != nil {
			t.Fatal(err)
		}
		for i := range per {
			if got := string(mustReadFrame(t, nc2)); got != sent[i] {
				t.Fatalf("group %d reply %d is %.20q, want %.20q", g, i, got, sent[i])
			}
		}
	}
	inline, off := h.inline.Load()-10, h.offFrame.Load()
	if inline+off != groups*per || off < groups*3 || inline == 0 {
		t.Fatalf("inline %d, OnFrame %d; want %d in all, at least %d off the loop, some inline",
			inline, off, groups*per, groups*3)
	}
	t.Logf("pipelined: %d inline, %d off the loop", inline, off)
}

// TestInlineSerialReplyNotOvertaken: a frame that arrives after the
// previous frame's done, while that frame's reply still waits in the
// loop's task queue, is not answered inline: its reply would leave first.
// The loop is held busy by another connection's inline frame meanwhile, so
// the reply's write task and the new frame are both pending when it
// returns, and gnet serves the socket before the tasks.
func TestInlineSerialReplyNotOvertaken(t *testing.T) {
	reached, release := make(chan struct{}), make(chan struct{})
	goOn, finished := make(chan struct{}), make(chan struct{})
	h := &inlineHandler{hold: func() { reached <- struct{}{}; <-release }}
	h.frame = func(c *Conn, frame []byte, done func()) {
		if string(frame) == "oslow" {
			<-goOn
			echo(c, frame, done)
			close(finished)
			return
		}
		echo(c, frame, done)
	}
	s := startServer(t, Config{Ordering: Serial}, h)
	a, b := dial(t, s), dial(t, s)
	writeFrame(t, b, []byte("oslow"))
	waitFor(t, "oslow handed off the loop", func() bool { return h.offFrame.Load() == 1 })
	writeFrame(t, a, []byte("ihold"))
	<-reached // the loop is busy with a's frame
	close(goOn)
	<-finished // b's reply is queued for the loop, and its done called
	writeFrame(t, b, []byte("inext"))
	time.Sleep(20 * time.Millisecond) // let "inext" reach b's socket
	close(release)
	if got := string(mustReadFrame(t, a)); got != "ihold" {
		t.Fatalf("a: reply %q", got)
	}
	for _, want := range []string{"oslow", "inext"} {
		if got := string(mustReadFrame(t, b)); got != want {
			t.Fatalf("b: reply %q, want %q", got, want)
		}
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
