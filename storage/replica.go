package storage

import (
	"context"
	"errors"
	"fmt"
	"path"

	"github.com/twinmq/twinmq/storage/commitlog"
	"github.com/twinmq/twinmq/storage/consumequeue"
)

// Errors of replication (package doc, Replication).
var (
	// ErrReplica refuses a local write (Append, DeleteTopic,
	// SetMinOffset) on a replica.
	ErrReplica = commitlog.ErrReplica
	// ErrNotReplica refuses AppendReplica on a primary.
	ErrNotReplica = commitlog.ErrNotReplica
	// ErrReplicaOffset is wrapped by every ReplicaOffsetError.
	ErrReplicaOffset = commitlog.ErrReplicaOffset
)

// ReplicaOffsetError is an AppendReplica at Got where the replica's log
// ends at Want; errors.Is(err, ErrReplicaOffset) matches it.
type ReplicaOffsetError = commitlog.ReplicaOffsetError

// SetReplica switches the store's role: a replica refuses local writes
// (ErrReplica) and takes the primary's CommitLog bytes (AppendReplica); a
// primary the reverse. It is safe at any time: the switch waits for the
// append under way, and a replica promoted to primary continues every
// queue where the replicated entries left it. The role is not stored: a
// store opens as a primary.
func (s *Store) SetReplica(on bool) {
	if s.log.IsReplica() == on {
		return
	}
	s.log.SetReplica(on)
	role := "primary"
	if on {
		role = "replica"
	}
	min, w := s.LogRange()
	s.cfg.Logger.Info("storage: role switched", "dir", s.cfg.Dir, "role", role, "min", min, "written", w)
}

// IsReplica reports whether the store is a replica.
func (s *Store) IsReplica() bool { return s.log.IsReplica() }

// LogRange reports the CommitLog's min offset (its first byte still
// held) and its written end. min == written: the log holds no entry.
func (s *Store) LogRange() (min, written int64) {
	return s.log.MinOffset(), s.log.WrittenOffset()
}

// ReadLog copies raw CommitLog bytes from phys into dst, for a replica:
// at most len(dst), never past the written end nor across a segment's
// end (the next call continues in the next segment), and 0, nil at the
// written end. The rest of a segment after its end-of-segment marker
// reads as zeros. phys outside [min, written] (LogRange) is an error
// wrapping ErrOffsetOutOfRange. It reads the written end, not the
// visible one: a replica must get what a SYNC_MASTER has not yet shown
// anyone.
func (s *Store) ReadLog(phys int64, dst []byte) (int, error) {
	if s.closed.Load() {
		return 0, ErrClosed
	}
	n, err := s.log.ReadRaw(phys, dst)
	if errors.Is(err, commitlog.ErrOffsetNotFound) {
		return 0, fmt.Errorf("storage: read log at %d: %w: %w", phys, ErrOffsetOutOfRange, err)
	}
	if err != nil {
		return 0, fmt.Errorf("storage: read log at %d: %w", phys, err)
	}
	return n, nil
}

// AppendReplica appends bytes received from the primary at phys, the
// written end (else *ReplicaOffsetError), in a replica. It takes the
// longest prefix of data made of whole entries and end-of-segment
// markers (each with the rest of its segment, zeros), verifying each
// completely before writing any of it: magic, version, kind, length
// bounds (MaxEntrySize), room for a marker after an entry, CRC-32C, a
// decodable header, a marker that exactly fills the rest of its segment,
// and queue continuity (an entry's queueOffset is its queue's next; a
// queue the replica does not hold may start anywhere). It writes them at
// the same offsets, advances each queue's next offset and the store time
// as Append would, makes them durable before returning in SYNC_FLUSH,
// and wakes the dispatcher. It returns the bytes taken: 0 when data holds
// no whole entry (the caller keeps the bytes and retries with more).
// Invalid bytes are an error wrapping ErrCorrupt: nothing of the bad
// entry is written, the entries before it are, and n counts them.
//
// A replica holding no entry (min == written) may be asked to start at
// a later segment start (the primary's oldest segment, once its
// retention removed older ones): once data holds a whole valid item,
// the store drops its queues and its log and restarts the log there.
func (s *Store) AppendReplica(ctx context.Context, phys int64, data []byte) (int, error) {
	if s.closed.Load() {
		return 0, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if !s.log.IsReplica() {
		return 0, fmt.Errorf("storage: append replica at %d: %w", phys, ErrNotReplica)
	}
	if min, w := s.LogRange(); min == w && phys > w && phys%s.cfg.SegmentSize == 0 {
		n, err := s.log.VerifyReplica(phys, data)
		if n == 0 {
			if err != nil {
				return 0, fmt.Errorf("storage: append replica at %d: %w", phys, err)
			}
			return 0, nil // nothing whole yet: restart once something is
		}
		if err := s.do(func() error { return s.restartReplica(phys) }); err != nil {
			return 0, err
		}
	}
	n, err := s.log.AppendReplica(phys, data)
	if n > 0 {
		if s.cfg.FlushDiskType == SyncFlush {
			if _, ferr := s.log.Flush(); ferr != nil {
				return n, fmt.Errorf("storage: append replica at %d: %w", phys, ferr)
			}
		}
		s.wakeDispatcher()
	}
	if err != nil {
		return n, fmt.Errorf("storage: append replica at %d: %w", phys, err)
	}
	return n, nil
}

// restartReplica restarts an empty replica's log at phys
// (commitlog.Log.RestartAt). The queues go first, and a checkpoint
// without them is written, before the log restarts: a crash then leaves
// either the old empty log without queues or the new one, never queues
// whose next offsets would refuse the primary's entries. Owner of
// derived data only (through do).
func (s *Store) restartReplica(phys int64) error {
	if min, w := s.LogRange(); min != w {
		return fmt.Errorf("storage: restart replica at %d: the log holds [%d, %d)", phys, min, w)
	}
	s.queuesMu.Lock()
	qs := s.queues
	s.queues = map[queueKey]*consumequeue.Queue{}
	s.queuesMu.Unlock()
	for _, q := range qs {
		if err := q.Destroy(); err != nil {
			return fmt.Errorf("storage: restart replica: %w", err)
		}
	}
	if err := s.cfg.FS.RemoveAll(path.Join(s.cfg.Dir, cqDir)); err != nil {
		return fmt.Errorf("storage: restart replica: %w", err)
	}
	if err := s.cfg.FS.SyncDir(s.cfg.Dir); err != nil {
		return fmt.Errorf("storage: restart replica: %w", err)
	}
	if err := s.checkpoint(); err != nil {
		return fmt.Errorf("storage: restart replica: %w", err)
	}
	if err := s.log.RestartAt(phys); err != nil {
		return fmt.Errorf("storage: restart replica: %w", err)
	}
	s.dispatched.Store(phys)
	if err := s.index.DeleteBefore(phys); err != nil {
		return fmt.Errorf("storage: restart replica: %w", err)
	}
	return s.checkpoint()
}

// GateVisible turns the SYNC_MASTER visibility gate on or off. While it
// is on, readers never see bytes at or past the replicated mark
// (SetReplicated): dispatch stops there, HoldDispatch refuses, and
// ReadAt is bounded by it. The gate lives in memory: Close, and recovery
// after a restart, dispatch everything the log holds.
func (s *Store) GateVisible(on bool) {
	s.gated.Store(on)
	if !on {
		s.kickDispatcher()
	}
}

// VisibleOffset is the CommitLog offset below which readers may see:
// the durable end in SYNC_FLUSH, the written end in ASYNC_FLUSH, and
// never the replicated mark or past it while the gate is on. A master's
// HA stream sends it to its slaves as the confirmed offset.
func (s *Store) VisibleOffset() int64 { return s.visibleOffset() }

// SetReplicated raises the replicated mark to off (never lowers it) and
// wakes the dispatcher. off is an offset a replica reported as its
// written end: an entry boundary or a segment start.
func (s *Store) SetReplicated(off int64) {
	for {
		cur := s.replicated.Load()
		if off <= cur {
			return
		}
		if s.replicated.CompareAndSwap(cur, off) {
			break
		}
	}
	s.kickDispatcher()
}

// kickDispatcher wakes the dispatcher unconditionally.
func (s *Store) kickDispatcher() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Truncate cuts a replica's CommitLog back to phys, an entry boundary in
// [min, written] (LogRange): an old primary rejoining as a replica cuts
// to the prefix it shares with the new primary. The ConsumeQueue units
// and index entries of the entries at or past phys go, the dispatched,
// written and flushed marks move back to phys, and every queue's next
// offset becomes its ConsumeQueue's end; a queue all of whose entries
// were cut stays, empty, at the offset it started at. A primary refuses
// (ErrNotReplica), as does a cut past a topic-deletion record, whose
// dropped queues the cut cannot bring back.
//
// Crash-safe: a crash leaves the old log or the truncated one. The
// queues are cut and a checkpoint with recovery offset phys written
// first (a crash before it rebuilds the shortened queues from the log;
// after it, recovery re-dispatches the old entries from phys); then the
// index is cut; then the log (commitlog.Log.Truncate, whose cut is one
// fsynced write); then a fresh checkpoint.
func (s *Store) Truncate(phys int64) error {
	return s.do(func() error {
		if err := s.truncate(phys); err != nil {
			return fmt.Errorf("storage: truncate at %d: %w", phys, err)
		}
		return nil
	})
}

var errDeletionPastCut = errors.New("a topic-deletion record lies past the cut")

// truncate is Truncate on the owner of derived data.
func (s *Store) truncate(phys int64) error {
	if !s.log.IsReplica() {
		return ErrNotReplica
	}
	min, w := s.LogRange()
	if phys < min || phys > w {
		return fmt.Errorf("outside the log [%d, %d]: %w", min, w, ErrOffsetOutOfRange)
	}
	if phys == w {
		return nil
	}
	// An entry boundary: a scan from its segment's start lands on it.
	from := max(min, phys-phys%s.cfg.SegmentSize)
	if end, err := s.log.Scan(from, phys, false, func(int64, *commitlog.Ref) error { return nil }); err != nil || end != phys {
		return fmt.Errorf("not an entry boundary (%v): %w", err, ErrOffsetOutOfRange)
	}
	if _, err := s.log.Scan(phys, w, false, func(_ int64, r *commitlog.Ref) error {
		if r.Header.IsDeletion() {
			return errDeletionPastCut
		}
		return nil
	}); err != nil {
		return err
	}
	s.queuesMu.RLock()
	var next []commitlog.QueueNext
	for k, q := range s.queues {
		if err := q.TruncateAfterCommitLogOffset(phys); err != nil {
			s.queuesMu.RUnlock()
			return err
		}
		next = append(next, commitlog.QueueNext{Topic: k.topic, Queue: k.queue, Next: q.MaxOffset()})
	}
	s.queuesMu.RUnlock()
	if s.dispatched.Load() > phys {
		s.dispatched.Store(phys)
	}
	// The replicated mark only rises, except here: what is cut was never
	// confirmed, and what replaces it must be confirmed again.
	for {
		cur := s.replicated.Load()
		if cur <= phys || s.replicated.CompareAndSwap(cur, phys) {
			break
		}
	}
	if err := s.checkpoint(); err != nil {
		return err
	}
	if err := s.index.Truncate(phys); err != nil {
		return err
	}
	if err := s.log.Truncate(phys, next); err != nil {
		return err
	}
	return s.checkpoint()
}
