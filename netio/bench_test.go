package netio

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"

	"github.com/panjf2000/gnet/v2"
)

// The benchmarks compare netio with a baseline in the same run: a plain
// net.Conn echo server, one goroutine per connection, one request at a time
// (Kafka's model), reading each body into a fresh slice as netio does.
// Report the ratio netio/netconn, e.g. with benchstat. A second reference,
// gnet-inline, echoes on the gnet event loop itself, which netio may not do
// (handlers block): it is the floor of any gnet-based server, and the gap
// between it and netconn is gnet's, not netio's. On loopback, netconn's
// client and server goroutines hand off through Go's netpoller without an
// OS thread sleeping, while a gnet loop sleeps in its own epoll_wait and
// must be woken for every request. netio-inline is netio with an
// InlineHandler that answers every frame on the loop.

// echoBaseline serves the length-prefixed echo on a goroutine per
// connection until ln is closed.
func echoBaseline(b *testing.B) net.Addr {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	b.Cleanup(func() {
		_ = ln.Close()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			b.Cleanup(func() { _ = nc.Close() })
			wg.Go(func() {
				r := bufio.NewReaderSize(nc, 64<<10)
				for {
					body, err := readFrame(r)
					if err != nil {
						return
					}
					bufs := net.Buffers{header(len(body)), body}
					if _, err := bufs.WriteTo(nc); err != nil {
						return
					}
				}
			})
		}
	})
	return ln.Addr()
}

// echoGnetInline serves the length-prefixed echo on a gnet event loop,
// replying from OnTraffic, until b ends.
func echoGnetInline(b *testing.B) net.Addr {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := ln.Addr()
	_ = ln.Close()
	e := &inlineEcho{booted: make(chan gnet.Engine, 1)}
	ran := make(chan error, 1)
	go func() {
		ran <- gnet.Run(e, "tcp://"+addr.String(), gnet.WithTCPNoDelay(gnet.TCPNoDelay),
			gnet.WithLogger(gnetLogger{l: slog.New(slog.DiscardHandler)}))
	}()
	select {
	case eng := <-e.booted:
		b.Cleanup(func() {
			_ = eng.Stop(context.Background())
			<-ran
		})
	case err := <-ran:
		b.Fatal(err)
	}
	return addr
}

type inlineEcho struct {
	gnet.BuiltinEventEngine
	booted chan gnet.Engine
}

func (e *inlineEcho) OnBoot(eng gnet.Engine) gnet.Action {
	e.booted <- eng
	return gnet.None
}

func (e *inlineEcho) OnTraffic(gc gnet.Conn) gnet.Action {
	for {
		hdr, err := gc.Peek(4)
		if err != nil {
			return gnet.None
		}
		n := 4 + int(binary.BigEndian.Uint32(hdr))
		if gc.InboundBuffered() < n {
			return gnet.None
		}
		frame, _ := gc.Next(n)
		if _, err := gc.Write(frame); err != nil {
			return gnet.Close
		}
	}
}

// benchServers are the servers under comparison, each returning its address.
var benchServers = []struct {
	name  string
	start func(b *testing.B) net.Addr
}{
	{"netconn", echoBaseline},
	{"gnet-inline", echoGnetInline},
	{"netio-serial", func(b *testing.B) net.Addr {
		return startServer(b, Config{Ordering: Serial}, &funcHandler{}).Addr()
	}},
	{"netio-concurrent", func(b *testing.B) net.Addr {
		return startServer(b, Config{Ordering: Concurrent}, &funcHandler{}).Addr()
	}},
	{"netio-inline", func(b *testing.B) net.Addr {
		return startServer(b, Config{Ordering: Concurrent}, &inlineEchoHandler{}).Addr()
	}},
}

// inlineEchoHandler echoes every frame from the event loop (InlineHandler).
type inlineEchoHandler struct{ funcHandler }

func (h *inlineEchoHandler) OnFrameInline(_ *Conn, frame, dst []byte) ([]byte, bool) {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(frame)))
	return append(dst, frame...), true
}

// BenchmarkRoundTrip: one small request, wait for its reply, repeat.
func BenchmarkRoundTrip(b *testing.B) {
	for _, srv := range benchServers {
		b.Run(srv.name, func(b *testing.B) {
			nc := benchDial(b, srv.start(b))
			req := encode(make([]byte, 32))
			rep := make([]byte, len(req))
			b.SetBytes(int64(len(req)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := nc.Write(req); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(nc, rep); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
		})
	}
}

// BenchmarkPipelined1KiB: 64 frames of 1 KiB written at once, then their
// 64 replies read.
func BenchmarkPipelined1KiB(b *testing.B) {
	const batch = 64
	for _, srv := range benchServers {
		b.Run(srv.name, func(b *testing.B) {
			nc := benchDial(b, srv.start(b))
			var req []byte
			for range batch {
				req = append(req, encode(make([]byte, 1024))...)
			}
			rep := make([]byte, len(req))
			b.SetBytes(int64(len(req)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := nc.Write(req); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(nc, rep); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func benchDial(b *testing.B, addr net.Addr) net.Conn {
	nc, err := net.Dial("tcp", addr.String())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := nc.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			b.Error(err)
		}
	})
	return nc
}
