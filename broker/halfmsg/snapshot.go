package halfmsg

import (
	"context"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"

	"github.com/twinmq/twinmq/broker/log"
	"github.com/twinmq/twinmq/storage"
)

// Snapshots bound the replay at start (layout in doc.go). Without them a
// start reads every op record and every half message the CommitLog still
// holds; with them it reads the op records from the last snapshot on and
// the half messages from its low mark on.

// ActionSnapshot marks a snapshot record in OpTopic.
const ActionSnapshot Action = 5

// Snapshot is what a snapshot record says: every half message below Low
// is resolved, and so are those in Above; Checks are the check counts of
// pending half messages (none: no check yet).
type Snapshot struct {
	Low    int64
	Above  []int64 // sorted, each > Low
	Checks map[int64]int
}

const (
	snapHeader    = 2 + 8 + 4
	snapCheckItem = 8 + 2
)

// AppendSnapshot appends sn's record to dst.
func AppendSnapshot(dst []byte, sn Snapshot) []byte {
	dst = append(dst, opVersion, byte(ActionSnapshot))
	dst = binary.BigEndian.AppendUint64(dst, uint64(sn.Low))
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(sn.Above)))
	for _, k := range sn.Above {
		dst = binary.BigEndian.AppendUint64(dst, uint64(k))
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(sn.Checks)))
	for _, k := range slices.Sorted(maps.Keys(sn.Checks)) {
		dst = binary.BigEndian.AppendUint64(dst, uint64(k))
		dst = binary.BigEndian.AppendUint16(dst, uint16(min(max(sn.Checks[k], 0), maxRecordedChecks)))
	}
	return dst
}

// DecodeSnapshot decodes a snapshot record.
func DecodeSnapshot(b []byte) (Snapshot, error) {
	if len(b) < snapHeader || b[0] != opVersion || Action(b[1]) != ActionSnapshot {
		return Snapshot{}, fmt.Errorf("%w: snapshot header (%d bytes)", ErrCorruptOp, len(b))
	}
	sn := Snapshot{Low: int64(binary.BigEndian.Uint64(b[2:]))}
	n := int64(binary.BigEndian.Uint32(b[10:]))
	b = b[snapHeader:]
	if sn.Low < 0 || n*8+4 > int64(len(b)) {
		return Snapshot{}, fmt.Errorf("%w: snapshot of %d keys above %d in %d bytes", ErrCorruptOp, n, sn.Low, len(b))
	}
	sn.Above = make([]int64, n)
	prev := sn.Low
	for i := range sn.Above {
		k := int64(binary.BigEndian.Uint64(b[8*i:]))
		if k <= prev {
			return Snapshot{}, fmt.Errorf("%w: snapshot key %d after %d", ErrCorruptOp, k, prev)
		}
		sn.Above[i], prev = k, k
	}
	b = b[8*n:]
	m := int64(binary.BigEndian.Uint32(b))
	b = b[4:]
	if m*snapCheckItem != int64(len(b)) {
		return Snapshot{}, fmt.Errorf("%w: snapshot of %d check counts in %d bytes", ErrCorruptOp, m, len(b))
	}
	sn.Checks = make(map[int64]int, m)
	for i := range m {
		k := int64(binary.BigEndian.Uint64(b[snapCheckItem*i:]))
		if k < 0 {
			return Snapshot{}, fmt.Errorf("%w: snapshot check key %d", ErrCorruptOp, k)
		}
		sn.Checks[k] = int(binary.BigEndian.Uint16(b[snapCheckItem*i+8:]))
	}
	return sn, nil
}

// resolvedSet is which half messages are resolved: every key below low,
// and the keys in above (each > low). It is exact (built from op records
// only), so a half message appended but not yet made pending is never
// taken for resolved.
type resolvedSet struct {
	low   int64
	above map[int64]struct{}
}

func newResolvedSet(low int64) *resolvedSet {
	return &resolvedSet{low: low, above: map[int64]struct{}{}}
}

func (r *resolvedSet) has(k int64) bool {
	_, ok := r.above[k]
	return k < r.low || ok
}

// add marks k resolved and moves low past every resolved key after it.
func (r *resolvedSet) add(k int64) {
	if k < r.low {
		return
	}
	r.above[k] = struct{}{}
	r.advance()
}

// raise marks every key below low resolved.
func (r *resolvedSet) raise(low int64) {
	if low > r.low {
		r.low = low
		maps.DeleteFunc(r.above, func(k int64, _ struct{}) bool { return k < low })
	}
	r.advance()
}

func (r *resolvedSet) advance() {
	for {
		if _, ok := r.above[r.low]; !ok {
			return
		}
		delete(r.above, r.low)
		r.low++
	}
}

// snapshot writes a snapshot record and drops the op records before it,
// when no op record is being appended; it reports whether it wrote one.
// No op record is appended while it writes (beginOp waits), so every
// record before the snapshot is in the in-memory state it copies.
func (s *Service) snapshot(ctx context.Context) (bool, error) {
	s.mu.Lock()
	if s.inflight > 0 || s.snapshotting {
		s.mu.Unlock()
		return false, nil
	}
	sn := Snapshot{Low: s.resolved.low, Above: slices.Sorted(maps.Keys(s.resolved.above)), Checks: map[int64]int{}}
	for k, it := range s.core.items {
		if it.checks > 0 {
			sn.Checks[k] = it.checks
		}
	}
	s.records, s.snapshotting = 0, true
	s.mu.Unlock()
	pos, err := s.cfg.Store.Append(ctx, []storage.Entry{{Kind: storage.KindInternal, Topic: OpTopic, Count: 1, Payload: AppendSnapshot(nil, sn)}})
	s.mu.Lock()
	s.snapshotting = false
	s.opDone.Broadcast()
	s.mu.Unlock()
	if err != nil {
		return false, fmt.Errorf("halfmsg: snapshot: %w", err)
	}
	off := pos[0].QueueOffset
	if err := log.WaitVisible(ctx, s.cfg.Store, OpTopic, 0, off); err != nil {
		return false, fmt.Errorf("halfmsg: snapshot: %w", err)
	}
	if err := s.cfg.Store.SetMinOffset(OpTopic, 0, off); err != nil {
		return false, fmt.Errorf("halfmsg: snapshot: %w", err)
	}
	return true, nil
}
