package groups

import (
	"errors"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// KIP-848 consumer groups ("consumer" group type): the broker assigns the
// partitions (server-side assignors "uniform" and "range") and every member
// reconciles towards its target assignment through ConsumerGroupHeartbeat
// alone; there is no JoinGroup/SyncGroup barrier.
//
// Epochs (KIP-848 "Group Epoch", "Assignment Epoch", "Member Epoch"): the
// group epoch goes up whenever the membership, a subscription or the
// partition count of a subscribed topic changes; a new target assignment is
// computed at that epoch. A member moves to the target epoch once it holds
// no partition the target takes away from it; a partition still owned by
// another member (pending its revocation) is withheld until released, so no
// partition is ever owned by two members.

// Errors of the consumer protocol.
var (
	ErrFencedMemberEpoch     = errors.New("groups: fenced member epoch")
	ErrStaleMemberEpoch      = errors.New("groups: stale member epoch")
	ErrUnreleasedInstanceID  = errors.New("groups: unreleased instance id")
	ErrUnsupportedAssignor   = errors.New("groups: unsupported assignor")
	ErrInvalidRequest        = errors.New("groups: invalid request")
	ErrInvalidRegex          = errors.New("groups: invalid regular expression")
	ErrNotConsumerGroup      = errors.New("groups: not a consumer group")
	ErrGroupTypeConflict     = errors.New("groups: group is a consumer group")
	ErrUnsupportedForConsume = errors.New("groups: old request version for a consumer group")
)

// Assignors are the server-side assignors, by the names clients send.
var Assignors = []string{"uniform", "range"}

// Assignment is a set of partitions by topic name, each list sorted.
type Assignment map[string][]int32

// TopicSource resolves subscriptions: a topic's partition count and, for
// regex subscriptions, every topic name. The adapter implements it over
// the topic registry.
type TopicSource interface {
	Partitions(topic string) (int32, bool)
	Names() []string
}

// ConsumerHeartbeat is one ConsumerGroupHeartbeat call (key 68). Nil
// slices and pointers mean "unchanged since the last call".
type ConsumerHeartbeat struct {
	MemberID         string
	MemberEpoch      int32
	InstanceID       *string
	RackID           *string
	ClientID         string
	ClientHost       string
	RebalanceTimeout time.Duration // <= 0: unchanged
	Topics           []string      // subscribed topic names
	Regex            *string       // subscribed topic regex (v1)
	Assignor         *string
	Owned            Assignment // nil: unchanged (a keepalive)
}

// ConsumerResult answers a ConsumerHeartbeat.
type ConsumerResult struct {
	Err               error
	MemberID          string
	MemberEpoch       int32
	HeartbeatInterval time.Duration
	Assignment        Assignment // nil: unchanged
}

// ConsumerConfig configures consumer groups.
type ConsumerConfig struct {
	// SessionTimeout and HeartbeatInterval are
	// group.consumer.{session.timeout,heartbeat.interval}.ms (45 s, 5 s).
	SessionTimeout    time.Duration
	HeartbeatInterval time.Duration
	MaxSize           int
	NewMemberID       func(clientID string) string
}

// ConsumerMember is one member of a consumer group.
type ConsumerMember struct {
	ID               string
	InstanceID       string
	RackID           string
	ClientID         string
	ClientHost       string
	Epoch            int32
	PrevEpoch        int32
	Topics           []string
	Regex            string
	Assignor         string
	RebalanceTimeout time.Duration
	Assigned         Assignment // what the member owns now
	Revoking         Assignment // taken away, not yet released by the member

	send      bool // the next reply carries Assigned
	left      bool // a static member that left temporarily (epoch -2)
	expiresAt time.Time
	revokeBy  time.Time // zero unless Revoking is set
}

// ConsumerGroup is the deterministic core of one KIP-848 group; the driver
// serializes calls.
type ConsumerGroup struct {
	cfg ConsumerConfig

	ID              string
	Epoch           int32
	AssignmentEpoch int32
	Assignor        string
	members         map[string]*ConsumerMember
	statics         map[string]string
	target          map[string]Assignment
	subsKey         string // subscriptions and partition counts of the target
	dirty           bool   // membership changed since the target was computed
	// changed: the durable state (Record) changed since TakeChanged; the
	// driver then writes the group's record. A keepalive leaves it unset.
	changed bool
}

// TakeChanged reports whether the durable state changed since the last
// call, and clears the mark.
func (g *ConsumerGroup) TakeChanged() bool {
	c := g.changed
	g.changed = false
	return c
}

// NewConsumerGroup returns an empty consumer group.
func NewConsumerGroup(id string, cfg ConsumerConfig) *ConsumerGroup {
	return &ConsumerGroup{cfg: cfg, ID: id, members: map[string]*ConsumerMember{},
		statics: map[string]string{}, target: map[string]Assignment{}}
}

// Len returns the number of members.
func (g *ConsumerGroup) Len() int { return len(g.members) }

// Members returns the members sorted by id; callers must not modify them.
func (g *ConsumerGroup) Members() []*ConsumerMember {
	out := slices.Collect(maps.Values(g.members))
	slices.SortFunc(out, func(a, b *ConsumerMember) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// Target returns a member's target assignment.
func (g *ConsumerGroup) Target(id string) Assignment { return g.target[id] }

// StateName is KIP-848's group state: empty, assigning (a target newer
// than the members' epochs is being computed), reconciling, stable.
func (g *ConsumerGroup) StateName() string {
	if len(g.members) == 0 {
		return "empty"
	}
	if g.dirty || g.AssignmentEpoch != g.Epoch {
		return "assigning"
	}
	for _, m := range g.members {
		if m.Epoch != g.AssignmentEpoch || len(m.Revoking) > 0 || !sameAssignment(m.Assigned, g.target[m.ID]) {
			return "reconciling"
		}
	}
	return "stable"
}

// Heartbeat runs one ConsumerGroupHeartbeat at now.
func (g *ConsumerGroup) Heartbeat(now time.Time, req ConsumerHeartbeat, topics TopicSource) ConsumerResult {
	res := ConsumerResult{MemberID: req.MemberID, MemberEpoch: req.MemberEpoch, HeartbeatInterval: g.cfg.HeartbeatInterval}
	if err := validateHeartbeat(req); err != nil {
		res.Err = err
		return res
	}
	var m *ConsumerMember
	var err error
	switch {
	case req.MemberEpoch == -1 || req.MemberEpoch == -2:
		res.Err = g.leave(now, req)
		return res
	case req.MemberEpoch == 0:
		m, err = g.join(now, req)
	default:
		m, err = g.member(req)
	}
	if err != nil {
		res.Err = err
		return res
	}
	if err := g.update(m, req); err != nil {
		res.Err = err
		return res
	}
	m.expiresAt = now.Add(g.cfg.SessionTimeout)
	g.maybeRetarget(topics)
	g.reconcile(now, m, req.Owned)
	res.MemberID, res.MemberEpoch = m.ID, m.Epoch
	if m.send || req.Owned != nil && !sameAssignment(req.Owned, m.Assigned) {
		res.Assignment = cloneAssignment(m.Assigned)
		m.send = false
	}
	return res
}

// validateHeartbeat checks what must not change the group when wrong.
func validateHeartbeat(req ConsumerHeartbeat) error {
	if req.Assignor != nil && *req.Assignor != "" && !slices.Contains(Assignors, *req.Assignor) {
		return ErrUnsupportedAssignor
	}
	if req.Regex != nil {
		if _, err := regexp.Compile(*req.Regex); err != nil {
			return ErrInvalidRegex
		}
	}
	return nil
}

// join admits a member (epoch 0): a new one, a rejoin of a known member id
// (the lost-response recovery: its assignment is sent again), or a static
// member taking over its instance id.
func (g *ConsumerGroup) join(now time.Time, req ConsumerHeartbeat) (*ConsumerMember, error) {
	if req.Topics == nil && req.Regex == nil || len(req.Owned) > 0 {
		return nil, ErrInvalidRequest
	}
	id := req.MemberID
	if id == "" {
		id = g.cfg.NewMemberID(req.ClientID)
	}
	g.changed = true
	if m, ok := g.members[id]; ok {
		m.send, m.left = true, false
		return m, nil
	}
	if req.InstanceID != nil && *req.InstanceID != "" {
		if old, ok := g.statics[*req.InstanceID]; ok {
			om := g.members[old]
			if !om.left {
				return nil, ErrUnreleasedInstanceID
			}
			// KIP-848 static membership: the new member id inherits the
			// old one's epoch and assignment, and no rebalance follows.
			// The subscription fingerprint names static members by
			// instance id, so the rename alone starts no new epoch.
			delete(g.members, old)
			g.target[id] = g.target[old]
			delete(g.target, old)
			om.ID, om.left, om.send = id, false, true
			g.members[id] = om
			g.statics[*req.InstanceID] = id
			return om, nil
		}
	}
	if g.cfg.MaxSize > 0 && len(g.members) >= g.cfg.MaxSize {
		return nil, ErrGroupMaxSize
	}
	m := &ConsumerMember{ID: id, Assigned: Assignment{}, send: true, expiresAt: now.Add(g.cfg.SessionTimeout)}
	g.members[id] = m
	if req.InstanceID != nil && *req.InstanceID != "" {
		m.InstanceID = *req.InstanceID
		g.statics[m.InstanceID] = id
	}
	g.dirty = true
	return m, nil
}

// member finds the member of a regular heartbeat and checks its epoch: the
// current one, or the previous one with owned partitions it still holds
// (its last reply was lost).
func (g *ConsumerGroup) member(req ConsumerHeartbeat) (*ConsumerMember, error) {
	m, ok := g.members[req.MemberID]
	if !ok {
		return nil, ErrUnknownMemberID
	}
	if req.InstanceID != nil && *req.InstanceID != m.InstanceID {
		return nil, ErrFencedInstanceID
	}
	switch {
	case req.MemberEpoch == m.Epoch:
	case req.MemberEpoch == m.PrevEpoch && req.Owned != nil && subset(req.Owned, m.Assigned):
		m.send = true
	default:
		return nil, ErrFencedMemberEpoch
	}
	if m.left {
		m.left, g.changed = false, true
	}
	return m, nil
}

// update takes the member's fields from the request.
func (g *ConsumerGroup) update(m *ConsumerMember, req ConsumerHeartbeat) error {
	before := m.fields()
	defer func() {
		if m.fields() != before {
			g.changed = true
		}
	}()
	if req.Assignor != nil && *req.Assignor != "" && m.Assignor != *req.Assignor {
		m.Assignor, g.dirty = *req.Assignor, true
	}
	if req.Regex != nil && *req.Regex != m.Regex {
		m.Regex, g.dirty = *req.Regex, true
	}
	if req.Topics != nil {
		ts := slices.Sorted(slices.Values(req.Topics))
		ts = slices.Compact(ts)
		if !slices.Equal(ts, m.Topics) {
			m.Topics, g.dirty = ts, true
		}
	}
	if req.RackID != nil {
		m.RackID = *req.RackID
	}
	if req.RebalanceTimeout > 0 {
		m.RebalanceTimeout = req.RebalanceTimeout
	}
	if m.RebalanceTimeout <= 0 {
		m.RebalanceTimeout = g.cfg.SessionTimeout
	}
	m.ClientID, m.ClientHost = req.ClientID, req.ClientHost
	return nil
}

// fields sums up what update may change, to tell whether it did.
func (m *ConsumerMember) fields() [7]string {
	return [7]string{m.RackID, m.ClientID, m.ClientHost, m.RebalanceTimeout.String(), m.Assignor, m.Regex,
		strings.Join(m.Topics, "\x00")}
}

// leave handles epoch -1 (leave) and -2 (a static member leaving for a
// while: it keeps its partitions until its session expires or it rejoins).
func (g *ConsumerGroup) leave(now time.Time, req ConsumerHeartbeat) error {
	id := req.MemberID
	if req.InstanceID != nil && *req.InstanceID != "" {
		sid, ok := g.statics[*req.InstanceID]
		if !ok {
			return ErrUnknownMemberID
		}
		if id != "" && id != sid {
			return ErrFencedInstanceID
		}
		id = sid
	}
	m, ok := g.members[id]
	if !ok {
		return ErrUnknownMemberID
	}
	if req.MemberEpoch == -2 && m.InstanceID != "" {
		m.left, g.changed = true, true
		m.expiresAt = now.Add(g.cfg.SessionTimeout)
		return nil
	}
	g.removeMember(id)
	return nil
}

func (g *ConsumerGroup) removeMember(id string) {
	m, ok := g.members[id]
	if !ok {
		return
	}
	delete(g.members, id)
	delete(g.target, id)
	if m.InstanceID != "" && g.statics[m.InstanceID] == id {
		delete(g.statics, m.InstanceID)
	}
	g.dirty, g.changed = true, true
}

// maybeRetarget computes a new target assignment at a new group epoch when
// the membership, a subscription or a subscribed topic's partition count
// changed.
func (g *ConsumerGroup) maybeRetarget(topics TopicSource) {
	subs := g.resolve(topics)
	fp := g.fingerprint(subs)
	if !g.dirty && fp == g.subsKey {
		return
	}
	g.dirty, g.subsKey, g.changed = false, fp, true
	g.Epoch++
	g.Assignor = g.pickAssignor()
	prev := make(map[string]Assignment, len(g.members))
	for id, m := range g.members {
		prev[id] = m.Assigned
	}
	if g.Assignor == "range" {
		g.target = assignRange(subs)
	} else {
		g.target = assignUniform(subs, prev)
	}
	g.AssignmentEpoch = g.Epoch
}

// pickAssignor is the assignor most members ask for (ties: Assignors
// order); "uniform" by default, as Kafka's.
func (g *ConsumerGroup) pickAssignor() string {
	votes := map[string]int{}
	for _, m := range g.members {
		if m.Assignor != "" {
			votes[m.Assignor]++
		}
	}
	best := Assignors[0]
	for _, a := range Assignors {
		if votes[a] > votes[best] {
			best = a
		}
	}
	return best
}

// subscriptions maps member id to its subscribed topics' partition counts.
type subscriptions map[string]map[string]int32

func (g *ConsumerGroup) resolve(topics TopicSource) subscriptions {
	subs := make(subscriptions, len(g.members))
	var names []string
	for id, m := range g.members {
		ts := map[string]int32{}
		for _, t := range m.Topics {
			if n, ok := topics.Partitions(t); ok {
				ts[t] = n
			}
		}
		if m.Regex != "" {
			re, err := regexp.Compile("^(?:" + m.Regex + ")$")
			if err == nil {
				if names == nil {
					names = topics.Names()
				}
				for _, t := range names {
					if re.MatchString(t) {
						if n, ok := topics.Partitions(t); ok {
							ts[t] = n
						}
					}
				}
			}
		}
		subs[id] = ts
	}
	return subs
}

// fingerprint names what a target assignment depends on: each member (a
// static one by its instance id) with its topics' partition counts.
func (g *ConsumerGroup) fingerprint(subs subscriptions) string {
	keys := make(map[string]string, len(g.members))
	for id, m := range g.members {
		keys[id] = id
		if m.InstanceID != "" {
			keys[id] = "static:" + m.InstanceID
		}
	}
	ids := slices.SortedFunc(maps.Keys(keys), func(a, b string) int { return strings.Compare(keys[a], keys[b]) })
	var b strings.Builder
	for _, id := range ids {
		b.WriteString(keys[id])
		b.WriteByte(0)
		ts := subs[id]
		for _, t := range slices.Sorted(maps.Keys(ts)) {
			b.WriteString(t)
			b.WriteByte(1)
			b.WriteString(strconv.Itoa(int(ts[t])))
			b.WriteByte(2)
		}
	}
	return b.String()
}
