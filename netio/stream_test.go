package netio

import (
	"bytes"
	"crypto/tls"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/twinmq/twinmq/internal/testcerts"
)

func newCA(t testing.TB) *testcerts.CA {
	t.Helper()
	ca, err := testcerts.New()
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func dialTLS(t testing.TB, s *Server, cfg *tls.Config) *tls.Conn {
	t.Helper()
	tc, err := tls.Dial("tcp", s.Addr().String(), cfg)
	if err != nil {
		t.Fatalf("dial TLS: %v", err)
	}
	_ = tc.SetDeadline(time.Now().Add(testDeadline))
	t.Cleanup(func() { _ = tc.Close() })
	return tc
}

// TestTLSEchoSerialOrder pipelines frames whose handler answers the first
// one last: Serial ordering must still reply in request order, over TLS as
// over gnet.
func TestTLSEchoSerialOrder(t *testing.T) {
	ca := newCA(t)
	var mu sync.Mutex
	var seen []string
	h := &funcHandler{frame: func(c *Conn, frame []byte, done func()) {
		mu.Lock()
		seen = append(seen, string(frame))
		mu.Unlock()
		if string(frame) == "0" {
			// The slow one: reply from another goroutine later.
			go func() {
				time.Sleep(5 * time.Millisecond)
				echo(c, frame, done)
			}()
			return
		}
		echo(c, frame, done)
	}}
	s := startServer(t, Config{TLS: ca.ServerConfig(tls.NoClientCert), Ordering: Serial}, h)
	tc := dialTLS(t, s, ca.ClientConfig())
	var out []byte
	for i := range 50 {
		out = append(out, encode([]byte(fmt.Sprint(i)))...)
	}
	if _, err := tc.Write(out); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if got := string(mustReadFrame(t, tc)); got != fmt.Sprint(i) {
			t.Fatalf("reply %d is %q", i, got)
		}
	}
	// A large frame (over the read and write buffers) round-trips.
	big := bytes.Repeat([]byte("x"), 300<<10)
	writeFrame(t, tc, big)
	if got := mustReadFrame(t, tc); !bytes.Equal(got, big) {
		t.Fatalf("large frame: got %d bytes", len(got))
	}
}

// TestTLSPeerCertificate: with client authentication required, OnOpen sees
// the client's certificate subject; a client without one is refused in the
// handshake and never reaches the handler.
func TestTLSPeerCertificate(t *testing.T) {
	ca := newCA(t)
	subjects := make(chan string, 2)
	h := &funcHandler{open: func(c *Conn) {
		st := c.TLS()
		if st == nil || len(st.PeerCertificates) == 0 {
			subjects <- ""
			return
		}
		subjects <- st.PeerCertificates[0].Subject.String()
	}}
	s := startServer(t, Config{TLS: ca.ServerConfig(tls.RequireAndVerifyClientCert)}, h)
	cert, err := ca.Client(pkix.Name{CommonName: "alice", OrganizationalUnit: []string{"eng"}})
	if err != nil {
		t.Fatal(err)
	}
	tc := dialTLS(t, s, ca.ClientConfig(cert))
	writeFrame(t, tc, []byte("hi"))
	if got := string(mustReadFrame(t, tc)); got != "hi" {
		t.Fatalf("echo %q", got)
	}
	if got := <-subjects; got != "CN=alice,OU=eng" {
		t.Fatalf("subject %q", got)
	}
	// No client certificate: the handshake fails (TLS 1.3 reports it on
	// the first read).
	nc, err := tls.Dial("tcp", s.Addr().String(), ca.ClientConfig())
	if err == nil {
		_ = nc.SetDeadline(time.Now().Add(testDeadline))
		_, _ = nc.Write(encode([]byte("x")))
		if _, err = readFrame(nc); err == nil {
			t.Fatal("a client without a certificate was served")
		}
		_ = nc.Close()
	}
	if h.opened[0].TLS() == nil {
		t.Fatal("Conn.TLS is nil on a TLS listener")
	}
	h.mu.Lock()
	opened := len(h.opened)
	h.mu.Unlock()
	if opened != 1 {
		t.Fatalf("%d connections opened, want 1", opened)
	}
}

// TestTLSLimits: SetMaxFrame and the Framer's maximum close the
// connection with ErrFrameTooLarge before the body is read; Close
// delivers what was written before it; a started frame left incomplete
// closes with ErrReadTimeout.
func TestTLSLimits(t *testing.T) {
	ca := newCA(t)
	h := &funcHandler{
		open: func(c *Conn) { c.SetMaxFrame(1024) },
		frame: func(c *Conn, frame []byte, done func()) {
			if string(frame) == "bye" {
				_ = c.Write(encode([]byte("last")))
				_ = c.Close()
				done()
				return
			}
			echo(c, frame, done)
		},
	}
	var frameErrs sync.Map
	s := startServer(t, Config{
		TLS:          ca.ServerConfig(tls.NoClientCert),
		Framer:       LengthPrefixed{Max: 1 << 20},
		ReadTimeout:  200 * time.Millisecond,
		OnFrameError: func(c *Conn, err error) { frameErrs.Store(c.ID(), err) },
	}, h)

	tc := dialTLS(t, s, ca.ClientConfig())
	writeFrame(t, tc, make([]byte, 1024))
	mustReadFrame(t, tc)
	if _, err := tc.Write(header(1025)); err != nil {
		t.Fatal(err)
	}
	expectClosed(t, tc)
	c := h.opened[0]
	if err := h.waitClosed(t, c); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("OnClose err %v, want ErrFrameTooLarge", err)
	}
	if _, ok := frameErrs.Load(c.ID()); !ok {
		t.Fatal("OnFrameError not called")
	}

	tc2 := dialTLS(t, s, ca.ClientConfig())
	writeFrame(t, tc2, []byte("bye"))
	if got := string(mustReadFrame(t, tc2)); got != "last" {
		t.Fatalf("got %q before close", got)
	}
	expectClosed(t, tc2)

	tc3 := dialTLS(t, s, ca.ClientConfig())
	if _, err := tc3.Write(append(header(100), 1, 2, 3)); err != nil {
		t.Fatal(err)
	}
	expectClosed(t, tc3)
	c3 := h.serverSideTLS(t, tc3)
	if err := h.waitClosed(t, c3); !errors.Is(err, ErrReadTimeout) {
		t.Fatalf("OnClose err %v, want ErrReadTimeout", err)
	}
}

// serverSideTLS is serverSide for a TLS client.
func (h *funcHandler) serverSideTLS(t testing.TB, tc *tls.Conn) *Conn {
	return h.serverSide(t, tc.NetConn())
}

// TestTLSBudget: frames are charged to the shared budget until done, and
// a connection waits (reads nothing further) while it is spent.
func TestTLSBudget(t *testing.T) {
	ca := newCA(t)
	release := make(chan struct{})
	h := &funcHandler{frame: func(c *Conn, frame []byte, done func()) {
		if frame[0] == 'w' {
			<-release
		}
		echo(c, frame, done)
	}}
	b := NewBudget(64 << 10)
	s := startServer(t, Config{TLS: ca.ServerConfig(tls.NoClientCert), Ordering: Concurrent, Limits: &Limits{Budget: b}}, h)
	tc := dialTLS(t, s, ca.ClientConfig())
	big := bytes.Repeat([]byte("w"), 60<<10)
	writeFrame(t, tc, big)
	waitFor(t, "charge", func() bool { return b.Used() == int64(len(big)) })
	writeFrame(t, tc, bytes.Repeat([]byte("v"), 10<<10)) // does not fit: waits
	close(release)
	got := map[byte]int{}
	for range 2 {
		f := mustReadFrame(t, tc)
		got[f[0]] = len(f)
	}
	if got['w'] != 60<<10 || got['v'] != 10<<10 {
		t.Fatalf("replies %v", got)
	}
	waitFor(t, "release", func() bool { return b.Used() == 0 })
}

// TestTLSShutdown: Shutdown closes the TLS connections (OnClose with
// ErrServerClosed) and the port.
func TestTLSShutdown(t *testing.T) {
	ca := newCA(t)
	h := &funcHandler{}
	s, err := New(Config{Addr: "127.0.0.1:0", TLS: ca.ServerConfig(tls.NoClientCert)}, h)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	tc := dialTLS(t, s, ca.ClientConfig())
	writeFrame(t, tc, []byte("a"))
	mustReadFrame(t, tc)
	c := h.serverSideTLS(t, tc)
	if err := s.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := h.waitClosed(t, c); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("OnClose err %v", err)
	}
	if nc, err := net.Dial("tcp", s.Addr().String()); err == nil {
		_ = nc.Close()
		t.Fatal("port still open after Shutdown")
	}
	if s.Conns() != 0 {
		t.Fatalf("%d conns after Shutdown", s.Conns())
	}
}

// TestTLSOptional: with TLSOptional one port serves TLS clients and
// plaintext ones (RocketMQ's permissive mode), told apart by the first
// byte; Conn.TLS says which.
func TestTLSOptional(t *testing.T) {
	ca := newCA(t)
	tlsSeen := make(chan bool, 2)
	h := &funcHandler{open: func(c *Conn) { tlsSeen <- c.TLS() != nil }}
	s := startServer(t, Config{TLS: ca.ServerConfig(tls.NoClientCert), TLSOptional: true, Ordering: Concurrent}, h)
	tc := dialTLS(t, s, ca.ClientConfig())
	writeFrame(t, tc, []byte("secure"))
	if got := string(mustReadFrame(t, tc)); got != "secure" {
		t.Fatalf("TLS echo %q", got)
	}
	if !<-tlsSeen {
		t.Fatal("the TLS client's Conn.TLS is nil")
	}
	nc := dial(t, s)
	writeFrame(t, nc, []byte("plain"))
	if got := string(mustReadFrame(t, nc)); got != "plain" {
		t.Fatalf("plaintext echo %q", got)
	}
	if <-tlsSeen {
		t.Fatal("the plaintext client's Conn.TLS is set")
	}
	// Without TLSOptional a plaintext client gets nothing.
	s2 := startServer(t, Config{TLS: ca.ServerConfig(tls.NoClientCert)}, &funcHandler{})
	nc2 := dial(t, s2)
	writeFrame(t, nc2, []byte("plain"))
	expectClosed(t, nc2)
}
