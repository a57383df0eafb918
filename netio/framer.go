package netio

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Sentinel errors. A connection closed for one of them reports it (wrapped)
// to Handler.OnClose.
var (
	// ErrFrameTooLarge: a declared frame length is over the Framer's maximum.
	ErrFrameTooLarge = errors.New("netio: frame too large")
	// ErrBadFrame: a declared frame length is negative or otherwise invalid.
	ErrBadFrame = errors.New("netio: bad frame length")
	// ErrBacklog: too many unread bytes waited behind in-flight frames.
	ErrBacklog = errors.New("netio: too many bytes buffered")
	// ErrReadTimeout: a frame was started and not completed within
	// Config.ReadTimeout.
	ErrReadTimeout = errors.New("netio: frame not completed within the read timeout")
	// ErrIdle: no traffic for Config.IdleTimeout.
	ErrIdle = errors.New("netio: idle timeout")
	// ErrClosed: the connection is closed; returned by Conn.Write.
	ErrClosed = errors.New("netio: connection closed")
	// ErrServerClosed: the server shut down.
	ErrServerClosed = errors.New("netio: server closed")
	// ErrHandlerPanic: Handler.OnFrame panicked; the connection was closed.
	ErrHandlerPanic = errors.New("netio: handler panicked")
)

// DefaultMaxFrame is LengthPrefixed's maximum when Config.Framer is nil:
// RocketMQ's 16 MiB per frame (docs/design.md section 5).
const DefaultMaxFrame = 16 << 20

// Framer cuts a byte stream into frames. It is called on the event loop and
// must not block or retain header.
type Framer interface {
	// HeaderLen is the fixed number of bytes that precede every body.
	HeaderLen() int
	// FrameLen returns the body length declared by a header of HeaderLen
	// bytes, or an error wrapping ErrFrameTooLarge or ErrBadFrame. It is
	// called before the body is allocated.
	FrameLen(header []byte) (int, error)
}

// LengthPrefixed is the framing of Kafka and RocketMQ remoting: a 4-byte
// big-endian signed length, then that many bytes.
type LengthPrefixed struct {
	// Max is the largest accepted body length; it must be positive.
	Max int
}

// HeaderLen implements Framer.
func (LengthPrefixed) HeaderLen() int { return 4 }

// FrameLen implements Framer.
func (f LengthPrefixed) FrameLen(header []byte) (int, error) {
	if len(header) < 4 {
		return 0, fmt.Errorf("netio: %d-byte header: %w", len(header), ErrBadFrame)
	}
	n := int64(int32(binary.BigEndian.Uint32(header)))
	switch {
	case n < 0:
		return 0, fmt.Errorf("netio: length %d: %w", n, ErrBadFrame)
	case n > int64(f.Max):
		return 0, fmt.Errorf("netio: length %d over %d: %w", n, f.Max, ErrFrameTooLarge)
	}
	return int(n), nil
}
