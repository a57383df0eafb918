// Package cluster is what a broker knows of the other broker groups of
// its cluster: which groups carry a topic and with how many queues, and
// each group's master (its Kafka node and remoting address). From that it
// derives the one partition map both protocols share (DESIGN.md sections 4
// and 6): a topic's Kafka partitions are its queues numbered across groups,
// the groups sorted by name, then by queue id.
//
// A View is an immutable snapshot, a pure value: Locate and Partitions do
// no I/O. A Poller keeps the latest one, refreshed from the name servers.
package cluster

import (
	"slices"
	"strings"
)

// Node is a broker's Kafka listener as clients see it.
type Node struct {
	NodeID int32
	Host   string
	Port   int32
	// Rack is the broker's brokerRack (Kafka's broker.rack), "" if none.
	Rack string
}

// Group is one broker group of the cluster.
type Group struct {
	Name string
	// Master is the master's Kafka node; ok is false while the group has
	// no live master with a Kafka listener.
	Master   Node
	HasNode  bool
	Remoting string // the master's remoting address, "" without a master
	// Epoch is the group's master epoch (controller mode; 0 otherwise),
	// which Kafka sees as the leader epoch of the group's partitions.
	Epoch int32
	// Replicas are the node ids of the group's members as Kafka sees
	// them; ISR the in-sync ones. Both start with the master.
	Replicas, ISR []int32
	// Followers are the group's live slaves with a Kafka listener, which
	// serve follower fetches (KIP-392), by node id.
	Followers []Node
}

// Follower returns the follower of g whose node id is id.
func (g Group) Follower(id int32) (Node, bool) {
	for _, n := range g.Followers {
		if n.NodeID == id {
			return n, true
		}
	}
	return Node{}, false
}

// Placement is one group's share of a topic.
type Placement struct {
	Group  string
	Queues int32
}

// View is a snapshot of the cluster from one broker's side.
type View struct {
	// Self is this broker's group.
	Self string
	// Cluster is the cluster's name (brokerClusterName), which the Kafka
	// cluster id and topic ids of a cluster of several groups derive from:
	// every broker presents the same ones, whichever masters are up.
	Cluster string
	// Groups are every group of the cluster, sorted by name.
	Groups []Group
	// Topics maps a topic to its placements, sorted by group name.
	Topics map[string][]Placement
}

// Group returns the group named name.
func (v *View) Group(name string) (Group, bool) {
	i, ok := slices.BinarySearchFunc(v.Groups, name, func(g Group, n string) int { return strings.Compare(g.Name, n) })
	if !ok {
		return Group{}, false
	}
	return v.Groups[i], true
}

// Multi reports whether the view has groups besides Self: without them a
// topic's partitions are exactly this broker's queues.
func (v *View) Multi() bool {
	if v == nil {
		return false
	}
	for _, g := range v.Groups {
		if g.Name != v.Self {
			return true
		}
	}
	return false
}

// Partition is one Kafka partition of a topic: the group that leads it
// and its queue id there.
type Partition struct {
	Group string
	Queue int32
}

// Placements returns topic's placements with this broker's own share set
// to local queues (the local topic registry is fresher than the name
// servers for its own group; local 0 means the topic is not here).
func (v *View) Placements(topic string, local int32) []Placement {
	var out []Placement
	if v != nil {
		out = make([]Placement, 0, len(v.Topics[topic])+1)
		for _, p := range v.Topics[topic] {
			if p.Group != v.Self && p.Queues > 0 {
				out = append(out, p)
			}
		}
	}
	if local > 0 {
		self := ""
		if v != nil {
			self = v.Self
		}
		i, _ := slices.BinarySearchFunc(out, self, func(p Placement, n string) int { return strings.Compare(p.Group, n) })
		out = slices.Insert(out, i, Placement{Group: self, Queues: local})
	}
	return out
}

// Count is the number of partitions of placements.
func Count(placements []Placement) int32 {
	var n int32
	for _, p := range placements {
		n += p.Queues
	}
	return n
}

// Locate returns the group and queue of partition p, or false if p is out
// of range.
func Locate(placements []Placement, p int32) (Partition, bool) {
	if p < 0 {
		return Partition{}, false
	}
	for _, pl := range placements {
		if p < pl.Queues {
			return Partition{Group: pl.Group, Queue: p}, true
		}
		p -= pl.Queues
	}
	return Partition{}, false
}

// Base returns the first partition number of group's queues, or false if
// group does not carry the topic.
func Base(placements []Placement, group string) (int32, bool) {
	var base int32
	for _, pl := range placements {
		if pl.Group == group {
			return base, true
		}
		base += pl.Queues
	}
	return 0, false
}

// Coordinator picks the group that coordinates key (a Kafka consumer
// group or transactional id): a hash of key over every group of the view,
// sorted by name, as Kafka hashes a group id over __consumer_offsets'
// partitions. Every broker with the same view picks the same group; a
// group whose master is down stays the coordinator (clients retry until
// its new master registers) so that a failover moves no other group's
// coordinator. It returns false for a view without groups.
func (v *View) Coordinator(key string) (Group, bool) {
	if v == nil || len(v.Groups) == 0 {
		return Group{}, false
	}
	return v.Groups[hash(key)%uint32(len(v.Groups))], true
}

// hash is FNV-1a: stable across processes and versions, unlike maphash.
func hash(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}
