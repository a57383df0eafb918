package ha

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"

	blog "github.com/twinmq/twinmq/broker/log"
)

// Source is the master's store as replication reads it (*storage.Store).
type Source interface {
	// LogRange is the CommitLog's oldest byte and written end.
	LogRange() (min, written int64)
	// ReadLog copies CommitLog bytes from phys into dst, never past the
	// written end or a segment's end; 0 at the written end.
	ReadLog(phys int64, dst []byte) (int, error)
	// SetReplicated raises the offset below which readers may see
	// (used with the store's visibility gate on a SYNC_MASTER).
	SetReplicated(off int64)
	// OnWritten sets the function called after every local write (nil:
	// none): the master's Wake, from NewMaster until Close.
	OnWritten(fn func())
	// VisibleOffset is how far readers may see: the confirmed offset a
	// stream with Hello.Confirm carries.
	VisibleOffset() int64
}

// MasterConfig configures a Master.
type MasterConfig struct {
	Cluster, Broker string // the group: a slave's hello must name it
	Store           Source
	// Sync makes the master a SYNC_MASTER: WaitReplicated waits for the
	// in-sync slaves, and SetReplicated tracks what they hold.
	Sync bool
	// MinInSyncReplicas is how many replicas, the master included, must
	// be in sync for a SYNC_MASTER to accept an append (default 1).
	MinInSyncReplicas int
	// InSyncReplicas, above 0, is RocketMQ 5's inSyncReplicas: an append
	// is acknowledged once that many replicas, the master included, hold
	// it. 0 (the default) waits for every in-sync slave, as a RocketMQ 4
	// SYNC_MASTER does. Controller mode ignores it: the whole SyncStateSet
	// acknowledges (allAckInSyncStateSet).
	InSyncReplicas int
	// SlaveTimeout bounds WaitReplicated (RocketMQ's slaveTimeout, 3 s).
	SlaveTimeout time.Duration
	// MaxGap: a slave farther behind is not in sync (haMaxGapNotInSync,
	// 256 MiB).
	MaxGap int64
	// Lease, if set, reports whether this broker may still act as master
	// (controller mode: it heard from the controller recently enough that
	// no other master can have been elected); Check refuses appends with
	// blog.ErrFenced when it does not.
	Lease func() bool
	// Epochs, if set, returns the master's epoch list (controller mode):
	// a slave whose log goes past where it agrees with the master's is
	// told to truncate (StatusTruncate), and every slave gets the list.
	Epochs func() []Epoch
	// Heartbeat is how often an idle stream sends an empty frame (5 s);
	// Housekeeping how long a silent slave is kept (20 s, as RocketMQ's
	// haHousekeepingInterval).
	Heartbeat, Housekeeping time.Duration
	Logger                  *slog.Logger
}

func (c *MasterConfig) validate() error {
	if c.Store == nil || c.Broker == "" {
		return errors.New("ha: master needs a store and a broker name")
	}
	if c.MinInSyncReplicas <= 0 {
		c.MinInSyncReplicas = 1
	}
	if c.SlaveTimeout <= 0 {
		c.SlaveTimeout = 3 * time.Second
	}
	if c.MaxGap <= 0 {
		c.MaxGap = 256 << 20
	}
	c.Heartbeat = cmp.Or(c.Heartbeat, DefaultHeartbeat)
	c.Housekeeping = cmp.Or(c.Housekeeping, DefaultHousekeeping)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// Master serves the HA port: it streams its CommitLog to each slave of
// its group and, on a SYNC_MASTER, tells appends when the in-sync slaves
// hold them. Its methods are safe for concurrent use.
type Master struct {
	cfg MasterConfig
	log *slog.Logger

	// mu guards conns, changed and closed. changed is closed (and
	// replaced) whenever a slave's acknowledged offset or the set of
	// slaves changes: WaitReplicated waits on it.
	mu      sync.Mutex
	conns   map[*slaveConn]struct{}
	changed chan struct{}
	closed  bool
	lns     []net.Listener
	wg      sync.WaitGroup

	// Controller mode (SetSyncStateSet), under mu: the confirmed
	// SyncStateSet, the master's own id, and what is known of each slave
	// (kept across its reconnects).
	controlled bool
	self       int64
	set        []int64
	members    map[int64]member
	peerBuf    []peer // peersLocked's
}

// NewMaster returns a master; Serve starts it on a listener.
func NewMaster(cfg MasterConfig) (*Master, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	m := &Master{cfg: cfg, log: cfg.Logger.With("component", "ha", "role", "master"),
		conns: make(map[*slaveConn]struct{}), changed: make(chan struct{}), members: make(map[int64]member)}
	if cfg.Sync {
		_, written := cfg.Store.LogRange()
		cfg.Store.SetReplicated(written) // no slave yet: the master alone
	}
	cfg.Store.OnWritten(m.Wake)
	return m, nil
}

// Serve accepts slaves on ln until Close; it returns nil after Close.
func (m *Master) Serve(ln net.Listener) error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		_ = ln.Close()
		return nil
	}
	m.lns = append(m.lns, ln)
	m.mu.Unlock()
	for {
		c, err := ln.Accept()
		if err != nil {
			m.mu.Lock()
			closed := m.closed
			m.mu.Unlock()
			if closed {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("ha: accept: %w", err)
		}
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			m.serveConn(c)
		}()
	}
}

// Close stops accepting, closes every slave connection and waits for
// their goroutines.
func (m *Master) Close() error {
	m.cfg.Store.OnWritten(nil)
	m.mu.Lock()
	m.closed = true
	for _, ln := range m.lns {
		_ = ln.Close()
	}
	for sc := range m.conns {
		_ = sc.conn.Close()
	}
	m.mu.Unlock()
	m.wg.Wait()
	return nil
}

// Wake tells the streams that the CommitLog grew; the store calls it
// after every local write (Source.OnWritten). On a SYNC_MASTER with no slave in sync it also
// moves the high watermark to the written end.
func (m *Master) Wake() {
	m.mu.Lock()
	for sc := range m.conns {
		select {
		case sc.wake <- struct{}{}:
		default:
		}
	}
	m.mu.Unlock()
	if m.cfg.Sync {
		m.updateWatermark()
	}
}

// Check refuses an append when fewer replicas than MinInSyncReplicas are
// in sync (blog.ErrNotEnoughReplicas).
func (m *Master) Check() error {
	if m.cfg.Lease != nil && !m.cfg.Lease() {
		return fmt.Errorf("ha: %s: %w", m.cfg.Broker, blog.ErrFenced)
	}
	if !m.cfg.Sync || m.cfg.MinInSyncReplicas <= 1 {
		return nil
	}
	_, written := m.cfg.Store.LogRange()
	m.mu.Lock()
	d := m.decideLocked(written, 0)
	m.mu.Unlock()
	if d == notEnough {
		return fmt.Errorf("ha: %s: %w", m.cfg.Broker, blog.ErrNotEnoughReplicas)
	}
	return nil
}

// WaitReplicated returns once every in-sync slave holds the bytes below
// end (at once on an ASYNC_MASTER), or the slave timeout or ctx ends.
func (m *Master) WaitReplicated(ctx context.Context, end int64) error {
	if !m.cfg.Sync {
		return nil
	}
	var timeout <-chan time.Time
	for {
		_, written := m.cfg.Store.LogRange()
		m.mu.Lock()
		d := m.decideLocked(written, end)
		ch := m.changed
		m.mu.Unlock()
		switch d {
		case replicated:
			return nil
		case notEnough:
			return fmt.Errorf("ha: %s: %w", m.cfg.Broker, blog.ErrNotEnoughReplicasAfterAppend)
		}
		if timeout == nil {
			t := time.NewTimer(m.cfg.SlaveTimeout)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-ch:
		case <-timeout:
			return fmt.Errorf("ha: %s: waiting for slaves to hold %d: %w", m.cfg.Broker, end, blog.ErrReplicationTimeout)
		case <-ctx.Done():
			return fmt.Errorf("ha: waiting for slaves: %w", ctx.Err())
		}
	}
}

// SlaveInfo describes one connected slave.
type SlaveInfo struct {
	BrokerID int64
	Addr     string
	Acked    int64 // its reported max physical offset
	Lag      int64 // the master's written end minus Acked
	InSync   bool  // classic mode: within MaxGap; controller mode: in the SyncStateSet
}

// Slaves lists the connected slaves, by broker id.
func (m *Master) Slaves() []SlaveInfo {
	_, written := m.cfg.Store.LogRange()
	m.mu.Lock()
	out := make([]SlaveInfo, 0, len(m.conns))
	for sc := range m.conns {
		p := sc.peer()
		inSync := p.inSync(written, m.cfg.MaxGap)
		if m.controlled {
			inSync = slices.Contains(m.set, p.id)
		}
		out = append(out, SlaveInfo{BrokerID: p.id, Addr: sc.conn.RemoteAddr().String(), Acked: p.acked,
			Lag: written - p.acked, InSync: inSync})
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b SlaveInfo) int { return int(a.BrokerID - b.BrokerID) })
	return out
}

// decideLocked is decide, or decideSet in controller mode.
func (m *Master) decideLocked(written, end int64) decision {
	if m.controlled {
		return decideSet(m.set, m.self, m.members, end, m.cfg.MinInSyncReplicas)
	}
	return decide(m.peersLocked(), written, end, m.cfg.MaxGap, m.cfg.MinInSyncReplicas, m.cfg.InSyncReplicas)
}

// SetSyncStateSet puts the master in controller mode, or updates it: an
// append is acknowledged once every member of set (broker ids; self is
// this master's) holds it, and readers see what every member holds.
// Call it with the set the controller confirmed, never a proposal.
func (m *Master) SetSyncStateSet(self int64, set []int64) {
	m.mu.Lock()
	m.controlled, m.self, m.set = true, self, slices.Clone(set)
	m.changedLocked()
	m.mu.Unlock()
	if m.cfg.Sync {
		m.updateWatermark()
	}
}

// SyncStateSet returns the confirmed set (controller mode).
func (m *Master) SyncStateSet() []int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.set)
}

// ProposeSyncStateSet returns the set the master should ask the
// controller for at now (proposeSet; notCatchup 0 is 15 s), and whether
// it differs from the confirmed one.
func (m *Master) ProposeSyncStateSet(now time.Time, notCatchup time.Duration) ([]int64, bool) {
	if notCatchup <= 0 {
		notCatchup = 15 * time.Second
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return proposeSet(m.set, m.self, m.members, now, notCatchup)
}

// peersLocked lists the connected slaves into a buffer reused under mu:
// it runs for every append on a SYNC_MASTER.
func (m *Master) peersLocked() []peer {
	m.peerBuf = m.peerBuf[:0]
	for sc := range m.conns {
		m.peerBuf = append(m.peerBuf, sc.peer())
	}
	return m.peerBuf
}

// changedLocked wakes every WaitReplicated.
func (m *Master) changedLocked() {
	close(m.changed)
	m.changed = make(chan struct{})
}

// updateWatermark moves the store's visible end to what the in-sync
// slaves hold (SYNC_MASTER).
func (m *Master) updateWatermark() {
	_, written := m.cfg.Store.LogRange()
	m.mu.Lock()
	hw := highWatermark(m.peersLocked(), written, m.cfg.MaxGap, m.cfg.InSyncReplicas)
	if m.controlled {
		hw = highWatermarkSet(m.set, m.self, m.members, written)
	}
	m.mu.Unlock()
	m.cfg.Store.SetReplicated(hw)
	m.wakeConfirm()
}

// wakeConfirm wakes the streams that carry confirmed offsets, so that a
// raised high watermark reaches their slaves without waiting for data.
func (m *Master) wakeConfirm() {
	m.mu.Lock()
	for sc := range m.conns {
		if sc.confirm {
			select {
			case sc.wake <- struct{}{}:
			default:
			}
		}
	}
	m.mu.Unlock()
}

// slaveConn is one slave's connection: its reader goroutine (reports)
// and its sender goroutine (the stream).
type slaveConn struct {
	conn net.Conn
	id   int64
	// confirm: the slave asked for confirmed offsets (Hello.Confirm).
	confirm bool
	wake    chan struct{}
	quit    chan struct{} // closed once the reader is done

	mu    sync.Mutex // guards acked
	acked int64
}

func (sc *slaveConn) peer() peer {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return peer{id: sc.id, acked: sc.acked}
}

// serveConn runs one slave's session: hello, then the stream out and the
// reports in, until either side fails.
func (m *Master) serveConn(c net.Conn) {
	defer c.Close()
	remote := c.RemoteAddr().String()
	h, err := readHello(c, m.cfg.Housekeeping)
	if err != nil {
		m.log.Warn("ha: refused a connection", "remote", remote, "reason", err)
		return
	}
	reply, err := m.admit(h)
	if err != nil {
		m.log.Warn("ha: refused a slave", "remote", remote, "brokerId", h.BrokerID, "cluster", h.Cluster,
			"broker", h.Broker, "reason", err)
		_ = c.SetWriteDeadline(time.Now().Add(m.cfg.Housekeeping))
		_, _ = c.Write(AppendReply(nil, Reply{Status: StatusRefused, Reason: err.Error()}))
		return
	}
	_ = c.SetWriteDeadline(time.Now().Add(m.cfg.Housekeeping))
	if _, err := c.Write(AppendReply(nil, reply)); err != nil || reply.Status != StatusOK {
		if reply.Status == StatusTruncate {
			m.log.Info("ha: slave told to truncate", "remote", remote, "brokerId", h.BrokerID,
				"slaveWritten", h.WrittenOffset, "truncateTo", reply.StartOffset)
		}
		return
	}
	start := reply.StartOffset
	sc := &slaveConn{conn: c, id: h.BrokerID, confirm: h.Confirm, wake: make(chan struct{}, 1), quit: make(chan struct{}), acked: h.WrittenOffset}
	if !m.add(sc) {
		return
	}
	m.log.Info("ha: slave connected", "remote", remote, "brokerId", h.BrokerID, "start", start,
		"slaveWritten", h.WrittenOffset)
	done := make(chan struct{})
	var sendErr error
	go func() {
		defer close(done)
		sendErr = m.stream(sc, start)
		_ = c.Close() // ends the reader
	}()
	readErr := m.readReports(sc)
	_ = c.Close()
	close(sc.quit) // ends an idle stream
	<-done
	m.remove(sc)
	m.log.Info("ha: slave disconnected", "remote", remote, "brokerId", h.BrokerID, "acked", sc.peer().acked,
		"send", errString(sendErr), "read", errString(readErr))
}

// admit checks a hello against this master and returns the reply: where
// the stream starts, or where the slave must truncate its log to first.
func (m *Master) admit(h Hello) (Reply, error) {
	switch {
	case h.Cluster != m.cfg.Cluster || h.Broker != m.cfg.Broker:
		return Reply{}, fmt.Errorf("slave of %s/%s, this master is %s/%s", h.Cluster, h.Broker, m.cfg.Cluster, m.cfg.Broker)
	case h.BrokerID <= 0:
		return Reply{}, fmt.Errorf("brokerId %d is not a slave's (>= 1)", h.BrokerID)
	}
	min, written := m.cfg.Store.LogRange()
	var epochs []Epoch
	if m.cfg.Epochs != nil {
		epochs = m.cfg.Epochs()
	}
	if n, k := len(h.Epochs), len(epochs); n > 0 && (k == 0 || h.Epochs[n-1].Epoch > epochs[k-1].Epoch) {
		// The slave has seen a newer master than this one: this master
		// is stale (replaced while stopped or cut off) and must not tell
		// anyone to truncate.
		return Reply{}, fmt.Errorf("the slave knows epoch %d, newer than this master's: this master is stale", h.Epochs[n-1].Epoch)
	}
	if h.Epochs != nil || len(epochs) > 0 {
		end, ok := CommonEnd(h.Epochs, h.WrittenOffset, epochs, written)
		if !ok {
			end = h.MinOffset // nothing is known to agree: empty the slave's log
		}
		if end < h.WrittenOffset {
			return Reply{Status: StatusTruncate, StartOffset: end, Epochs: epochs}, nil
		}
	}
	start, err := startOffset(h, min, written)
	if err != nil {
		return Reply{}, err
	}
	return Reply{Status: StatusOK, StartOffset: start, Epochs: epochs}, nil
}

// add registers sc, replacing an older connection of the same slave
// (a reconnect seen before the old one timed out).
func (m *Master) add(sc *slaveConn) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return false
	}
	for old := range m.conns {
		if old.id == sc.id {
			_ = old.conn.Close()
			delete(m.conns, old)
		}
	}
	m.conns[sc] = struct{}{}
	mb := m.members[sc.id]
	mb.id, mb.connected, mb.caughtUp = sc.id, true, time.Time{}
	mb.acked = max(mb.acked, sc.acked)
	m.members[sc.id] = mb
	m.changedLocked()
	return true
}

func (m *Master) remove(sc *slaveConn) {
	m.mu.Lock()
	if _, ok := m.conns[sc]; ok {
		delete(m.conns, sc)
		if mb, ok := m.members[sc.id]; ok {
			mb.connected, mb.caughtUp = false, time.Time{}
			m.members[sc.id] = mb
		}
		m.changedLocked()
	}
	m.mu.Unlock()
	if m.cfg.Sync {
		m.updateWatermark()
	}
}

// stream sends the CommitLog from start: data frames as bytes are
// written, an empty frame after a heartbeat interval of silence, and on a
// stream with confirmed offsets an empty frame when only the confirmed
// offset moved.
func (m *Master) stream(sc *slaveConn, start int64) error {
	hdrSize := FrameHeaderSize
	if sc.confirm {
		hdrSize = ConfirmHeaderSize
	}
	buf := make([]byte, hdrSize+MaxFrameBody)
	next, sent := start, int64(0)
	if sc.confirm {
		sent = -1 // the first confirmed offset goes out at once
	}
	beat := time.NewTimer(m.cfg.Heartbeat)
	defer beat.Stop()
	for {
		n, err := m.cfg.Store.ReadLog(next, buf[hdrSize:])
		if err != nil {
			return fmt.Errorf("read the CommitLog at %d: %w", next, err)
		}
		confirm := int64(0)
		if sc.confirm {
			// Read after the data: it covers the data sent with it when
			// that is confirmed already (an ASYNC_MASTER's written end).
			confirm = m.cfg.Store.VisibleOffset()
		}
		if n == 0 && confirm == sent {
			select {
			case <-sc.wake:
				continue
			case <-sc.quit:
				return nil
			case <-beat.C:
			}
		}
		if sc.confirm {
			AppendConfirmHeader(buf[:0], next, n, confirm)
		} else {
			AppendFrameHeader(buf[:0], next, n)
		}
		_ = sc.conn.SetWriteDeadline(time.Now().Add(m.cfg.Housekeeping))
		if _, err := sc.conn.Write(buf[:hdrSize+n]); err != nil {
			return err
		}
		next += int64(n)
		sent = confirm
		beat.Reset(m.cfg.Heartbeat)
	}
}

// readReports reads the slave's offset reports until the connection
// fails or stays silent past the housekeeping interval.
func (m *Master) readReports(sc *slaveConn) error {
	var b [ReportSize]byte
	for {
		_ = sc.conn.SetReadDeadline(time.Now().Add(m.cfg.Housekeeping))
		if _, err := io.ReadFull(sc.conn, b[:]); err != nil {
			return err
		}
		off, err := DecodeReport(b[:])
		if err != nil {
			return err
		}
		_, written := m.cfg.Store.LogRange()
		if off > written {
			return fmt.Errorf("slave reports %d, past the master's end %d", off, written)
		}
		sc.mu.Lock()
		grew := off > sc.acked
		if grew {
			sc.acked = off
		}
		sc.mu.Unlock()
		m.mu.Lock()
		mb := m.members[sc.id]
		mb.id, mb.connected, mb.acked = sc.id, true, max(mb.acked, off)
		if off >= written {
			mb.caughtUp = time.Now()
		}
		m.members[sc.id] = mb
		m.mu.Unlock()
		if grew {
			m.mu.Lock()
			m.changedLocked()
			m.mu.Unlock()
			if m.cfg.Sync {
				m.updateWatermark()
			}
		}
	}
}

// readHello reads a hello within timeout.
func readHello(c net.Conn, timeout time.Duration) (Hello, error) {
	_ = c.SetReadDeadline(time.Now().Add(timeout))
	defer c.SetReadDeadline(time.Time{})
	buf := make([]byte, 0, MaxHelloSize)
	for {
		h, n, err := DecodeHello(buf)
		if err != nil {
			return h, err
		}
		if n > 0 {
			if n != len(buf) {
				return h, fmt.Errorf("%w: %d bytes after the hello", ErrMalformed, len(buf)-n)
			}
			return h, nil
		}
		if len(buf) == cap(buf) {
			return h, fmt.Errorf("%w: hello longer than %d bytes", ErrMalformed, MaxHelloSize)
		}
		k, err := c.Read(buf[len(buf):cap(buf)])
		if err != nil {
			return h, fmt.Errorf("read hello: %w", err)
		}
		buf = buf[:len(buf)+k]
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
