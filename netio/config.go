package netio

import (
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
	// while it is at MaxInFlight; beyond it the connection is closed with
	// ErrBacklog. Defaults to DefaultMaxBufferedBytes and is raised to hold
	// at least one maximal LengthPrefixed frame.
	MaxBufferedBytes int
	// MaxConns bounds open connections; excess ones are closed at accept.
	// Zero means no bound.
	MaxConns int
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
	if isLP && cfg.MaxBufferedBytes < lp.Max+lp.HeaderLen() {
		cfg.MaxBufferedBytes = lp.Max + lp.HeaderLen()
	}
	if cfg.MaxConns < 0 || cfg.NumLoops < 0 || cfg.IdleTimeout < 0 {
		return errors.New("netio: negative MaxConns, NumLoops or IdleTimeout")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return nil
}

// tickInterval is how often idle connections are looked for.
func (cfg *Config) tickInterval() time.Duration {
	return min(max(cfg.IdleTimeout/4, 5*time.Millisecond), time.Second)
}
