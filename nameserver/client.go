package nameserver

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"

	"github.com/twinmq/twinmq/wire/remoting"
)

// ErrClientClosed is returned by Invoke once the connection is gone.
var ErrClientClosed = errors.New("nameserver: client connection closed")

// Client is a minimal remoting client over one TCP connection: requests
// carry increasing opaques and a reader goroutine hands each response to
// its caller. A broker uses it to register with a name server; tests use
// it to ask either server. Requests the peer originates are ignored.
type Client struct {
	conn   net.Conn
	opaque atomic.Int32

	mu      sync.Mutex // guards pending, err and writes to conn
	pending map[int32]chan *remoting.Command
	err     error
	done    chan struct{}
}

// Dial connects to addr.
func Dial(ctx context.Context, addr string) (*Client, error) { return DialTLS(ctx, addr, nil) }

// DialTLS connects to addr over TLS with cfg (a name server or broker
// with tlsMode enforcing), or in plaintext when cfg is nil.
func DialTLS(ctx context.Context, addr string, cfg *tls.Config) (*Client, error) {
	var conn net.Conn
	var err error
	if cfg != nil {
		d := tls.Dialer{Config: cfg}
		conn, err = d.DialContext(ctx, "tcp", addr)
	} else {
		var d net.Dialer
		conn, err = d.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return nil, fmt.Errorf("nameserver: dial %s: %w", addr, err)
	}
	c := &Client{conn: conn, pending: make(map[int32]chan *remoting.Command), done: make(chan struct{})}
	go c.readLoop()
	return c, nil
}

// Close closes the connection; pending calls fail.
func (c *Client) Close() error {
	err := c.conn.Close()
	<-c.done
	return err
}

// Err reports why the connection ended, or nil while it is up.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Invoke sends req (its Opaque is assigned here) and waits for the response
// or ctx.
func (c *Client) Invoke(ctx context.Context, req *remoting.Command) (*remoting.Command, error) {
	req.Opaque = c.opaque.Add(1)
	ch := make(chan *remoting.Command, 1)
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return nil, c.err
	}
	c.pending[req.Opaque] = ch
	if dl, ok := ctx.Deadline(); ok {
		_ = c.conn.SetWriteDeadline(dl)
	}
	_, err := c.conn.Write(remoting.AppendCommand(nil, req))
	c.mu.Unlock()
	if err != nil {
		c.forget(req.Opaque)
		_ = c.conn.Close()
		return nil, fmt.Errorf("nameserver: write: %w", err)
	}
	select {
	case resp, ok := <-ch:
		if !ok {
			return nil, c.Err()
		}
		return resp, nil
	case <-ctx.Done():
		c.forget(req.Opaque)
		return nil, ctx.Err()
	}
}

func (c *Client) forget(opaque int32) {
	c.mu.Lock()
	delete(c.pending, opaque)
	c.mu.Unlock()
}

func (c *Client) readLoop() {
	defer close(c.done)
	var err error
	for err == nil {
		var cmd *remoting.Command
		cmd, err = c.readCommand()
		if err != nil || !cmd.IsResponse() {
			continue
		}
		c.mu.Lock()
		ch := c.pending[cmd.Opaque]
		delete(c.pending, cmd.Opaque)
		c.mu.Unlock()
		if ch != nil {
			ch <- cmd
		}
	}
	c.mu.Lock()
	c.err = fmt.Errorf("%w: %v", ErrClientClosed, err)
	for op, ch := range c.pending {
		close(ch)
		delete(c.pending, op)
	}
	c.mu.Unlock()
}

func (c *Client) readCommand() (*remoting.Command, error) {
	var lenBuf [4]byte
	if _, err := io.ReadFull(c.conn, lenBuf[:]); err != nil {
		return nil, err
	}
	if _, err := remoting.FrameLen(lenBuf[:]); err != nil { // bounds the length
		return nil, err
	}
	size := int(binary.BigEndian.Uint32(lenBuf[:]))
	frame := make([]byte, size)
	if _, err := io.ReadFull(c.conn, frame); err != nil {
		return nil, err
	}
	return remoting.Decode(frame)
}
