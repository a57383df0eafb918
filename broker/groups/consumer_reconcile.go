package groups

import (
	"maps"
	"slices"
	"time"
)

// reconcile moves a member towards its target assignment (KIP-848
// "Member Reconciliation"):
//
//  1. While partitions are being revoked, wait until the member reports
//     (owned != nil) that it no longer holds any of them.
//  2. If the target takes partitions away, send the reduced assignment and
//     keep the member's epoch: the member revokes, then reports.
//  3. Otherwise the member moves to the assignment epoch and gets the
//     target's new partitions that no other member still holds; those
//     still held are added by a later heartbeat, once released.
func (g *ConsumerGroup) reconcile(now time.Time, m *ConsumerMember, owned Assignment) {
	if len(m.Revoking) > 0 {
		if owned == nil || overlaps(owned, m.Revoking) {
			return
		}
		m.Revoking, m.revokeBy = nil, time.Time{}
		g.changed = true
	}
	want := g.target[m.ID]
	if drop := minus(m.Assigned, want); len(drop) > 0 {
		m.Assigned = intersect(m.Assigned, want)
		m.Revoking = drop
		m.revokeBy = now.Add(m.RebalanceTimeout)
		m.send, g.changed = true, true
		return
	}
	if m.Epoch != g.AssignmentEpoch {
		m.PrevEpoch, m.Epoch = m.Epoch, g.AssignmentEpoch
		m.send, g.changed = true, true
	}
	add := minus(want, m.Assigned)
	if len(add) == 0 {
		return
	}
	held := g.heldByOthers(m.ID)
	for t, ps := range add {
		for _, p := range ps {
			if !held[tp{t, p}] {
				m.Assigned[t] = insertSorted(m.Assigned[t], p)
				m.send, g.changed = true, true
			}
		}
	}
}

type tp struct {
	topic     string
	partition int32
}

// heldByOthers returns the partitions other members own or still revoke.
func (g *ConsumerGroup) heldByOthers(id string) map[tp]bool {
	held := map[tp]bool{}
	for oid, o := range g.members {
		if oid == id {
			continue
		}
		for _, a := range []Assignment{o.Assigned, o.Revoking} {
			for t, ps := range a {
				for _, p := range ps {
					held[tp{t, p}] = true
				}
			}
		}
	}
	return held
}

// Tick removes members whose session expired and members that did not
// revoke within their rebalance timeout (KIP-848 fences them). It reports
// whether the membership changed.
func (g *ConsumerGroup) Tick(now time.Time) bool {
	changed := false
	for _, m := range g.Members() {
		expired := !now.Before(m.expiresAt)
		late := !m.revokeBy.IsZero() && !now.Before(m.revokeBy)
		if expired || late {
			g.removeMember(m.ID)
			changed = true
		}
	}
	return changed
}

// Deadline returns when Tick must next run, or false if never.
func (g *ConsumerGroup) Deadline() (time.Time, bool) {
	var at time.Time
	for _, m := range g.members {
		for _, t := range []time.Time{m.expiresAt, m.revokeBy} {
			if !t.IsZero() && (at.IsZero() || t.Before(at)) {
				at = t
			}
		}
	}
	return at, !at.IsZero()
}

// ValidateCommit checks an OffsetCommit against the group, as Kafka's
// ConsumerGroup.validateOffsetCommit: a commit with a negative epoch is
// from outside the group (an admin, a simple consumer) and needs an empty
// group; a member's commit needs a known member, a request version that
// carries the member epoch (classic: OffsetCommit before v9, which KIP-848
// members must not use: UNSUPPORTED_VERSION), and its current epoch
// (STALE_MEMBER_EPOCH otherwise).
func (g *ConsumerGroup) ValidateCommit(memberID string, epoch int32, classic bool) error {
	if epoch < 0 && len(g.members) == 0 {
		return nil
	}
	m, ok := g.members[memberID]
	if !ok {
		return ErrUnknownMemberID
	}
	if classic {
		return ErrUnsupportedForConsume
	}
	if epoch != m.Epoch {
		return ErrStaleMemberEpoch
	}
	return nil
}

// ValidateFetch checks a member's OffsetFetch (v9+), as Kafka's
// ConsumerGroup.validateOffsetFetch: no member id and a negative epoch is
// an admin's fetch; otherwise the member must be known
// (UNKNOWN_MEMBER_ID) and at its current epoch (STALE_MEMBER_EPOCH).
func (g *ConsumerGroup) ValidateFetch(memberID string, epoch int32) error {
	if memberID == "" && epoch < 0 {
		return nil
	}
	m, ok := g.members[memberID]
	if !ok {
		return ErrUnknownMemberID
	}
	if epoch != m.Epoch {
		return ErrStaleMemberEpoch
	}
	return nil
}

func insertSorted(ps []int32, p int32) []int32 {
	i, found := slices.BinarySearch(ps, p)
	if found {
		return ps
	}
	return slices.Insert(ps, i, p)
}

// minus returns a − b.
func minus(a, b Assignment) Assignment {
	out := Assignment{}
	for t, ps := range a {
		for _, p := range ps {
			if _, ok := slices.BinarySearch(b[t], p); !ok {
				out[t] = append(out[t], p)
			}
		}
	}
	return out
}

// intersect returns a ∩ b.
func intersect(a, b Assignment) Assignment {
	out := Assignment{}
	for t, ps := range a {
		for _, p := range ps {
			if _, ok := slices.BinarySearch(b[t], p); ok {
				out[t] = append(out[t], p)
			}
		}
	}
	return out
}

func overlaps(a, b Assignment) bool {
	for t, ps := range a {
		for _, p := range ps {
			if slices.Contains(b[t], p) {
				return true
			}
		}
	}
	return false
}

// subset says whether every partition of a is in b.
func subset(a, b Assignment) bool { return len(minus(a, b)) == 0 }

// sameAssignment compares two assignments, ignoring empty topics.
func sameAssignment(a, b Assignment) bool { return subset(a, b) && subset(b, a) }

func cloneAssignment(a Assignment) Assignment {
	out := make(Assignment, len(a))
	for t, ps := range a {
		if len(ps) > 0 {
			out[t] = slices.Clone(ps)
		}
	}
	return out
}

// sortedTopics returns an assignment's topics in order.
func (a Assignment) sortedTopics() []string { return slices.Sorted(maps.Keys(a)) }
