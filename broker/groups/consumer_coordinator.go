package groups

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"
)

// centry drives one consumer group: mu guards g and the timer.
type centry struct {
	c  *Coordinator
	id string

	mu      sync.Mutex
	g       *ConsumerGroup
	timer   *time.Timer
	timerAt time.Time
}

// consumerEntry returns a consumer group's entry, creating it if create.
func (c *Coordinator) consumerEntry(id string, create bool) (*centry, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrCoordinatorNotAvailable
	}
	e, ok := c.consumers[id]
	if !ok && create {
		e = &centry{c: c, id: id, g: NewConsumerGroup(id, c.ccfg)}
		c.consumers[id] = e
	}
	if e == nil {
		return nil, ErrGroupNotFound
	}
	return e, nil
}

// classicActive says whether a classic group of that id has members.
func (c *Coordinator) classicActive(id string) bool {
	e, err := c.lookup(id, false)
	if err != nil {
		return false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.g.State != Dead && e.g.Len() > 0
}

// consumerActive says whether a consumer group of that id has members.
func (c *Coordinator) consumerActive(id string) bool {
	e, err := c.consumerEntry(id, false)
	if err != nil {
		return false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.g.Len() > 0
}

// ConsumerHeartbeat handles a ConsumerGroupHeartbeat (KIP-848). A group id
// that a classic group with members uses is not a consumer group.
func (c *Coordinator) ConsumerHeartbeat(_ context.Context, group string, req ConsumerHeartbeat, topics TopicSource) ConsumerResult {
	fail := func(err error) ConsumerResult {
		return ConsumerResult{Err: err, MemberID: req.MemberID, MemberEpoch: req.MemberEpoch}
	}
	if group == "" {
		return fail(ErrInvalidGroupID)
	}
	if req.MemberEpoch < -2 {
		return fail(ErrInvalidRequest)
	}
	if c.classicActive(group) {
		return fail(ErrNotConsumerGroup)
	}
	e, err := c.consumerEntry(group, req.MemberEpoch == 0)
	if err != nil {
		if req.MemberEpoch < 0 {
			err = ErrUnknownMemberID
		}
		return fail(err)
	}
	for t, ps := range req.Owned {
		req.Owned[t] = slices.Compact(slices.Sorted(slices.Values(ps)))
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	res := e.g.Heartbeat(c.cfg.Now(), req, topics)
	e.armLocked()
	return res
}

// armLocked makes the timer fire by the group's next deadline. A timer
// already due earlier is kept (it re-arms when it fires), so a heartbeat,
// which only pushes deadlines later, does not touch the timer.
func (e *centry) armLocked() {
	at, ok := e.g.Deadline()
	if !ok {
		return
	}
	if e.timer != nil && !e.timerAt.After(at) {
		return
	}
	if e.timer != nil {
		e.timer.Stop()
	}
	e.timerAt = at
	e.timer = time.AfterFunc(max(at.Sub(e.c.cfg.Now()), 0), e.tick)
}

func (e *centry) tick() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.timer = nil
	e.g.Tick(e.c.cfg.Now())
	e.armLocked()
}

// ConsumerMemberDescription describes one member (ConsumerGroupDescribe).
type ConsumerMemberDescription struct {
	ID, InstanceID, RackID, ClientID, ClientHost string
	Epoch                                        int32
	Topics                                       []string
	Regex                                        string
	Assigned, Target                             Assignment
}

// ConsumerDescription describes a consumer group.
type ConsumerDescription struct {
	Group           string
	State           string // empty, assigning, reconciling, stable
	Epoch           int32
	AssignmentEpoch int32
	Assignor        string
	Members         []ConsumerMemberDescription
}

// DescribeConsumer describes a consumer group; ErrGroupNotFound if there
// is none of that id.
func (c *Coordinator) DescribeConsumer(group string) (ConsumerDescription, error) {
	e, err := c.consumerEntry(group, false)
	if err != nil {
		return ConsumerDescription{}, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	g := e.g
	d := ConsumerDescription{Group: group, State: g.StateName(), Epoch: g.Epoch,
		AssignmentEpoch: g.AssignmentEpoch, Assignor: g.Assignor}
	for _, m := range g.Members() {
		d.Members = append(d.Members, ConsumerMemberDescription{
			ID: m.ID, InstanceID: m.InstanceID, RackID: m.RackID, ClientID: m.ClientID, ClientHost: m.ClientHost,
			Epoch: m.Epoch, Topics: slices.Clone(m.Topics), Regex: m.Regex,
			Assigned: cloneAssignment(m.Assigned), Target: cloneAssignment(g.target[m.ID]),
		})
	}
	return d, nil
}

// consumerListings lists the consumer groups (ListGroups).
func (c *Coordinator) consumerListings() []Listing {
	c.mu.Lock()
	es := make([]*centry, 0, len(c.consumers))
	for _, e := range c.consumers {
		es = append(es, e)
	}
	c.mu.Unlock()
	out := make([]Listing, 0, len(es))
	for _, e := range es {
		e.mu.Lock()
		st := e.g.StateName()
		e.mu.Unlock()
		out = append(out, Listing{Group: e.id, ProtocolType: "consumer", Type: "consumer",
			StateName: strings.ToUpper(st[:1]) + st[1:]})
	}
	return out
}

// commitConsumerLocked validates a commit to a consumer group and writes
// the offsets while holding the group's lock, so no heartbeat can move the
// member to a new epoch between the check and the write.
func (c *Coordinator) commitConsumer(ctx context.Context, e *centry, group, memberID string, epoch int32, commits []Commit) ([]error, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.g.ValidateCommit(memberID, epoch); err != nil {
		return nil, err
	}
	return c.writeOffsets(ctx, group, commits), nil
}

// closeConsumers stops the consumer groups' timers.
func (c *Coordinator) closeConsumers(es []*centry) {
	for _, e := range es {
		e.mu.Lock()
		if e.timer != nil {
			e.timer.Stop()
		}
		e.mu.Unlock()
	}
}
