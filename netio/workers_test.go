package netio

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"testing"
)

// TestWorkersReusedAndStopped: sequential Concurrent frames run on one
// reused worker, concurrent ones on as many as needed (at most
// maxIdleWorkers stay), and every idle worker exits once the server is
// shut down.
func TestWorkersReusedAndStopped(t *testing.T) {
	release := make(chan struct{})
	h := &funcHandler{frame: func(c *Conn, frame []byte, done func()) {
		if string(frame) == "wait" {
			<-release
		}
		echo(c, frame, done)
	}}
	s, err := New(Config{Addr: "127.0.0.1:0", Ordering: Concurrent, Logger: slog.New(slog.DiscardHandler)}, h)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	nc := dial(t, s)
	for i := range 20 {
		body := fmt.Sprint("seq-", i)
		writeFrame(t, nc, []byte(body))
		if got := string(mustReadFrame(t, nc)); got != body {
			t.Fatalf("reply %q, want %q", got, body)
		}
		// The worker parks after done, a moment after the reply.
		waitFor(t, "an idle worker", func() bool { return s.idleWorkers.Load() == 1 })
	}
	const parallel = 3
	for range parallel {
		writeFrame(t, nc, []byte("wait"))
	}
	waitFor(t, "every worker busy", func() bool { return s.idleWorkers.Load() == 0 && s.inflight.Load() == parallel })
	close(release)
	for range parallel {
		mustReadFrame(t, nc)
	}
	waitFor(t, "idle workers", func() bool { return s.idleWorkers.Load() == parallel })
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "workers to exit", func() bool { return s.idleWorkers.Load() == 0 })
}

// TestSerialTurnsReuseWorkers: a Serial connection's turns (one request
// in flight at a time, as a Kafka producer without pipelining sends) run
// on one reused worker rather than a goroutine each, several connections
// busy at once on as many, and idle workers exit at shutdown.
func TestSerialTurnsReuseWorkers(t *testing.T) {
	release := make(chan struct{})
	h := &funcHandler{frame: func(c *Conn, frame []byte, done func()) {
		if string(frame) == "wait" {
			<-release
		}
		echo(c, frame, done)
	}}
	s, err := New(Config{Addr: "127.0.0.1:0", Ordering: Serial, Logger: slog.New(slog.DiscardHandler)}, h)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	nc := dial(t, s)
	for i := range 20 {
		body := fmt.Sprint("seq-", i)
		writeFrame(t, nc, []byte(body))
		if got := string(mustReadFrame(t, nc)); got != body {
			t.Fatalf("reply %q, want %q", got, body)
		}
		waitFor(t, "an idle worker", func() bool { return s.idleWorkers.Load() == 1 })
	}
	const conns = 3
	ncs := []net.Conn{nc, dial(t, s), dial(t, s)}
	for _, c := range ncs {
		writeFrame(t, c, []byte("wait"))
	}
	waitFor(t, "every worker busy", func() bool { return s.idleWorkers.Load() == 0 && s.inflight.Load() == conns })
	close(release)
	for _, c := range ncs {
		mustReadFrame(t, c)
	}
	waitFor(t, "idle workers", func() bool { return s.idleWorkers.Load() == conns })
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "workers to exit", func() bool { return s.idleWorkers.Load() == 0 })
}
