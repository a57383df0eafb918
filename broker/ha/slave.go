package ha

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"
)

// Replica is the slave's store as replication writes it (*storage.Store
// in replica mode).
type Replica interface {
	LogRange() (min, written int64)
	// AppendReplica appends the whole, verified entries at the start of
	// data at phys and returns how many bytes it took.
	AppendReplica(ctx context.Context, phys int64, data []byte) (int, error)
	// Truncate cuts the log back to phys (an entry boundary), when the
	// master says it goes past where the two agree.
	Truncate(phys int64) error
	// SetReplicated raises the offset below which readers may see: the
	// master's confirmed offset (the store's visibility gate is on while
	// it is a replica, so it shows nothing a failover could take back).
	SetReplicated(off int64)
}

// SlaveConfig configures a Slave.
type SlaveConfig struct {
	Cluster, Broker string
	BrokerID        int64 // >= 1
	Store           Replica
	// MasterAddr returns the master's HA address, "" while unknown (the
	// broker learns it from its name server registrations, or from
	// haMasterAddress).
	MasterAddr func() string
	// EpochPath, if set, is the slave's epoch file (controller mode): the
	// hello carries its list, and the master's list replaces it at each
	// accepted hello. Empty: classic mode, no epochs.
	EpochPath string
	// LocalAddr, if set, is the address the slave connects from (its own
	// host, so that the master, firewalls and logs see the slave's
	// address rather than the default route's).
	LocalAddr net.Addr
	// MaxEntrySize bounds the bytes a slave buffers for one entry that
	// spans frames (the store's max entry size; default 64 MiB + 1 MiB).
	MaxEntrySize int
	// Heartbeat is how often the slave reports while idle (5 s);
	// Housekeeping how long a silent master is waited for (20 s); Retry
	// the pause between connection attempts (1 s).
	Heartbeat, Housekeeping, Retry time.Duration
	Logger                         *slog.Logger
}

func (c *SlaveConfig) validate() error {
	if c.Store == nil || c.MasterAddr == nil || c.Broker == "" || c.BrokerID <= 0 {
		return errors.New("ha: a slave needs a store, a master address, a broker name and a brokerId >= 1")
	}
	if c.MaxEntrySize <= 0 {
		c.MaxEntrySize = 65 << 20
	}
	c.Heartbeat = cmp.Or(c.Heartbeat, DefaultHeartbeat)
	c.Housekeeping = cmp.Or(c.Housekeeping, DefaultHousekeeping)
	if c.Retry <= 0 {
		c.Retry = time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// Slave copies its master's CommitLog into its store: it connects to the
// master's HA port, says what it holds, appends the stream at exactly the
// offsets sent (the store verifies every entry) and reports its written
// end after each append and every heartbeat interval.
type Slave struct {
	cfg SlaveConfig
	log *slog.Logger

	mu     sync.Mutex // guards status
	status SlaveStatus
}

// SlaveStatus is what a slave knows of its stream.
type SlaveStatus struct {
	MasterAddr string
	Connected  bool
	// MasterOffset is the end of the last frame received: what the master
	// had written then (a lower bound of its written end).
	MasterOffset int64
	// Written is the slave's own written end.
	Written int64
	// Confirmed is the highest confirmed offset the master sent: its high
	// watermark, beyond which the slave shows readers nothing.
	Confirmed int64
	// LastError is why the last session ended, if it failed.
	LastError string
}

// NewSlave returns a slave; Run runs it.
func NewSlave(cfg SlaveConfig) (*Slave, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Slave{cfg: cfg, log: cfg.Logger.With("component", "ha", "role", "slave")}, nil
}

// Status reports the stream's state.
func (s *Slave) Status() SlaveStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.status
	_, st.Written = s.cfg.Store.LogRange()
	return st
}

// errTruncated ends a session after a truncation: the next one starts at
// once.
var errTruncated = errors.New("ha: truncated; reconnecting")

// Run connects to the master and copies its log until ctx is done,
// reconnecting after every failure. It returns ctx's error.
func (s *Slave) Run(ctx context.Context) error {
	var lastErr string
	var lastSessionErr error
	for ctx.Err() == nil {
		addr := s.cfg.MasterAddr()
		lastSessionErr = nil
		if addr != "" {
			err := s.session(ctx, addr)
			lastSessionErr = err
			s.mu.Lock()
			s.status.Connected = false
			if err != nil && ctx.Err() == nil {
				s.status.LastError = err.Error()
			}
			s.mu.Unlock()
			// Log a failure once, not at every retry.
			if err != nil && ctx.Err() == nil && err.Error() != lastErr {
				s.log.Warn("ha: stream from the master ended", "master", addr, "err", err)
				lastErr = err.Error()
			}
		}
		if errors.Is(lastSessionErr, errTruncated) {
			continue
		}
		select {
		case <-ctx.Done():
		case <-time.After(s.cfg.Retry):
		}
	}
	return ctx.Err()
}

// session is one connection to the master at addr.
func (s *Slave) session(ctx context.Context, addr string) error {
	d := net.Dialer{LocalAddr: s.cfg.LocalAddr}
	dctx, cancel := context.WithTimeout(ctx, s.cfg.Housekeeping)
	c, err := d.DialContext(dctx, "tcp", addr)
	cancel()
	if err != nil {
		return fmt.Errorf("dial %s: %w", addr, err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { _ = c.Close() })
	defer stop()

	min, written := s.cfg.Store.LogRange()
	var epochs []Epoch
	if s.cfg.EpochPath != "" {
		if epochs, err = LoadEpochs(s.cfg.EpochPath); err != nil {
			return err
		}
		if epochs == nil {
			epochs = []Epoch{}
		}
	}
	hello, err := AppendHello(nil, Hello{Cluster: s.cfg.Cluster, Broker: s.cfg.Broker, BrokerID: s.cfg.BrokerID,
		MinOffset: min, WrittenOffset: written, Epochs: epochs, Confirm: true})
	if err != nil {
		return err
	}
	_ = c.SetWriteDeadline(time.Now().Add(s.cfg.Housekeeping))
	if _, err := c.Write(hello); err != nil {
		return fmt.Errorf("send hello: %w", err)
	}
	r, err := readReply(c, s.cfg.Housekeeping)
	if err != nil {
		return err
	}
	switch r.Status {
	case StatusRefused:
		return fmt.Errorf("master %s refused this slave: %s", addr, r.Reason)
	case StatusTruncate:
		// The log goes past where it agrees with the master's (an old
		// master's unreplicated tail): cut it, then connect again.
		if err := s.cfg.Store.Truncate(r.StartOffset); err != nil {
			return fmt.Errorf("truncate to %d as master %s asks: %w", r.StartOffset, addr, err)
		}
		s.log.Warn("ha: truncated the log to the master's", "master", addr, "from", written, "to", r.StartOffset)
		return errTruncated
	}
	if s.cfg.EpochPath != "" && !slices.Equal(r.Epochs, epochs) {
		if err := SaveEpochs(s.cfg.EpochPath, r.Epochs); err != nil {
			return err
		}
	}
	s.mu.Lock()
	s.status = SlaveStatus{MasterAddr: addr, Connected: true, MasterOffset: r.StartOffset}
	s.mu.Unlock()
	s.log.Info("ha: streaming from the master", "master", addr, "start", r.StartOffset, "written", written)

	rep := &reporter{conn: c, timeout: s.cfg.Housekeeping}
	beatDone := make(chan struct{})
	beatStop := make(chan struct{})
	go func() {
		defer close(beatDone)
		t := time.NewTicker(s.cfg.Heartbeat)
		defer t.Stop()
		for {
			select {
			case <-beatStop:
				return
			case <-t.C:
				_, w := s.cfg.Store.LogRange()
				if rep.report(w) != nil {
					return
				}
			}
		}
	}()
	defer func() { close(beatStop); <-beatDone }()
	return s.receive(ctx, c, r.StartOffset, rep)
}

// receive reads frames and appends them. next is where the next frame
// must start: the store's written end plus the bytes held back (an entry
// that continues in the next frame).
func (s *Slave) receive(ctx context.Context, c net.Conn, start int64, rep *reporter) error {
	_, at := s.cfg.Store.LogRange() // where the held bytes start
	if start != at {
		// The master starts elsewhere only for an empty log (its oldest
		// segment); AppendReplica decides whether that is allowed.
		at = start
	}
	var held []byte
	var hdr [ConfirmHeaderSize]byte
	for {
		_ = c.SetReadDeadline(time.Now().Add(s.cfg.Housekeeping))
		if _, err := io.ReadFull(c, hdr[:]); err != nil {
			return fmt.Errorf("read frame: %w", err)
		}
		phys, size, confirm, err := DecodeConfirmHeader(hdr[:])
		if err != nil {
			return err
		}
		next := at + int64(len(held))
		if phys != next {
			return fmt.Errorf("frame at %d, expected %d", phys, next)
		}
		s.mu.Lock()
		s.status.Confirmed = max(s.status.Confirmed, confirm)
		s.mu.Unlock()
		if size == 0 {
			// A heartbeat, or the master's confirmed offset moved.
			s.cfg.Store.SetReplicated(confirm)
			continue
		}
		if len(held)+size > s.cfg.MaxEntrySize+MaxFrameBody {
			return fmt.Errorf("%d bytes held without a whole entry", len(held)+size)
		}
		held = slicesGrow(held, size)
		if _, err := io.ReadFull(c, held[len(held)-size:]); err != nil {
			return fmt.Errorf("read frame body: %w", err)
		}
		s.mu.Lock()
		s.status.MasterOffset = phys + int64(size)
		s.mu.Unlock()
		n, err := s.cfg.Store.AppendReplica(ctx, at, held)
		if n > 0 {
			at += int64(n)
			held = held[:copy(held, held[n:])]
			if rerr := rep.report(at); rerr != nil && err == nil {
				err = rerr
			}
		}
		if err != nil {
			return fmt.Errorf("append at %d: %w", at, err)
		}
		// After the append: what the master confirmed may include it.
		s.cfg.Store.SetReplicated(confirm)
	}
}

// slicesGrow extends b by n bytes (contents of the new bytes undefined).
func slicesGrow(b []byte, n int) []byte {
	if cap(b)-len(b) < n {
		nb := make([]byte, len(b), 2*cap(b)+n)
		copy(nb, b)
		b = nb
	}
	return b[:len(b)+n]
}

// reporter writes reports from the receiver and the heartbeat.
type reporter struct {
	mu      sync.Mutex
	conn    net.Conn
	timeout time.Duration
	buf     [ReportSize]byte
}

func (r *reporter) report(off int64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	_ = r.conn.SetWriteDeadline(time.Now().Add(r.timeout))
	_, err := r.conn.Write(AppendReport(r.buf[:0], off))
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

// readReply reads the master's reply within timeout, exactly its bytes:
// the stream's first frame may follow it in the same segment, and that
// is not the reply's to take.
func readReply(c net.Conn, timeout time.Duration) (Reply, error) {
	_ = c.SetReadDeadline(time.Now().Add(timeout))
	defer c.SetReadDeadline(time.Time{})
	buf := make([]byte, 0, MaxReplySize)
	for {
		r, n, err := DecodeReply(buf)
		if err != nil {
			return r, err
		}
		if n > 0 {
			return r, nil
		}
		need := replyNeed(buf)
		if need > cap(buf) || need <= len(buf) {
			return r, fmt.Errorf("%w: reply of %d bytes", ErrMalformed, need)
		}
		k := len(buf)
		buf = buf[:need]
		if _, err := io.ReadFull(c, buf[k:]); err != nil {
			return r, fmt.Errorf("read reply: %w", err)
		}
	}
}

// replyNeed is how many bytes of a reply b (a prefix of one) must be read
// before its next length field, or its end, is known.
func replyNeed(b []byte) int {
	if len(b) < replyFixed+2 {
		return replyFixed + 2
	}
	reasonEnd := replyFixed + 2 + int(binary.BigEndian.Uint16(b[replyFixed:]))
	if len(b) < reasonEnd+2 {
		return reasonEnd + 2
	}
	return reasonEnd + 2 + int(binary.BigEndian.Uint16(b[reasonEnd:]))*epochSize
}
