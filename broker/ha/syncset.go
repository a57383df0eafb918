package ha

import (
	"fmt"
	"slices"
	"time"
)

// This file is the master's decisions about its slaves, as pure
// functions: no clock, no I/O, no lock. master.go drives them.

// peer is what the master knows of one connected slave.
type peer struct {
	id    int64 // brokerId
	acked int64 // the slave's last reported max physical offset
}

// inSync reports whether p counts for acknowledgement: connected (it is
// in the set at all) and within maxGap bytes of the master's written end,
// as RocketMQ's haMaxGapNotInSync (256 MiB): a slave farther behind would
// stall every SYNC_MASTER write for as long as it takes to catch up.
func (p peer) inSync(written, maxGap int64) bool {
	return written-p.acked <= maxGap
}

// decision is what a SYNC_MASTER append waiting for end learns.
type decision int

const (
	waitMore   decision = iota // an in-sync slave does not have end yet
	replicated                 // every in-sync slave has end
	notEnough                  // fewer in-sync replicas than minInSync
)

// decide answers an append whose entries end at end, when the master has
// written up to written: enough replicas (the master counts as one) must
// be in sync, and every in-sync slave must hold end. A slave that falls
// out of sync while an append waits stops counting, so a slave that dies
// costs the waiting appends its housekeeping timeout, not a failure, as
// long as minInSync still holds.
//
// acks, when above 0, is RocketMQ 5's inSyncReplicas: end is replicated
// once that many replicas (the master included) hold it, whichever they
// are; 0 waits for every in-sync slave (RocketMQ 4's SYNC_MASTER).
func decide(peers []peer, written, end, maxGap int64, minInSync, acks int) decision {
	n, have := 1, 1
	all := true
	for _, p := range peers {
		if !p.inSync(written, maxGap) {
			continue
		}
		n++
		if p.acked < end {
			all = false
		} else {
			have++
		}
	}
	switch {
	case n < minInSync:
		return notEnough
	case acks > 0 && have >= acks:
		return replicated
	case acks > 0 || !all:
		return waitMore
	}
	return replicated
}

// highWatermark is how far readers may see on a SYNC_MASTER: the least
// offset the in-sync slaves hold, or the written end when none is in sync
// (the master alone then acknowledges, as minInSync allows). With acks
// above 0 (inSyncReplicas) it is the offset acks replicas hold: the
// (acks-1)-th highest of the in-sync slaves' offsets.
func highWatermark(peers []peer, written, maxGap int64, acks int) int64 {
	var held []int64
	hw := written
	for _, p := range peers {
		if !p.inSync(written, maxGap) {
			continue
		}
		held = append(held, min(p.acked, written))
		hw = min(hw, p.acked)
	}
	if acks <= 0 || len(held) == 0 {
		return hw
	}
	if acks <= 1 {
		return written
	}
	if acks-1 > len(held) {
		return hw // too few slaves: no append is acknowledged past them
	}
	slices.SortFunc(held, func(a, b int64) int { return int(b - a) }) // highest first
	return held[acks-2]
}

// startOffset is where the master streams to a slave whose hello says h,
// when the master holds [min, written). An empty slave starts at the
// master's oldest byte (all of the master's history, where RocketMQ
// starts at its last segment: a slave that holds less than the master
// is not a copy to fail over to); a slave continues at its own end. A
// slave ahead of the master, or behind what the master still holds, is
// refused: its log is not a prefix of the master's (classic mode cannot
// truncate it; the controller's epochs can).
func startOffset(h Hello, min, written int64) (int64, error) {
	empty := h.MinOffset == h.WrittenOffset
	switch {
	case h.WrittenOffset > written:
		return 0, fmt.Errorf("slave holds up to %d, past the master's end %d: the logs diverged", h.WrittenOffset, written)
	case empty:
		return min, nil
	case h.WrittenOffset < min:
		return 0, fmt.Errorf("slave holds up to %d, before the master's oldest byte %d: clear its store to copy the master again", h.WrittenOffset, min)
	}
	return h.WrittenOffset, nil
}

// Controller mode (RocketMQ 5's AutoSwitchHAService with
// allAckInSyncStateSet): the controller holds the group's SyncStateSet,
// and the master acknowledges an append once every member holds it. The
// set changes only through the controller (AlterSyncStateSet), so a
// member the master stops waiting for is out of the set the controller
// elects from before any append is acknowledged without it.

// member is what the master knows of one SyncStateSet member or
// candidate slave.
type member struct {
	id        int64
	connected bool
	acked     int64
	// caughtUp is when the slave last reported the master's whole log
	// (zero: never on this connection).
	caughtUp time.Time
}

// decideSet is decide for controller mode: every member of set but the
// master (self) must hold end; a set smaller than minInSync refuses.
func decideSet(set []int64, self int64, members map[int64]member, end int64, minInSync int) decision {
	if len(set) < minInSync {
		return notEnough
	}
	for _, id := range set {
		if id == self {
			continue
		}
		if m := members[id]; !m.connected || m.acked < end {
			return waitMore
		}
	}
	return replicated
}

// highWatermarkSet is the least offset the set's members hold (the
// master holds written).
func highWatermarkSet(set []int64, self int64, members map[int64]member, written int64) int64 {
	hw := written
	for _, id := range set {
		if id != self && members[id].acked < hw {
			hw = members[id].acked
		}
	}
	return hw
}

// proposeSet is the SyncStateSet the master asks the controller for at
// now: a member that is disconnected, or has not caught up with the
// master's log for notCatchup (RocketMQ's haMaxTimeSlaveNotCatchup, 15
// s), leaves; a connected slave that caught up within notCatchup joins.
// The master itself always stays. It reports whether the set changes.
func proposeSet(set []int64, self int64, members map[int64]member, now time.Time, notCatchup time.Duration) ([]int64, bool) {
	fresh := func(m member) bool { return m.connected && !m.caughtUp.IsZero() && now.Sub(m.caughtUp) <= notCatchup }
	out := []int64{self}
	for _, id := range set {
		if id != self && fresh(members[id]) {
			out = append(out, id)
		}
	}
	for id, m := range members {
		if id != self && !slices.Contains(out, id) && fresh(m) {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	cur := slices.Clone(set)
	slices.Sort(cur)
	return out, !slices.Equal(out, cur)
}
