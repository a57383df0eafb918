// Package sharegroup is the membership of Kafka share groups (KIP-932):
// who is in a group, what each member subscribes to, and what it is
// assigned. A share group does not own partitions: every member is
// assigned every partition of the topics it subscribes to, and the
// records themselves are handed out one lock at a time by the POP engine
// (broker/pop), which a RocketMQ 5 SimpleConsumer group of the same name
// shares (docs/share-groups.md).
//
// The Coordinator is a small deterministic core: no goroutines, no I/O;
// every call takes now, and members not heard from within the session
// timeout are dropped at the next call. Membership is not kept across
// restarts (members rejoin at their next heartbeat, as after a Kafka
// coordinator move); the records' state is, in the POP table.
package sharegroup

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"
)

// Errors of the coordinator; the adapter maps them to Kafka codes.
var (
	ErrUnknownMember  = errors.New("sharegroup: unknown member")
	ErrFencedEpoch    = errors.New("sharegroup: fenced member epoch")
	ErrInvalidRequest = errors.New("sharegroup: invalid request")
	ErrGroupNotFound  = errors.New("sharegroup: group not found")
	ErrNonEmptyGroup  = errors.New("sharegroup: group has members")
	ErrGroupMaxSize   = errors.New("sharegroup: group is full")
)

// Defaults of Config (Kafka's group.share.* broker settings).
const (
	DefaultSessionTimeout    = 45 * time.Second
	DefaultHeartbeatInterval = 5 * time.Second
	DefaultMaxSize           = 200
)

// Config configures a Coordinator.
type Config struct {
	SessionTimeout    time.Duration
	HeartbeatInterval time.Duration
	MaxSize           int
}

// Partitions tells the coordinator how many partitions a topic has
// (false: no such topic, or not one members may consume).
type Partitions func(topic string) (int32, bool)

// Assignment is topic name to partitions, sorted.
type Assignment map[string][]int32

// Member is one member as Describe shows it.
type Member struct {
	ID, ClientID, ClientHost string
	Rack                     *string
	Epoch                    int32
	Topics                   []string
	Assigned                 Assignment
}

type member struct {
	Member
	last time.Time
}

type group struct {
	epoch   int32
	members map[string]*member
}

// Coordinator holds every share group's membership; mu guards groups.
type Coordinator struct {
	cfg    Config
	mu     sync.Mutex
	groups map[string]*group
}

// New returns a Coordinator; zero Config fields take the defaults.
func New(cfg Config) *Coordinator {
	if cfg.SessionTimeout <= 0 {
		cfg.SessionTimeout = DefaultSessionTimeout
	}
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if cfg.MaxSize <= 0 {
		cfg.MaxSize = DefaultMaxSize
	}
	return &Coordinator{cfg: cfg, groups: map[string]*group{}}
}

// HeartbeatInterval is what members are told to heartbeat at.
func (c *Coordinator) HeartbeatInterval() time.Duration { return c.cfg.HeartbeatInterval }

// Heartbeat is one ShareGroupHeartbeat.
type Heartbeat struct {
	Group, MemberID    string
	MemberEpoch        int32
	Rack               *string
	Topics             []string // nil: unchanged
	ClientID, ClientIP string
}

// Result is a heartbeat's answer: the member's epoch, and its assignment
// when it changed since the member last heard it (nil: unchanged).
type Result struct {
	MemberEpoch int32
	Assignment  Assignment
	// Left lists members dropped by this call (expired, or this one
	// leaving): the adapter gives back what they hold.
	Left []string
}

// Heartbeat joins (epoch 0), leaves (epoch -1) or keeps a member, as
// KIP-932's ShareGroupHeartbeat.
func (c *Coordinator) Heartbeat(hb Heartbeat, parts Partitions, now time.Time) (Result, error) {
	if hb.Group == "" || hb.MemberID == "" || len(hb.MemberID) > 255 {
		return Result{}, fmt.Errorf("%w: group %q member %q", ErrInvalidRequest, hb.Group, hb.MemberID)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	res := Result{Left: c.expireLocked(now)}
	g := c.groups[hb.Group]
	switch {
	case hb.MemberEpoch == -1:
		if g == nil || g.members[hb.MemberID] == nil {
			return res, fmt.Errorf("%w: %s", ErrUnknownMember, hb.MemberID)
		}
		delete(g.members, hb.MemberID)
		g.epoch++
		res.Left = append(res.Left, hb.MemberID)
		res.MemberEpoch = -1
		return res, nil
	case hb.MemberEpoch == 0:
		if len(hb.Topics) == 0 {
			return res, fmt.Errorf("%w: joining with no subscribed topics", ErrInvalidRequest)
		}
		if g == nil {
			g = &group{members: map[string]*member{}}
			c.groups[hb.Group] = g
		}
		m := g.members[hb.MemberID]
		if m == nil {
			if len(g.members) >= c.cfg.MaxSize {
				return res, fmt.Errorf("%w: %d members", ErrGroupMaxSize, len(g.members))
			}
			m = &member{}
			g.members[hb.MemberID] = m
			g.epoch++
		}
		m.ID, m.ClientID, m.ClientHost, m.Epoch, m.Assigned = hb.MemberID, hb.ClientID, hb.ClientIP, 0, nil
	case hb.MemberEpoch < -1:
		return res, fmt.Errorf("%w: member epoch %d", ErrInvalidRequest, hb.MemberEpoch)
	default:
		if g == nil || g.members[hb.MemberID] == nil {
			return res, fmt.Errorf("%w: %s", ErrUnknownMember, hb.MemberID)
		}
		if m := g.members[hb.MemberID]; hb.MemberEpoch > m.Epoch {
			return res, fmt.Errorf("%w: %d, member is at %d", ErrFencedEpoch, hb.MemberEpoch, m.Epoch)
		}
	}
	m := g.members[hb.MemberID]
	m.last = now
	if hb.Rack != nil {
		m.Rack = hb.Rack
	}
	if hb.Topics != nil {
		t := slices.Clone(hb.Topics)
		slices.Sort(t)
		t = slices.Compact(t)
		if !slices.Equal(t, m.Topics) {
			g.epoch++
		}
		m.Topics = t
	}
	want := assign(m.Topics, parts)
	if hb.MemberEpoch > 0 && hb.MemberEpoch < m.Epoch {
		res.Assignment = m.Assigned // the member has not seen its latest one
	}
	if m.Epoch == 0 || !equal(want, m.Assigned) {
		if m.Epoch == g.epoch && m.Epoch != 0 {
			g.epoch++ // a topic grew or appeared: a new epoch for the new assignment
		}
		m.Epoch, m.Assigned = g.epoch, want
		res.Assignment = want
	}
	res.MemberEpoch = m.Epoch
	return res, nil
}

// assign gives a member every partition of the topics it subscribes to
// that exist (KIP-932: share-group members may share every partition).
func assign(topics []string, parts Partitions) Assignment {
	out := Assignment{}
	for _, t := range topics {
		n, ok := parts(t)
		if !ok || n <= 0 {
			continue
		}
		ps := make([]int32, n)
		for i := range ps {
			ps[i] = int32(i)
		}
		out[t] = ps
	}
	return out
}

func equal(a, b Assignment) bool {
	return maps.EqualFunc(a, b, func(x, y []int32) bool { return slices.Equal(x, y) })
}

// expireLocked drops members not heard from within the session timeout.
func (c *Coordinator) expireLocked(now time.Time) []string {
	var out []string
	for _, g := range c.groups {
		for id, m := range g.members {
			if now.Sub(m.last) > c.cfg.SessionTimeout {
				delete(g.members, id)
				g.epoch++
				out = append(out, id)
			}
		}
	}
	return out
}

// IsMember reports whether memberID is in group (ShareFetch checks it).
func (c *Coordinator) IsMember(group, memberID string, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expireLocked(now)
	g := c.groups[group]
	return g != nil && g.members[memberID] != nil
}

// Described is one group as ShareGroupDescribe shows it.
type Described struct {
	Epoch   int32
	Members []Member // sorted by id
}

// Describe returns group's membership; false when it was never seen.
func (c *Coordinator) Describe(group string, now time.Time) (Described, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expireLocked(now)
	g := c.groups[group]
	if g == nil {
		return Described{}, false
	}
	d := Described{Epoch: g.epoch}
	for _, id := range slices.Sorted(maps.Keys(g.members)) {
		m := g.members[id].Member
		m.Topics = slices.Clone(m.Topics)
		d.Members = append(d.Members, m)
	}
	return d, true
}

// Groups returns the names of the groups the coordinator knows, sorted,
// with whether each has members.
func (c *Coordinator) Groups(now time.Time) map[string]bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expireLocked(now)
	out := make(map[string]bool, len(c.groups))
	for name, g := range c.groups {
		out[name] = len(g.members) > 0
	}
	return out
}

// Delete forgets an empty group: ErrNonEmptyGroup while it has members.
func (c *Coordinator) Delete(group string, now time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expireLocked(now)
	if g := c.groups[group]; g != nil && len(g.members) > 0 {
		return fmt.Errorf("%w: %s", ErrNonEmptyGroup, group)
	}
	delete(c.groups, group)
	return nil
}
