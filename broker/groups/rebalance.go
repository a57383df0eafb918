package groups

import "time"

// maxRebalanceTimeout is the longest rebalance timeout of the members:
// how long a rebalance waits for them to rejoin.
func (g *Group) maxRebalanceTimeout() time.Duration {
	var d time.Duration
	for _, m := range g.members {
		d = max(d, m.RebalanceTimeout)
	}
	return d
}

// prepareRebalance moves the group to PreparingRebalance. Parked SyncGroup
// calls of the abandoned generation get REBALANCE_IN_PROGRESS. A group
// leaving Empty waits InitialRebalanceDelay for more members, extended
// while members keep arriving, up to the rebalance timeout (Kafka's
// InitialDelayedJoin, KIP-134).
func (g *Group) prepareRebalance(now time.Time, r *Ready) {
	if g.State == CompletingRebalance {
		for _, m := range g.Members() {
			m.Assignment = nil
			if m.syncToken != 0 {
				r.sync(m.syncToken, SyncResult{Err: ErrRebalanceInProgress})
				m.syncToken = 0
			}
		}
	}
	timeout := g.maxRebalanceTimeout()
	g.initialDelay = g.State == Empty
	g.State = PreparingRebalance
	if g.initialDelay {
		g.newMemberAdded = false
		g.initialEnd = now.Add(timeout)
		g.rebalanceAt = now.Add(min(g.cfg.InitialRebalanceDelay, timeout))
	} else {
		g.rebalanceAt = now.Add(timeout)
	}
	g.checkJoin(now, r)
}

// allJoined says whether every member has rejoined and no member id
// handed out with MEMBER_ID_REQUIRED is still outstanding.
func (g *Group) allJoined() bool {
	for _, m := range g.members {
		if m.joinToken == 0 {
			return false
		}
	}
	return len(g.pending) == 0
}

// checkJoin completes the join phase when it is due.
func (g *Group) checkJoin(now time.Time, r *Ready) {
	if g.State != PreparingRebalance {
		return
	}
	if g.initialDelay {
		if now.Before(g.rebalanceAt) {
			return
		}
		if g.newMemberAdded && now.Before(g.initialEnd) {
			g.newMemberAdded = false
			g.rebalanceAt = minTime(now.Add(g.cfg.InitialRebalanceDelay), g.initialEnd)
			return
		}
		g.completeJoin(now, r)
		return
	}
	if g.allJoined() || !now.Before(g.rebalanceAt) {
		g.completeJoin(now, r)
	}
}

// completeJoin ends the join phase (Kafka's onCompleteJoin): members that
// did not rejoin are dropped, the generation advances, the protocol is
// selected and every member gets its JoinGroup answer.
func (g *Group) completeJoin(now time.Time, r *Ready) {
	for _, m := range g.Members() {
		if m.joinToken == 0 {
			g.remove(m.ID)
		}
	}
	g.initialDelay = false
	g.Generation++
	if len(g.members) == 0 {
		g.State, g.Protocol, g.Leader = Empty, "", ""
		r.Persist = true
		return
	}
	if _, ok := g.members[g.Leader]; !ok {
		g.Leader = g.order[0]
	}
	g.Protocol = g.selectProtocol()
	g.State = CompletingRebalance
	g.rebalanceAt = now.Add(g.maxRebalanceTimeout())
	for _, m := range g.Members() {
		tok := m.joinToken
		m.joinToken = 0
		m.heartbeatAt = now.Add(m.SessionTimeout)
		r.join(tok, g.joinResult(m, false))
	}
}

// membersGone reacts to members that left or expired.
func (g *Group) membersGone(now time.Time, r *Ready) {
	switch g.State {
	case Stable, CompletingRebalance:
		g.prepareRebalance(now, r)
	case PreparingRebalance:
		g.checkJoin(now, r)
	}
}

// Tick expires sessions, MEMBER_ID_REQUIRED ids and rebalance deadlines
// that are due at now.
func (g *Group) Tick(now time.Time) Ready {
	var r Ready
	if g.State == Dead {
		return r
	}
	for id, at := range g.pending {
		if !now.Before(at) {
			delete(g.pending, id)
		}
	}
	gone := false
	for _, m := range g.Members() {
		if !m.keepAlive() && !now.Before(m.heartbeatAt) {
			g.remove(m.ID)
			gone = true
		}
	}
	// A generation whose members did not all send SyncGroup within the
	// rebalance timeout is abandoned without them (Kafka's pending-sync
	// timeout).
	if g.State == CompletingRebalance && !now.Before(g.rebalanceAt) {
		for _, m := range g.Members() {
			if m.syncToken == 0 {
				g.remove(m.ID)
				gone = true
			}
		}
	}
	if gone {
		g.membersGone(now, &r)
	}
	g.checkJoin(now, &r)
	return r
}

// Deadline returns when Tick must next run, or false if no timer is due.
func (g *Group) Deadline() (time.Time, bool) {
	var at time.Time
	set := func(t time.Time) {
		if at.IsZero() || t.Before(at) {
			at = t
		}
	}
	for _, t := range g.pending {
		set(t)
	}
	for _, m := range g.members {
		if !m.keepAlive() {
			set(m.heartbeatAt)
		}
	}
	if g.State == PreparingRebalance || g.State == CompletingRebalance {
		set(g.rebalanceAt)
	}
	return at, !at.IsZero()
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
