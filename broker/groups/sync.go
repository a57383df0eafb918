package groups

import "time"

// SyncRequest is a SyncGroup call (key 14).
type SyncRequest struct {
	MemberID     string
	InstanceID   string
	Generation   int32
	ProtocolType string // v5+, "" when absent
	Protocol     string // v5+, "" when absent
	// Assignments is the leader's assignment per member id.
	Assignments map[string][]byte
}

// SyncResult answers a SyncGroup.
type SyncResult struct {
	Err          error
	ProtocolType string
	Protocol     string
	Assignment   []byte
}

// Sync handles a SyncGroup; the reply comes in this Ready or a later one
// under tok. The leader's call ends CompletingRebalance: every member's
// assignment is stored, the group becomes Stable, and the record must be
// persisted before the parked calls are answered.
func (g *Group) Sync(now time.Time, tok Token, req SyncRequest) Ready {
	var r Ready
	m, err := g.checkMember(req.MemberID, req.InstanceID, req.Generation)
	if err == nil && (req.ProtocolType != "" && req.ProtocolType != g.ProtocolType ||
		req.Protocol != "" && req.Protocol != g.Protocol) {
		err = ErrInconsistentProtocol
	}
	if err == nil && g.State == PreparingRebalance {
		err = ErrRebalanceInProgress
	}
	if err != nil {
		r.sync(tok, SyncResult{Err: err})
		return r
	}
	m.heartbeatAt = now.Add(m.SessionTimeout)
	if g.State == Stable {
		r.sync(tok, g.syncResult(m))
		return r
	}
	// CompletingRebalance.
	if m.syncToken != 0 {
		r.sync(m.syncToken, SyncResult{Err: ErrRebalanceInProgress})
	}
	m.syncToken = tok
	if m.ID != g.Leader {
		return r
	}
	if err := g.checkAssignments(req.Assignments); err != nil {
		m.syncToken = 0
		r.sync(tok, SyncResult{Err: err})
		return r
	}
	for _, x := range g.Members() {
		x.Assignment = req.Assignments[x.ID]
	}
	g.State = Stable
	r.Persist = true
	for _, x := range g.Members() {
		if x.syncToken != 0 {
			r.sync(x.syncToken, g.syncResult(x))
			x.syncToken = 0
			x.heartbeatAt = now.Add(x.SessionTimeout)
		}
	}
	return r
}

// checkAssignments bounds the leader's assignments: each by
// MaxMemberMetadata, and the group's record with them by MaxRecordSize.
// The group stays in CompletingRebalance; the leader may sync again.
func (g *Group) checkAssignments(as map[string][]byte) error {
	total := 0
	for _, x := range g.members {
		a := as[x.ID]
		if len(a) > g.cfg.maxMemberMetadata() {
			return ErrMetadataTooLarge
		}
		total += x.metadataSize() - len(x.Assignment) + len(a)
	}
	if total > g.cfg.maxRecordSize() {
		return ErrGroupTooLarge
	}
	return nil
}

func (g *Group) syncResult(m *Member) SyncResult {
	return SyncResult{ProtocolType: g.ProtocolType, Protocol: g.Protocol, Assignment: m.Assignment}
}

// checkMember validates a member's call against the group as Kafka's
// coordinator does for SyncGroup, Heartbeat and OffsetCommit: dead group,
// fenced instance, unknown member, stale generation, in that order.
func (g *Group) checkMember(memberID, instanceID string, generation int32) (*Member, error) {
	if g.State == Dead {
		return nil, ErrCoordinatorNotAvailable
	}
	m, err := g.lookup(memberID, instanceID)
	if err != nil {
		return nil, err
	}
	if generation != g.Generation {
		return nil, ErrIllegalGeneration
	}
	return m, nil
}

// HeartbeatRequest is a Heartbeat call (key 12).
type HeartbeatRequest struct {
	MemberID   string
	InstanceID string
	Generation int32
}

// Heartbeat refreshes a member's session. During PreparingRebalance it
// answers ErrRebalanceInProgress, which is how members learn to rejoin.
func (g *Group) Heartbeat(now time.Time, req HeartbeatRequest) error {
	m, err := g.checkMember(req.MemberID, req.InstanceID, req.Generation)
	if err != nil {
		return err
	}
	m.heartbeatAt = now.Add(m.SessionTimeout)
	if g.State == PreparingRebalance {
		return ErrRebalanceInProgress
	}
	return nil
}

// LeaveMember is one member of a LeaveGroup (v3+ carries several, by
// member id or by group.instance.id; KIP-345).
type LeaveMember struct {
	MemberID   string
	InstanceID string
}

// Leave removes members; errs has one entry per member (nil on success).
func (g *Group) Leave(now time.Time, ms []LeaveMember) (errs []error, r Ready) {
	errs = make([]error, len(ms))
	gone := false
	for i, lm := range ms {
		if g.State == Dead {
			errs[i] = ErrCoordinatorNotAvailable
			continue
		}
		id := lm.MemberID
		if lm.InstanceID != "" {
			sid, ok := g.statics[lm.InstanceID]
			switch {
			case !ok:
				errs[i] = ErrUnknownMemberID
				continue
			case id != "" && id != sid:
				errs[i] = ErrFencedInstanceID
				continue
			}
			id = sid
		}
		if _, ok := g.pending[id]; ok {
			delete(g.pending, id)
			gone = true
			continue
		}
		m, ok := g.members[id]
		if !ok {
			errs[i] = ErrUnknownMemberID
			continue
		}
		if m.joinToken != 0 {
			r.join(m.joinToken, JoinResult{Err: ErrUnknownMemberID, MemberID: id, Generation: -1})
		}
		if m.syncToken != 0 {
			r.sync(m.syncToken, SyncResult{Err: ErrUnknownMemberID})
		}
		g.remove(id)
		gone = true
	}
	if gone {
		g.membersGone(now, &r)
	}
	return errs, r
}

// ValidateCommit checks an OffsetCommit against the group (Kafka's
// doCommitOffsets): a commit with a negative generation and no member
// into an Empty group is a simple consumer's and always allowed; a
// member's commit needs the current generation and no pending assignment.
// A valid member commit refreshes the member's session.
func (g *Group) ValidateCommit(now time.Time, memberID, instanceID string, generation int32) error {
	switch {
	case g.State == Dead:
		return ErrCoordinatorNotAvailable
	case generation < 0 && g.State == Empty:
		return nil
	case g.State == CompletingRebalance:
		return ErrRebalanceInProgress
	}
	m, err := g.checkMember(memberID, instanceID, generation)
	if err != nil {
		return err
	}
	m.heartbeatAt = now.Add(m.SessionTimeout)
	return nil
}

// Kill marks the group Dead (DeleteGroups); only an Empty group may go.
func (g *Group) Kill() error {
	if g.State != Empty && g.State != Dead {
		return ErrNonEmptyGroup
	}
	g.State = Dead
	return nil
}
