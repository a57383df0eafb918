package loadtest

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// The loopback floor of `bench rocketmq --echo-floor`: a server that does
// nothing but answer each length-prefixed frame (4-byte big-endian length)
// with a 64-byte body, on a gnet event loop as twinmq answers a RocketMQ
// send, in a process of its own. Its CPU per round trip, one request at a
// time, is what the machine charges a server for the network path alone.

const echoReplyBody = 64

// echoServer is the gnet handler of ServeEcho.
type echoServer struct {
	gnet.BuiltinEventEngine
	reply  []byte
	booted chan struct{}
	eng    gnet.Engine // set by OnBoot, before booted closes
}

func (e *echoServer) OnBoot(eng gnet.Engine) gnet.Action {
	e.eng = eng
	close(e.booted)
	return gnet.None
}

func (e *echoServer) OnTraffic(c gnet.Conn) gnet.Action {
	for c.InboundBuffered() >= 4 {
		h, _ := c.Peek(4)
		n := int(binary.BigEndian.Uint32(h))
		if n > 16<<20 {
			return gnet.Close
		}
		if c.InboundBuffered() < 4+n {
			return gnet.None
		}
		_, _ = c.Discard(4 + n)
		if _, err := c.Write(e.reply); err != nil {
			return gnet.Close
		}
	}
	return gnet.None
}

// ServeEcho runs the echo server on 127.0.0.1:port (0: a free one) until
// ctx ends, writing "listening <addr>" to w once it accepts connections.
func ServeEcho(ctx context.Context, port int, w io.Writer) error {
	if port == 0 { // gnet does not report the port it bound: pick a free one
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("loadtest: echo: %w", err)
		}
		port = ln.Addr().(*net.TCPAddr).Port
		_ = ln.Close()
	}
	e := &echoServer{reply: make([]byte, 4+echoReplyBody), booted: make(chan struct{})}
	binary.BigEndian.PutUint32(e.reply, echoReplyBody)
	hostPort := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	addr := "tcp://" + hostPort
	ran := make(chan error, 1)
	go func() {
		ran <- gnet.Run(e, addr, gnet.WithTCPNoDelay(gnet.TCPNoDelay), gnet.WithNumEventLoop(1),
			gnet.WithLogger(quietLogger{}))
	}()
	select {
	case <-e.booted:
		if _, err := fmt.Fprintf(w, "listening %s\n", hostPort); err != nil {
			return fmt.Errorf("loadtest: echo: %w", err)
		}
	case err := <-ran:
		return fmt.Errorf("loadtest: echo: %w", err)
	}
	select {
	case <-ctx.Done():
		_ = e.eng.Stop(context.Background())
		return nil
	case err := <-ran:
		return fmt.Errorf("loadtest: echo: %w", err)
	}
}

// quietLogger keeps gnet's own log lines off stdout, which carries the
// "listening" line.
type quietLogger struct{}

func (quietLogger) Debugf(string, ...any) {}
func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Warnf(string, ...any)  {}
func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Fatalf(string, ...any) {}

// EchoFloor sends n frames of size bytes to the echo server at addr, one
// at a time, each after the previous reply, and returns the server's CPU
// per round trip (cpu reads the server process's CPU time).
func EchoFloor(addr string, n, size int, cpu func() (time.Duration, error)) (time.Duration, error) {
	if n <= 0 || size < 0 {
		return 0, errors.New("loadtest: echo floor: bad count or size")
	}
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return 0, fmt.Errorf("loadtest: echo floor: %w", err)
	}
	defer c.Close()
	req := make([]byte, 4+size)
	binary.BigEndian.PutUint32(req, uint32(size))
	resp := make([]byte, 4+echoReplyBody)
	round := func() error {
		if _, err := c.Write(req); err != nil {
			return err
		}
		_, err := io.ReadFull(c, resp)
		return err
	}
	for range min(n/10, 1000) { // warm up: connection, loop, page cache
		if err := round(); err != nil {
			return 0, fmt.Errorf("loadtest: echo floor: %w", err)
		}
	}
	cpu0, err := cpu()
	if err != nil {
		return 0, fmt.Errorf("loadtest: echo floor: %w", err)
	}
	for range n {
		if err := round(); err != nil {
			return 0, fmt.Errorf("loadtest: echo floor: %w", err)
		}
	}
	cpu1, err := cpu()
	if err != nil {
		return 0, fmt.Errorf("loadtest: echo floor: %w", err)
	}
	return (cpu1 - cpu0) / time.Duration(n), nil
}
