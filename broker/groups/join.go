package groups

import "time"

// JoinRequest is a JoinGroup call (key 11).
type JoinRequest struct {
	MemberID     string // "" for a new member
	InstanceID   string // group.instance.id, "" for dynamic members (v5+)
	ClientID     string
	ClientHost   string
	ProtocolType string
	Protocols    []Protocol
	// SessionTimeout and RebalanceTimeout (v1+; v0 uses the session
	// timeout for both, as Kafka does).
	SessionTimeout   time.Duration
	RebalanceTimeout time.Duration
	// RequireKnownMemberID is set from v4 on (KIP-394): a new dynamic
	// member first gets MEMBER_ID_REQUIRED with its id.
	RequireKnownMemberID bool
}

// JoinedMember is one member as the leader sees it in its JoinGroup reply.
type JoinedMember struct {
	ID         string
	InstanceID string
	Metadata   []byte
}

// JoinResult answers a JoinGroup.
type JoinResult struct {
	Err          error
	MemberID     string
	Generation   int32
	ProtocolType string
	Protocol     string
	Leader       string
	// SkipAssignment tells a static leader that rejoined a Stable group
	// not to assign again (KIP-814).
	SkipAssignment bool
	Members        []JoinedMember // the leader's reply only
}

// JoinReply is a JoinResult for a parked or immediate call.
type JoinReply struct {
	Token  Token
	Result JoinResult
}

// SyncReply is a SyncResult for a parked or immediate call.
type SyncReply struct {
	Token  Token
	Result SyncResult
}

// Ready is what an event produced: replies to deliver, in order, and
// whether the group's durable record must be written (before delivering
// the replies, so an acknowledged assignment is durable).
type Ready struct {
	Joins   []JoinReply
	Syncs   []SyncReply
	Persist bool
}

func (r *Ready) join(tok Token, res JoinResult) { r.Joins = append(r.Joins, JoinReply{tok, res}) }
func (r *Ready) sync(tok Token, res SyncResult) { r.Syncs = append(r.Syncs, SyncReply{tok, res}) }

// Join handles a JoinGroup; the reply comes in this Ready or a later one
// under tok.
func (g *Group) Join(now time.Time, tok Token, req JoinRequest) Ready {
	var r Ready
	if req.RebalanceTimeout <= 0 {
		req.RebalanceTimeout = req.SessionTimeout
	}
	if err := g.validateJoin(req); err != nil {
		r.join(tok, JoinResult{Err: err, MemberID: req.MemberID, Generation: -1})
		return r
	}
	if req.MemberID == "" {
		g.joinUnknown(now, tok, req, &r)
	} else {
		g.joinKnown(now, tok, req, &r)
	}
	return r
}

func (g *Group) validateJoin(req JoinRequest) error {
	switch {
	case g.State == Dead:
		return ErrCoordinatorNotAvailable
	case req.SessionTimeout < g.cfg.MinSessionTimeout || req.SessionTimeout > g.cfg.MaxSessionTimeout:
		return ErrInvalidSessionTimeout
	case req.ProtocolType == "" || len(req.Protocols) == 0:
		return ErrInconsistentProtocol
	case protocolsSize(req.Protocols) > g.cfg.maxMemberMetadata():
		return ErrMetadataTooLarge
	case !g.supports(req):
		return ErrInconsistentProtocol
	}
	return nil
}

func protocolsSize(ps []Protocol) int {
	n := 0
	for _, p := range ps {
		n += len(p.Name) + len(p.Metadata)
	}
	return n
}

// supports is Kafka's GroupMetadata.supportsProtocols: a non-empty group
// accepts a member of its protocol type that shares at least one protocol
// with every other member.
func (g *Group) supports(req JoinRequest) bool {
	if len(g.members) == 0 {
		return true
	}
	if req.ProtocolType != g.ProtocolType {
		return false
	}
	for _, p := range req.Protocols {
		all := true
		for id, m := range g.members {
			if _, ok := m.metadata(p.Name); !ok && id != req.MemberID {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

func (g *Group) full() bool {
	return g.cfg.MaxSize > 0 && len(g.members)+len(g.pending) >= g.cfg.MaxSize
}

func (g *Group) joinUnknown(now time.Time, tok Token, req JoinRequest, r *Ready) {
	if req.InstanceID != "" {
		if old, ok := g.statics[req.InstanceID]; ok {
			g.replaceStatic(now, tok, req, old, r)
			return
		}
	}
	if g.full() {
		r.join(tok, JoinResult{Err: ErrGroupMaxSize, Generation: -1})
		return
	}
	id := g.cfg.NewMemberID(req.ClientID)
	if req.InstanceID == "" && req.RequireKnownMemberID {
		g.pending[id] = now.Add(req.SessionTimeout)
		r.join(tok, JoinResult{Err: ErrMemberIDRequired, MemberID: id, Generation: -1})
		return
	}
	g.addAndRebalance(now, tok, req, id, r)
}

func newMember(now time.Time, req JoinRequest, id string) *Member {
	return &Member{
		ID: id, InstanceID: req.InstanceID, ClientID: req.ClientID, ClientHost: req.ClientHost,
		SessionTimeout: req.SessionTimeout, RebalanceTimeout: req.RebalanceTimeout,
		Protocols: req.Protocols, heartbeatAt: now.Add(req.SessionTimeout),
	}
}

func (g *Group) addAndRebalance(now time.Time, tok Token, req JoinRequest, id string, r *Ready) {
	delete(g.pending, id)
	if g.full() {
		r.join(tok, JoinResult{Err: ErrGroupMaxSize, MemberID: id, Generation: -1})
		return
	}
	if len(g.members) == 0 {
		g.ProtocolType = req.ProtocolType
	}
	m := newMember(now, req, id)
	m.joinToken = tok
	g.add(m)
	if g.State == PreparingRebalance {
		g.checkJoin(now, r)
		return
	}
	g.prepareRebalance(now, r)
}

func (g *Group) joinKnown(now time.Time, tok Token, req JoinRequest, r *Ready) {
	if _, ok := g.pending[req.MemberID]; ok && req.InstanceID == "" {
		g.addAndRebalance(now, tok, req, req.MemberID, r)
		return
	}
	m, err := g.lookup(req.MemberID, req.InstanceID)
	if err != nil {
		r.join(tok, JoinResult{Err: err, MemberID: req.MemberID, Generation: -1})
		return
	}
	switch g.State {
	case PreparingRebalance:
		g.park(now, tok, m, req, r)
		g.checkJoin(now, r)
	case CompletingRebalance:
		if m.sameProtocols(req.Protocols) {
			// A duplicate join (the reply got lost): answer with the
			// current generation again.
			r.join(tok, g.joinResult(m, false))
			return
		}
		g.park(now, tok, m, req, r)
		g.prepareRebalance(now, r)
	case Stable:
		if m.ID != g.Leader && m.sameProtocols(req.Protocols) {
			m.heartbeatAt = now.Add(m.SessionTimeout)
			r.join(tok, g.joinResult(m, false))
			return
		}
		g.park(now, tok, m, req, r)
		g.prepareRebalance(now, r)
	default:
		r.join(tok, JoinResult{Err: ErrUnknownMemberID, MemberID: req.MemberID, Generation: -1})
	}
}

// park updates a member from its JoinGroup and parks the call; a call
// already parked for the member is answered REBALANCE_IN_PROGRESS.
func (g *Group) park(now time.Time, tok Token, m *Member, req JoinRequest, r *Ready) {
	if m.joinToken != 0 && m.joinToken != tok {
		r.join(m.joinToken, JoinResult{Err: ErrRebalanceInProgress, MemberID: m.ID, Generation: -1})
	}
	m.Protocols = req.Protocols
	m.SessionTimeout, m.RebalanceTimeout = req.SessionTimeout, req.RebalanceTimeout
	m.ClientID, m.ClientHost = req.ClientID, req.ClientHost
	m.joinToken = tok
	m.heartbeatAt = now.Add(m.SessionTimeout)
}

// lookup finds a member by id, fencing a static member whose instance id
// now belongs to another member id (KIP-345).
func (g *Group) lookup(memberID, instanceID string) (*Member, error) {
	if instanceID != "" {
		if id, ok := g.statics[instanceID]; ok && id != memberID {
			return nil, ErrFencedInstanceID
		}
	}
	m, ok := g.members[memberID]
	if !ok {
		return nil, ErrUnknownMemberID
	}
	return m, nil
}

// replaceStatic gives a known group.instance.id that rejoins without its
// member id a new member id, fencing the old one (KIP-345). In a Stable
// group whose selected protocol would not change, no rebalance follows:
// the member gets the current generation back, and a leader is told to
// skip the assignment (KIP-814).
func (g *Group) replaceStatic(now time.Time, tok Token, req JoinRequest, oldID string, r *Ready) {
	old := g.members[oldID]
	if old.joinToken != 0 {
		r.join(old.joinToken, JoinResult{Err: ErrFencedInstanceID, MemberID: oldID, Generation: -1})
	}
	if old.syncToken != 0 {
		r.sync(old.syncToken, SyncResult{Err: ErrFencedInstanceID})
	}
	m := newMember(now, req, g.cfg.NewMemberID(req.ClientID))
	m.Assignment = old.Assignment
	delete(g.members, oldID)
	g.members[m.ID] = m
	for i, id := range g.order {
		if id == oldID {
			g.order[i] = m.ID
		}
	}
	g.statics[req.InstanceID] = m.ID
	if g.Leader == oldID {
		g.Leader = m.ID
	}
	switch g.State {
	case Stable:
		if g.selectProtocol() == g.Protocol {
			r.Persist = true
			r.join(tok, g.joinResult(m, m.ID == g.Leader))
			return
		}
		m.joinToken = tok
		g.prepareRebalance(now, r)
	case CompletingRebalance:
		m.joinToken = tok
		g.prepareRebalance(now, r)
	default:
		m.joinToken = tok
		g.checkJoin(now, r)
	}
}

// joinResult is the JoinGroup answer for m in the current generation; the
// leader gets every member's metadata for the selected protocol.
func (g *Group) joinResult(m *Member, skip bool) JoinResult {
	res := JoinResult{
		MemberID: m.ID, Generation: g.Generation, ProtocolType: g.ProtocolType,
		Protocol: g.Protocol, Leader: g.Leader, SkipAssignment: skip,
	}
	if m.ID == g.Leader {
		for _, x := range g.Members() {
			md, _ := x.metadata(g.Protocol)
			res.Members = append(res.Members, JoinedMember{ID: x.ID, InstanceID: x.InstanceID, Metadata: md})
		}
	}
	return res
}

// selectProtocol is Kafka's GroupMetadata.selectProtocol: among the
// protocols every member supports, each member votes for the first it
// lists; the most votes win, ties going to the leader's (else the first
// member's) preference order.
func (g *Group) selectProtocol() string {
	ms := g.Members()
	if len(ms) == 0 {
		return ""
	}
	first := ms[0]
	if l, ok := g.members[g.Leader]; ok {
		first = l
	}
	var candidates []string
	for _, p := range first.Protocols {
		all := true
		for _, m := range ms {
			if _, ok := m.metadata(p.Name); !ok {
				all = false
				break
			}
		}
		if all {
			candidates = append(candidates, p.Name)
		}
	}
	votes := make(map[string]int, len(candidates))
	for _, m := range ms {
		for _, p := range m.Protocols {
			if contains(candidates, p.Name) {
				votes[p.Name]++
				break
			}
		}
	}
	best := ""
	for _, c := range candidates {
		if best == "" || votes[c] > votes[best] {
			best = c
		}
	}
	return best
}

func contains(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}
