package groups

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/twinmq/twinmq/broker/offsets"
)

// Commit is one partition's OffsetCommit.
type Commit struct {
	Topic       string
	Partition   int32
	Offset      int64
	LeaderEpoch int32 // -1: none
	Metadata    string
	// Forward, if set, stores the offset instead of this coordinator's
	// offset table: the partition is a queue of another broker group,
	// whose master keeps its offsets (kafkaapi's cluster.go). It runs
	// after the commit was validated, like a local write.
	Forward func(ctx context.Context, offset int64) error
}

// CommitMember says who sends an OffsetCommit.
type CommitMember struct {
	ID         string
	InstanceID string
	// Generation is the classic generation id or, for a KIP-848 member,
	// its member epoch; negative from outside group management.
	Generation int32
	// Classic: the request predates KIP-848 (Kafka's OffsetCommit < v9),
	// which a consumer group's members must not use.
	Classic bool
}

// CommitOffsets validates an OffsetCommit against the group and stores
// the offsets. A commit from outside group management (generation < 0,
// no member) is a simple consumer's and needs no group (Kafka creates an
// Empty one; ours is visible through its offsets). The first error is the
// group's answer; errs has one entry per commit.
//
// The offsets are written while the group's lock is held, after the
// check: a rebalance cannot slip in between and let a commit of a stale
// generation through. A KIP-848 group (one with members, or one without a
// classic group of the same id) checks the member epoch instead.
func (c *Coordinator) CommitOffsets(ctx context.Context, group string, m CommitMember, commits []Commit) (errs []error, err error) {
	for range 3 {
		ce, cerr := c.consumerEntry(group, false)
		if cerr != nil || c.classicActive(group) {
			break
		}
		errs, live, err := c.commitConsumer(ctx, ce, group, m, commits)
		if live {
			return errs, err
		}
	}
	simple := m.Generation < 0 && m.ID == "" && m.InstanceID == ""
	var verr error
	err = c.do(ctx, group, false, func(e *entry, now time.Time) Ready {
		if verr = e.g.ValidateCommit(now, m.ID, m.InstanceID, m.Generation); verr == nil {
			errs = c.writeOffsets(ctx, group, commits)
		}
		return Ready{}
	})
	switch {
	case errors.Is(err, ErrGroupNotFound) && !simple:
		return nil, ErrIllegalGeneration
	case errors.Is(err, ErrGroupNotFound):
		return c.writeOffsets(ctx, group, commits), nil
	case err != nil:
		return nil, err
	case verr != nil:
		return nil, verr
	}
	return errs, nil
}

// WriteOffsets stores commits without a group check: the offsets of a
// committed transaction (TxnOffsetCommit), which were checked when the
// transaction sent them and become visible only now. One error per commit.
func (c *Coordinator) WriteOffsets(ctx context.Context, group string, commits []Commit) []error {
	return c.writeOffsets(ctx, group, commits)
}

// writeOffsets stores commits; one error per commit.
func (c *Coordinator) writeOffsets(ctx context.Context, group string, commits []Commit) []error {
	errs := make([]error, len(commits))
	for i, cm := range commits {
		if cm.Forward != nil {
			errs[i] = cm.Forward(ctx, cm.Offset)
			continue
		}
		k := offsets.Key{Group: group, Topic: cm.Topic, Queue: cm.Partition}
		v := offsets.Value{Offset: cm.Offset, LeaderEpoch: cm.LeaderEpoch, Metadata: cm.Metadata}
		errs[i] = c.offsets.CommitValue(ctx, k, v)
	}
	return errs
}

// FetchOffset returns a committed offset.
func (c *Coordinator) FetchOffset(group, topic string, partition int32) (offsets.Value, bool) {
	return c.offsets.FetchValue(offsets.Key{Group: group, Topic: topic, Queue: partition})
}

// CommittedOffsets returns every committed offset of a group.
func (c *Coordinator) CommittedOffsets(group string) []offsets.Entry {
	return c.offsets.List(group, "")
}

// MemberDescription describes one member (DescribeGroups).
type MemberDescription struct {
	ID         string
	InstanceID string
	ClientID   string
	ClientHost string
	Metadata   []byte // for the selected protocol
	Assignment []byte
}

// Description describes a group (DescribeGroups).
type Description struct {
	Group        string
	State        State
	ProtocolType string
	Protocol     string
	Generation   int32
	Members      []MemberDescription
}

// Describe describes a group; an unknown group is Dead (as Kafka answers),
// a group known only by its committed offsets is Empty.
func (c *Coordinator) Describe(ctx context.Context, group string) (Description, error) {
	d := Description{Group: group, State: Dead}
	err := c.do(ctx, group, false, func(e *entry, _ time.Time) Ready {
		g := e.g
		d.State, d.ProtocolType, d.Protocol, d.Generation = g.State, g.ProtocolType, g.Protocol, g.Generation
		for _, m := range g.Members() {
			md, _ := m.metadata(g.Protocol)
			d.Members = append(d.Members, MemberDescription{
				ID: m.ID, InstanceID: m.InstanceID, ClientID: m.ClientID, ClientHost: m.ClientHost,
				Metadata: md, Assignment: m.Assignment,
			})
		}
		return Ready{}
	})
	if errors.Is(err, ErrGroupNotFound) {
		if len(c.offsets.List(group, "")) > 0 {
			d.State = Empty
		}
		return d, nil
	}
	return d, err
}

// Listing is one group of ListGroups.
type Listing struct {
	Group        string
	ProtocolType string
	State        State
	Type         string // "classic" or "consumer" (KIP-848)
	StateName    string // Kafka's name of the state
}

// List returns every group, and every group that only has committed
// offsets (simple consumers, RocketMQ consumer groups) as Empty, sorted.
// A non-empty states filter keeps only those states (KIP-518).
func (c *Coordinator) List(ctx context.Context, states []State) []Listing {
	seen := map[string]bool{}
	var out []Listing
	for _, id := range c.sortedIDs() {
		if d, err := c.Describe(ctx, id); err == nil && d.State != Dead {
			seen[id] = true
			out = append(out, Listing{Group: id, ProtocolType: d.ProtocolType, State: d.State})
		}
	}
	for _, l := range c.consumerListings() {
		if !seen[l.Group] {
			seen[l.Group] = true
			out = append(out, l)
		}
	}
	for _, id := range c.offsets.Groups() {
		if !seen[id] {
			out = append(out, Listing{Group: id, State: Empty})
		}
	}
	for i := range out {
		if out[i].Type == "" {
			out[i].Type, out[i].StateName = "classic", out[i].State.String()
		}
	}
	if len(states) == 0 {
		return sortListings(out)
	}
	kept := out[:0]
	for _, l := range out {
		if contains(stateNames(states), l.StateName) {
			kept = append(kept, l)
		}
	}
	return sortListings(kept)
}

func stateNames(ss []State) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.String()
	}
	return out
}

func sortListings(ls []Listing) []Listing {
	slices.SortFunc(ls, func(a, b Listing) int { return strings.Compare(a.Group, b.Group) })
	return ls
}

// Delete deletes a group (DeleteGroups): it must be Empty; its record and
// its committed offsets go. A group known only by its offsets can be
// deleted too. Each part is deleted under its group's lock, so a join
// racing the delete either comes first (NON_EMPTY_GROUP) or finds no
// group and starts a fresh one, never one half deleted.
func (c *Coordinator) Delete(ctx context.Context, group string) error {
	consumer, err := c.deleteConsumer(ctx, group)
	if err != nil {
		return err
	}
	var derr error
	err = c.do(ctx, group, false, func(e *entry, _ time.Time) Ready {
		if derr = e.g.Kill(); derr != nil {
			return Ready{}
		}
		if e.timer != nil {
			e.timer.Stop()
		}
		c.forget(e)
		if err := c.kv.Delete(ctx, group); err != nil {
			derr = fmt.Errorf("groups: delete %s: %w", group, err)
			return Ready{}
		}
		derr = c.deleteOffsets(ctx, group)
		return Ready{}
	})
	switch {
	case errors.Is(err, ErrGroupNotFound):
		if consumer {
			return nil
		}
		if len(c.offsets.List(group, "")) == 0 {
			return ErrGroupNotFound
		}
		return c.deleteOffsets(ctx, group)
	case err != nil:
		return err
	}
	return derr
}

func (c *Coordinator) deleteOffsets(ctx context.Context, group string) error {
	if _, err := c.offsets.Delete(ctx, group, ""); err != nil {
		return fmt.Errorf("groups: delete offsets of %s: %w", group, err)
	}
	return nil
}

// DeleteOffset removes one committed offset (OffsetDelete). The adapter
// checks the members' subscriptions first (GROUP_SUBSCRIBED_TO_TOPIC).
func (c *Coordinator) DeleteOffset(ctx context.Context, group, topic string, partition int32) error {
	return c.offsets.Remove(ctx, offsets.Key{Group: group, Topic: topic, Queue: partition})
}

// ForgetTopic drops every group's committed offsets of a deleted topic.
// On a follower it does nothing: the master's deletions replicate.
func (c *Coordinator) ForgetTopic(ctx context.Context, topic string) error {
	if c.Following() {
		return nil
	}
	if _, err := c.offsets.Delete(ctx, "", topic); err != nil {
		return fmt.Errorf("groups: forget topic %s: %w", topic, err)
	}
	return nil
}

// deleteConsumer deletes an empty consumer group (DeleteGroups): its
// record and offsets, under its lock, then marks the entry dead and drops
// it; it reports whether there was one. A heartbeat or commit that found
// the entry before waits for the lock, sees it dead and looks again.
func (c *Coordinator) deleteConsumer(ctx context.Context, group string) (bool, error) {
	for range 3 {
		e, err := c.consumerEntry(group, false)
		if err != nil {
			return false, nil
		}
		e.mu.Lock()
		if e.dead {
			e.mu.Unlock()
			continue
		}
		err = c.deleteConsumerLocked(ctx, e)
		e.mu.Unlock()
		return true, err
	}
	return false, ErrCoordinatorNotAvailable
}

func (c *Coordinator) deleteConsumerLocked(ctx context.Context, e *centry) error {
	if e.g.Len() > 0 {
		return ErrNonEmptyGroup
	}
	if err := c.kv.Delete(ctx, consumerKey(e.id)); err != nil {
		return fmt.Errorf("groups: delete %s: %w", e.id, err)
	}
	if err := c.deleteOffsets(ctx, e.id); err != nil {
		return err
	}
	e.dead = true
	if e.timer != nil {
		e.timer.Stop()
	}
	c.mu.Lock()
	if c.consumers[e.id] == e {
		delete(c.consumers, e.id)
	}
	c.mu.Unlock()
	return nil
}
