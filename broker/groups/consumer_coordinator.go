package groups

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// centry drives one consumer group: mu guards g, the timer and dead.
type centry struct {
	c  *Coordinator
	id string

	mu      sync.Mutex
	g       *ConsumerGroup
	timer   *time.Timer
	timerAt time.Time
	// dead: DeleteGroups removed the group. A call that found the entry
	// before the removal looks the group up again instead of acting on an
	// entry nobody can reach (a join there would be lost).
	dead bool
}

// consumerEntry returns a consumer group's entry, creating it if create.
func (c *Coordinator) consumerEntry(id string, create bool) (*centry, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.following {
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
func (c *Coordinator) ConsumerHeartbeat(ctx context.Context, group string, req ConsumerHeartbeat, topics TopicSource) ConsumerResult {
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
	for t, ps := range req.Owned {
		req.Owned[t] = slices.Compact(slices.Sorted(slices.Values(ps)))
	}
	for range 3 {
		e, err := c.consumerEntry(group, req.MemberEpoch == 0)
		if err != nil {
			if req.MemberEpoch < 0 {
				err = ErrUnknownMemberID
			}
			return fail(err)
		}
		e.mu.Lock()
		if e.dead {
			e.mu.Unlock()
			continue
		}
		res := e.g.Heartbeat(c.cfg.Now(), req, topics)
		if err := e.persistLocked(ctx); err != nil && res.Err == nil {
			// The new epoch or assignment is not durable: the member must
			// not act on it. It retries; its epoch is still accepted
			// (the current one, or the previous with what it owns).
			res = fail(err)
		}
		e.armLocked()
		e.mu.Unlock()
		return res
	}
	return fail(ErrCoordinatorNotAvailable)
}

// persistLocked writes the group's record if its durable state changed.
func (e *centry) persistLocked(ctx context.Context) error {
	if !e.g.TakeChanged() {
		return nil
	}
	if err := e.c.kv.Put(ctx, consumerKey(e.id), AppendConsumerRecord(nil, e.g.Record())); err != nil {
		e.c.log.Error("groups: persisting consumer group", "group", e.id, "err", err)
		// Written again with the next change.
		e.g.changed = true
		return fmt.Errorf("%w: %w", ErrCoordinatorNotAvailable, err)
	}
	return nil
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
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e.mu.Lock()
	defer e.mu.Unlock()
	e.timer = nil
	if e.dead {
		return
	}
	e.g.Tick(e.c.cfg.Now())
	_ = e.persistLocked(ctx) // logged; retried with the next change
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

// commitConsumer validates a commit to a consumer group and writes
// the offsets while holding the group's lock, so no heartbeat can move the
// member to a new epoch between the check and the write.
// It reports false if the entry died meanwhile (the caller looks again).
func (c *Coordinator) commitConsumer(ctx context.Context, e *centry, group string, m CommitMember, commits []Commit) ([]error, bool, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.dead {
		return nil, false, nil
	}
	if err := e.g.ValidateCommit(m.ID, m.Generation, m.Classic); err != nil {
		return nil, true, err
	}
	return c.writeOffsets(ctx, group, commits), true, nil
}

// ValidateFetch checks a member's OffsetFetch (v9+, KIP-848) against its
// group: a consumer group checks the member id and epoch as Kafka's
// ConsumerGroup.validateOffsetFetch; a classic group or no group accepts.
// memberID "" with a negative epoch is an admin's fetch.
func (c *Coordinator) ValidateFetch(group, memberID string, epoch int32) error {
	if memberID == "" && epoch < 0 {
		return nil
	}
	for range 3 {
		e, err := c.consumerEntry(group, false)
		if err != nil || c.classicActive(group) {
			return nil
		}
		e.mu.Lock()
		dead := e.dead
		if !dead {
			err = e.g.ValidateFetch(memberID, epoch)
		}
		e.mu.Unlock()
		if !dead {
			return err
		}
	}
	return ErrCoordinatorNotAvailable
}

// restoreConsumer rebuilds a KIP-848 group from its record at Open (or
// Promote) into consumers.
func (c *Coordinator) restoreConsumer(consumers map[string]*centry, id string, b []byte, now time.Time) {
	rec, err := DecodeConsumerRecord(b)
	if err != nil {
		c.log.Error("groups: skipping corrupt consumer group record", "group", id, "err", err)
		return
	}
	e := &centry{c: c, id: id, g: RestoreConsumerGroup(id, c.ccfg, rec, now)}
	e.mu.Lock()
	e.armLocked()
	e.mu.Unlock()
	consumers[id] = e
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
