package netio

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Ordering says when a connection's frames are handed to the Handler.
type Ordering int

const (
	// Serial hands a connection's next frame only after done() of the
	// previous one: one request in flight, replies in request order (Kafka).
	Serial Ordering = iota
	// Concurrent hands every frame at once, up to Config.MaxInFlight per
	// connection; replies go out in any order (RocketMQ, matched by opaque).
	Concurrent
)

func (o Ordering) String() string {
	switch o {
	case Serial:
		return "serial"
	case Concurrent:
		return "concurrent"
	}
	return fmt.Sprintf("Ordering(%d)", int(o))
}

// Defaults filled in by Config.validate.
const (
	DefaultMaxInFlight      = 1024
	DefaultMaxBufferedBytes = 64 << 20
	// DefaultReadTimeout: a frame started must be complete within it
	// (Kafka clients give up on a request after 30 s).
	DefaultReadTimeout = time.Minute
)

// Config configures a Server. The zero value of every field but Addr has a
// working default.
type Config struct {
	// Addr is host:port; ":0" picks a free port (see Server.Addr).
	Addr string
	// Framer cuts frames; nil means LengthPrefixed{Max: DefaultMaxFrame}.
	Framer Framer
	// Ordering is Serial (default) or Concurrent.
	Ordering Ordering
	// MaxInFlight bounds a connection's frames whose done() has not been
	// called yet. Serial forces 1; Concurrent defaults to DefaultMaxInFlight.
	MaxInFlight int
	// MaxBufferedBytes bounds the unread bytes a connection may have waiting
	// while it is at MaxInFlight, its read-ahead is full or the memory
	// budget is spent; beyond it the connection is closed with ErrBacklog.
	// Defaults to DefaultMaxBufferedBytes. A frame larger than it is
	// still read: its bytes are moved out of gnet's buffer into the
	// frame's own as they arrive (assemble.go).
	MaxBufferedBytes int
	// MaxConns bounds open connections; excess ones are closed at accept.
	// Zero means no bound.
	MaxConns int
	// Limits, if set, are bounds shared with the broker's other Servers:
	// the request memory budget and connection counts (limits.go).
	Limits *Limits
	// ReadTimeout closes a connection (ErrReadTimeout) whose frame was
	// started (some of its bytes arrived) and is still incomplete after
	// that long, freeing what it held; 0 means DefaultReadTimeout,
	// negative disables it. Checked on gnet's ticker, like IdleTimeout.
	ReadTimeout time.Duration
	// IdleTimeout closes a connection with no traffic and no frame in flight
	// for that long. Zero disables it. Checked on gnet's ticker, so a
	// connection may live up to a quarter of IdleTimeout longer.
	IdleTimeout time.Duration
	// Multicore runs one event loop per CPU; NumLoops, if positive, sets the
	// number of event loops explicitly.
	Multicore bool
	NumLoops  int
	// Logger receives netio's and gnet's logs; nil means slog.Default().
	Logger *slog.Logger
	// TLS, if set, serves the listener over crypto/tls with a goroutine
	// per connection (stream.go) instead of gnet's event loops; the
	// Handler sees the same Conn (Conn.TLS has the peer's certificates).
	// InlineHandler is not used there, Multicore and NumLoops neither.
	TLS *tls.Config
	// TLSOptional, with TLS, also serves plaintext clients on the same
	// port: a connection whose first byte starts a TLS handshake (0x16)
	// gets TLS, any other plaintext (RocketMQ's tlsMode permissive).
	TLSOptional bool
	// OnFrameError, if set, is called on the event loop before a connection
	// is closed for a bad frame length (ErrFrameTooLarge, ErrBadFrame) or
	// ErrBacklog, so the adapter can log it. It must not block.
	OnFrameError func(c *Conn, err error)
}

// validate checks cfg and fills in defaults.
func (cfg *Config) validate() error {
	if cfg.Addr == "" {
		return errors.New("netio: empty Addr")
	}
	if cfg.Framer == nil {
		cfg.Framer = LengthPrefixed{Max: DefaultMaxFrame}
	}
	if cfg.Framer.HeaderLen() <= 0 {
		return errors.New("netio: Framer.HeaderLen must be positive")
	}
	lp, isLP := cfg.Framer.(LengthPrefixed)
	if isLP && lp.Max <= 0 {
		return fmt.Errorf("netio: LengthPrefixed.Max %d must be positive", lp.Max)
	}
	switch cfg.Ordering {
	case Serial:
		cfg.MaxInFlight = 1
	case Concurrent:
		if cfg.MaxInFlight <= 0 {
			cfg.MaxInFlight = DefaultMaxInFlight
		}
	default:
		return fmt.Errorf("netio: unknown %v", cfg.Ordering)
	}
	if cfg.MaxBufferedBytes <= 0 {
		cfg.MaxBufferedBytes = DefaultMaxBufferedBytes
	}
	if cfg.MaxBufferedBytes < assembleMin+cfg.Framer.HeaderLen() {
		cfg.MaxBufferedBytes = assembleMin + cfg.Framer.HeaderLen() // a frame that is not assembled
	}
	if cfg.ReadTimeout == 0 {
		cfg.ReadTimeout = DefaultReadTimeout
	}
	if cfg.MaxConns < 0 || cfg.NumLoops < 0 || cfg.IdleTimeout < 0 {
		return errors.New("netio: negative MaxConns, NumLoops or IdleTimeout")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return nil
}

// tickInterval is how often idle and stalled-frame connections are
// looked for.
func (cfg *Config) tickInterval() time.Duration {
	t := time.Second
	if cfg.IdleTimeout > 0 {
		t = min(t, cfg.IdleTimeout/4)
	}
	if cfg.ReadTimeout > 0 {
		t = min(t, cfg.ReadTimeout/4)
	}
	return max(t, 5*time.Millisecond)
}
