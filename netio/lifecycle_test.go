package netio

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestShutdownWaitsForLongPoll: Shutdown returns only after a parked
// request completes, and its reply still reaches the client.
func TestShutdownWaitsForLongPoll(t *testing.T) {
	tests := []Ordering{Serial, Concurrent}
	for _, ordering := range tests {
		t.Run(ordering.String(), func(t *testing.T) {
			polls := make(chan parked, 1)
			h := &funcHandler{frame: func(c *Conn, frame []byte, done func()) { polls <- parked{c, frame, done} }}
			s := startServer(t, Config{Ordering: ordering}, h)
			nc := dial(t, s)
			writeFrame(t, nc, []byte("long poll"))
			p := <-polls

			shutdown := make(chan error, 2)
			for range 2 { // two callers both wait for the poll
				go func() {
					ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
					defer cancel()
					shutdown <- s.Shutdown(ctx)
				}()
			}
			waitFor(t, "draining", s.draining.Load)
			select {
			case err := <-shutdown:
				t.Fatalf("Shutdown returned %v with a request in flight", err)
			default:
			}
			echo(p.c, p.frame, p.done) // the append that wakes the poll
			for range 2 {
				if err := <-shutdown; err != nil {
					t.Fatalf("Shutdown: %v", err)
				}
			}
			if got := string(mustReadFrame(t, nc)); got != "long poll" {
				t.Fatalf("reply %q", got)
			}
			expectClosed(t, nc)
			if err := h.waitClosed(t, p.c); !errors.Is(err, ErrServerClosed) {
				t.Fatalf("OnClose err %v, want ErrServerClosed", err)
			}
			if err := p.c.Write([]byte("late")); !errors.Is(err, ErrClosed) {
				t.Fatalf("Write after Shutdown: %v, want ErrClosed", err)
			}
		})
	}
}

func TestShutdownContextEnds(t *testing.T) {
	polls := make(chan parked, 1)
	h := &funcHandler{frame: func(c *Conn, frame []byte, done func()) { polls <- parked{c, frame, done} }}
	s := startServer(t, Config{}, h)
	nc := dial(t, s)
	writeFrame(t, nc, []byte("never answered"))
	p := <-polls
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want DeadlineExceeded", err)
	}
	expectClosed(t, nc)
	if err := p.c.Write([]byte("late")); !errors.Is(err, ErrClosed) {
		t.Fatalf("late Write: %v, want ErrClosed", err)
	}
	p.done()
	p.done() // a second call is ignored
}

// TestWriteAfterClientClose: a handler replying from another goroutine
// after the client left gets ErrClosed, not a panic.
func TestWriteAfterClientClose(t *testing.T) {
	polls := make(chan parked, 1)
	h := &funcHandler{frame: func(c *Conn, frame []byte, done func()) { polls <- parked{c, frame, done} }}
	s := startServer(t, Config{Ordering: Concurrent}, h)
	nc := dial(t, s)
	writeFrame(t, nc, []byte("req"))
	p := <-polls
	_ = nc.Close()
	h.waitClosed(t, p.c)
	errc := make(chan error, 1)
	go func() {
		errc <- p.c.Write(header(3), []byte("rep"))
		p.done()
	}()
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Fatalf("Write = %v, want ErrClosed", err)
	}
	_ = p.c.Close() // closing twice is harmless
}

// TestTwoServers: a Kafka-like and a RocketMQ-like server in one process,
// each with its own engine and port, stopped independently.
func TestTwoServers(t *testing.T) {
	kafka := startServer(t, Config{Ordering: Serial, Framer: LengthPrefixed{Max: 100 << 20}}, &funcHandler{})
	rocket := startServer(t, Config{Ordering: Concurrent, Multicore: true}, &funcHandler{})
	if kafka.Addr().String() == rocket.Addr().String() {
		t.Fatalf("both servers on %v", kafka.Addr())
	}
	kc, rc := dial(t, kafka), dial(t, rocket)
	for _, nc := range []struct {
		name string
		c    interface{ Write([]byte) (int, error) }
	}{{"kafka", kc}, {"rocket", rc}} {
		if _, err := nc.c.Write(encode([]byte(nc.name))); err != nil {
			t.Fatal(err)
		}
	}
	if got := string(mustReadFrame(t, kc)); got != "kafka" {
		t.Fatalf("kafka got %q", got)
	}
	if got := string(mustReadFrame(t, rc)); got != "rocket" {
		t.Fatalf("rocket got %q", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	defer cancel()
	if err := kafka.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	expectClosed(t, kc)
	if _, err := rc.Write(encode([]byte("still"))); err != nil {
		t.Fatal(err)
	}
	if got := string(mustReadFrame(t, rc)); got != "still" {
		t.Fatalf("rocket after kafka shutdown got %q", got)
	}
}

func TestStartErrors(t *testing.T) {
	s := startServer(t, Config{}, &funcHandler{})
	busy, err := New(Config{Addr: s.Addr().String(), Logger: slog.New(slog.DiscardHandler)}, &funcHandler{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	defer cancel()
	if err := busy.Start(ctx); err == nil {
		t.Fatal("Start on a bound port succeeded")
	}
	if err := busy.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown after failed Start: %v", err)
	}
	if _, err := New(Config{Addr: ":0"}, nil); err == nil {
		t.Fatal("New with nil Handler succeeded")
	}
}

// TestShutdownWhileDialing: connections that arrive while the server shuts
// down are all closed, none left open unread. gnet's acceptor used to hand
// a just-accepted socket to an event loop that had already exited: the
// socket stayed open and nobody read it, so a client that reconnected to a
// broker restarting in the same process waited on it forever (rocketmq-
// client-go's "request timeout" until the test gave up).
func TestShutdownWhileDialing(t *testing.T) {
	for round := range 20 {
		s, err := New(Config{Addr: "127.0.0.1:0", Multicore: true, NumLoops: 2, Logger: slog.New(slog.DiscardHandler)}, &funcHandler{})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
		if err := s.Start(ctx); err != nil {
			t.Fatal(err)
		}
		addr := s.Addr().String()
		var (
			mu    sync.Mutex
			conns []net.Conn
			stop  atomic.Bool
			wg    sync.WaitGroup
		)
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for !stop.Load() {
					nc, err := net.Dial("tcp", addr)
					if err != nil {
						continue
					}
					mu.Lock()
					conns = append(conns, nc)
					mu.Unlock()
				}
			}()
		}
		waitFor(t, "some connections", func() bool { mu.Lock(); defer mu.Unlock(); return len(conns) > 20 })
		if err := s.Shutdown(ctx); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		stop.Store(true)
		wg.Wait()
		cancel()
		for _, nc := range conns {
			_ = nc.SetReadDeadline(time.Now().Add(testDeadline))
			_, err := nc.Read(make([]byte, 1))
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("round %d: connection %s still open %v after Shutdown", round, nc.LocalAddr(), testDeadline)
			}
			_ = nc.Close()
		}
	}
}
