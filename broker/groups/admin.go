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
func (c *Coordinator) CommitOffsets(ctx context.Context, group, memberID, instanceID string, generation int32, commits []Commit) (errs []error, err error) {
	if ce, cerr := c.consumerEntry(group, false); cerr == nil && !c.classicActive(group) {
		return c.commitConsumer(ctx, ce, group, memberID, generation, commits)
	}
	simple := generation < 0 && memberID == "" && instanceID == ""
	var verr error
	err = c.do(ctx, group, false, func(e *entry, now time.Time) Ready {
		if verr = e.g.ValidateCommit(now, memberID, instanceID, generation); verr == nil {
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

// writeOffsets stores commits; one error per commit.
func (c *Coordinator) writeOffsets(ctx context.Context, group string, commits []Commit) []error {
	errs := make([]error, len(commits))
	for i, cm := range commits {
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
// deleted too.
func (c *Coordinator) Delete(ctx context.Context, group string) error {
	consumer, err := c.forgetConsumer(group)
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
		}
		return Ready{}
	})
	switch {
	case errors.Is(err, ErrGroupNotFound):
		if !consumer && len(c.offsets.List(group, "")) == 0 {
			return ErrGroupNotFound
		}
	case err != nil:
		return err
	case derr != nil:
		return derr
	}
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
func (c *Coordinator) ForgetTopic(ctx context.Context, topic string) error {
	if _, err := c.offsets.Delete(ctx, "", topic); err != nil {
		return fmt.Errorf("groups: forget topic %s: %w", topic, err)
	}
	return nil
}

// forgetConsumer drops an empty consumer group (DeleteGroups); it reports
// whether there was one.
func (c *Coordinator) forgetConsumer(group string) (bool, error) {
	e, err := c.consumerEntry(group, false)
	if err != nil {
		return false, nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.g.Len() > 0 {
		return true, ErrNonEmptyGroup
	}
	if e.timer != nil {
		e.timer.Stop()
	}
	c.mu.Lock()
	if c.consumers[group] == e {
		delete(c.consumers, group)
	}
	c.mu.Unlock()
	return true, nil
}
