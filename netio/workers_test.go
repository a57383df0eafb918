package netio

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"testing"
)

// TestWorkersReusedAndStopped: sequential frames run on reused workers
// (under Serial, a connection's turns do: one request in flight at a time,
// as a Kafka producer without pipelining sends), which park when done;
// concurrent ones run on as many as needed and park too (at most
// maxIdleWorkers stay), and every idle worker exits once the server is
// shut down.
func TestWorkersReusedAndStopped(t *testing.T) {
	for _, ord := range []Ordering{Concurrent, Serial} {
		t.Run(fmt.Sprint(ord), func(t *testing.T) {
			release := make(chan struct{})
			h := &funcHandler{frame: func(c *Conn, frame []byte, done func()) {
				if string(frame) == "wait" {
					<-release
				}
				echo(c, frame, done)
			}}
			s, err := New(Config{Addr: "127.0.0.1:0", Ordering: ord, Logger: slog.New(slog.DiscardHandler)}, h)
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
				// (Counted idle just before it waits on the channel, it
				// may miss the next frame, which then starts a second
				// worker: more than one may end up idle, never none.)
				waitFor(t, "an idle worker", func() bool { return s.idleWorkers.Load() >= 1 })
			}
			// Three frames at once: on one connection under Concurrent,
			// on three under Serial (one runs at a time per connection).
			const parallel = 3
			ncs := []net.Conn{nc, nc, nc}
			if ord == Serial {
				ncs = []net.Conn{nc, dial(t, s), dial(t, s)}
			}
			for _, c := range ncs {
				writeFrame(t, c, []byte("wait"))
			}
			waitFor(t, "every frame in flight", func() bool { return s.inflight.Load() == parallel })
			close(release)
			for _, c := range ncs {
				mustReadFrame(t, c)
			}
			waitFor(t, "idle workers", func() bool { return s.idleWorkers.Load() >= parallel })
			if err := s.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "workers to exit", func() bool { return s.idleWorkers.Load() == 0 })
		})
	}
}
