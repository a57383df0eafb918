package kafkaapi

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/broker/cluster"
	"github.com/twinmq/twinmq/broker/topics"
)

// Peers reaches the masters of other broker groups (remotingapi.Peers).
type Peers interface {
	CreateTopic(ctx context.Context, addr, topic string, queues, perm int32) error
	DeleteTopic(ctx context.Context, addr, topic string) error
	CommitOffset(ctx context.Context, addr, group, topic string, queue int32, offset int64) error
	FetchOffset(ctx context.Context, addr, group, topic string, queue int32) (offset int64, ok bool, err error)
}

// view returns the cluster view when it has other broker groups, else
// nil: one group, whose queues are the partitions.
func (h *Handler) view() *cluster.View {
	if h.cfg.Cluster == nil {
		return nil
	}
	if v := h.cfg.Cluster(); v.Multi() {
		return v
	}
	return nil
}

// placements are topic's shares by group, this broker's own share being
// local queues (0: the topic is not here).
func (h *Handler) placements(v *cluster.View, topic string, local int32) []cluster.Placement {
	if v == nil {
		if local <= 0 {
			return nil
		}
		return []cluster.Placement{{Queues: local}}
	}
	return v.Placements(topic, local)
}

// partitionCount is the number of Kafka partitions of c.
func (h *Handler) partitionCount(c topics.Config) int32 {
	if c.Internal {
		return c.Queues
	}
	return cluster.Count(h.placements(h.view(), c.Name, c.Queues))
}

// localQueue maps partition p of c to this broker's queue: another
// group's partition answers NOT_LEADER_OR_FOLLOWER (the client refreshes
// its metadata and goes to that group's master), one out of range
// UNKNOWN_TOPIC_OR_PARTITION.
func (h *Handler) localQueue(c topics.Config, p int32) (int32, int16) {
	v := h.view()
	if v == nil || c.Internal {
		if p < 0 || p >= c.Queues {
			return 0, errUnknownTopicOrPartition
		}
		return p, errNone
	}
	loc, ok := cluster.Locate(v.Placements(c.Name, c.Queues), p)
	switch {
	case !ok:
		return 0, errUnknownTopicOrPartition
	case loc.Group != v.Self:
		return 0, errNotLeaderOrFollower
	}
	return loc.Queue, errNone
}

// remotePartition locates partition p of topic on another group: its
// master's remoting address and the queue there. ok is false for this
// broker's own partitions or without other groups.
func (h *Handler) remotePartition(topic string, local, p int32) (addr string, queue int32, code int16, ok bool) {
	v := h.view()
	if v == nil {
		return "", 0, errNone, false
	}
	loc, found := cluster.Locate(v.Placements(topic, local), p)
	if !found {
		return "", 0, errUnknownTopicOrPartition, true
	}
	if loc.Group == v.Self {
		return "", 0, errNone, false
	}
	g, _ := v.Group(loc.Group)
	if g.Remoting == "" || h.cfg.Peers == nil {
		return "", 0, errCoordinatorNotAvailable, true
	}
	return g.Remoting, loc.Queue, errNone, true
}

// remoteTopic returns topic as the other groups carry it, when this
// broker does not: its partitions are all another group's.
func (h *Handler) remoteTopic(name string) (topics.Config, bool) {
	v := h.view()
	if v == nil {
		return topics.Config{}, false
	}
	if ps := v.Placements(name, 0); len(ps) > 0 {
		return topics.Config{Name: name}, true
	}
	return topics.Config{}, false
}

// clusterID is the Kafka cluster id: this broker's own, or in a cluster
// of several broker groups one derived from the cluster's name, which
// every broker of it presents.
func (h *Handler) clusterID(v *cluster.View) string {
	if v == nil {
		return h.cfg.ClusterID
	}
	sum := sha256.Sum256([]byte("twinmq/cluster/" + v.Cluster))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

// clusterTopicID is a topic's id across broker groups, where each group's
// registry holds an id of its own: derived from the cluster id and the
// name, so every broker presents and accepts the same one.
func (h *Handler) clusterTopicID(v *cluster.View, name string) [16]byte {
	sum := sha256.Sum256([]byte("twinmq/" + h.clusterID(v) + "/topic/" + name))
	var id [16]byte
	copy(id[:], sum[:])
	return id
}

// topicIDs maps the cluster topic ids of one view back to names.
type topicIDs struct {
	view  *cluster.View
	local int // registry topics when built
	ids   map[[16]byte]string
}

// topicByClusterID finds the topic whose cluster id is id.
func (h *Handler) topicByClusterID(v *cluster.View, id [16]byte) (string, bool) {
	cur := h.clusterIDs.Load()
	local := h.reg.List()
	if cur == nil || cur.view != v || cur.local != len(local) {
		next := &topicIDs{view: v, local: len(local), ids: make(map[[16]byte]string, len(v.Topics)+len(local))}
		for name := range v.Topics {
			next.ids[h.clusterTopicID(v, name)] = name
		}
		for _, c := range local {
			next.ids[h.clusterTopicID(v, c.Name)] = c.Name
		}
		h.clusterIDs.Store(next)
		cur = next
	}
	name, ok := cur.ids[id]
	return name, ok
}

// createEverywhere creates cfg: here, and in a cluster of several broker
// groups on every group with a master, its partitions spread over them in
// group order (the first groups get one more when they do not divide
// evenly), so a Kafka client gets the partition count it asked for. It
// then waits (bounded by ctx) until the cluster view shows every share,
// so the next Metadata numbers the partitions as they will stay.
func (h *Handler) createEverywhere(ctx context.Context, cfg topics.Config) (topics.Config, error) {
	v := h.view()
	if v == nil {
		created, err := h.reg.Create(ctx, cfg)
		if err == nil {
			h.awaitRegistered(ctx)
		}
		return created, err
	}
	if _, ok := h.remoteTopic(cfg.Name); ok {
		return topics.Config{}, fmt.Errorf("%w: %s (on another broker group)", topics.ErrTopicExists, cfg.Name)
	}
	var groups []cluster.Group
	for _, g := range v.Groups {
		if g.Name == v.Self || g.Remoting != "" {
			groups = append(groups, g)
		}
	}
	total := cfg.Queues
	n := int32(len(groups))
	var local topics.Config
	var errs []error
	for i, g := range groups {
		share := total / n
		if int32(i) < total%n {
			share++
		}
		if share == 0 {
			continue
		}
		if g.Name == v.Self {
			c := cfg
			c.Queues = share
			created, err := h.reg.Create(ctx, c)
			if err != nil {
				return topics.Config{}, err
			}
			local = created
			continue
		}
		perm := cfg.Perm
		if perm == 0 {
			perm = topics.DefaultPerm
		}
		if err := h.cfg.Peers.CreateTopic(ctx, g.Remoting, cfg.Name, share, perm); err != nil {
			errs = append(errs, fmt.Errorf("broker group %s: %w", g.Name, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		h.log.Warn("kafkaapi: topic created on some broker groups only", "topic", cfg.Name, "err", err)
		return local, err
	}
	h.awaitRegistered(ctx)
	h.awaitView(ctx, cfg.Name, func(ps []cluster.Placement) bool { return cluster.Count(ps) == total })
	return local, nil
}

// awaitView refreshes the cluster view until done holds for topic's
// placements or ctx ends (the other groups register a topic change at
// once; a second is plenty).
func (h *Handler) awaitView(ctx context.Context, topic string, done func([]cluster.Placement) bool) {
	if h.cfg.ClusterRefresh == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	for {
		if err := h.cfg.ClusterRefresh(ctx); err == nil {
			c, _ := h.reg.Get(topic)
			if v := h.view(); v == nil || done(v.Placements(topic, c.Queues)) {
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// deleteRemote deletes topic on every other group carrying it.
func (h *Handler) deleteRemote(ctx context.Context, topic string) error {
	v := h.view()
	if v == nil {
		return nil
	}
	var errs []error
	for _, pl := range v.Topics[topic] {
		if pl.Group == v.Self {
			continue
		}
		g, ok := v.Group(pl.Group)
		if !ok || g.Remoting == "" {
			errs = append(errs, fmt.Errorf("broker group %s: no master", pl.Group))
			continue
		}
		if err := h.cfg.Peers.DeleteTopic(ctx, g.Remoting, topic); err != nil {
			errs = append(errs, fmt.Errorf("broker group %s: %w", pl.Group, err))
		}
	}
	h.awaitView(ctx, topic, func(ps []cluster.Placement) bool {
		for _, p := range ps {
			if p.Group != v.Self {
				return false
			}
		}
		return true
	})
	return errors.Join(errs...)
}

// commitQueue maps partition p of c for an offset commit or fetch: this
// broker's queue, or NOT_LEADER_OR_FOLLOWER for another group's partition,
// whose offsets its master keeps (forwardCommit, fetchRemoteOffset), so
// that a RocketMQ consumer of that queue sees the same offset.
func (h *Handler) commitQueue(c topics.Config, p int32) (int32, int16) {
	return h.localQueue(c, p)
}

// forwardCommit stores group's offset of another group's partition p on
// that group's master (UPDATE_CONSUMER_OFFSET). Kafka's commit metadata
// and leader epoch are not kept there: RocketMQ's offset table has none.
func (h *Handler) forwardCommit(group string, c topics.Config, p int32) func(context.Context, int64) error {
	return func(ctx context.Context, offset int64) error {
		addr, queue, code, ok := h.remotePartition(c.Name, c.Queues, p)
		switch {
		case !ok:
			return fmt.Errorf("kafkaapi: partition %d of %s moved to this broker", p, c.Name)
		case code != errNone:
			return errRemote{code}
		}
		if err := h.cfg.Peers.CommitOffset(ctx, addr, group, c.Name, queue, offset); err != nil {
			h.log.Warn("kafkaapi: cannot forward an offset commit", "group", group, "topic", c.Name, "partition", p, "to", addr, "err", err)
			return errRemote{errCoordinatorNotAvailable}
		}
		return nil
	}
}

// errRemote carries the Kafka error code of a forwarded request.
type errRemote struct{ code int16 }

func (e errRemote) Error() string {
	return fmt.Sprintf("kafkaapi: forwarded request failed with error %d", e.code)
}

// partitionOfQueue is the partition number of this broker's queue of
// topic.
func (h *Handler) partitionOfQueue(topic string, queue int32) int32 {
	v := h.view()
	if v == nil {
		return queue
	}
	c, _ := h.reg.Get(topic)
	base, _ := cluster.Base(v.Placements(topic, c.Queues), v.Self)
	return base + queue
}

// fetchOffset fills group's committed offset of partition p of topic
// into rp: from this coordinator's table for its own queues, from the
// owning group's master for another group's.
func (h *Handler) fetchOffset(group, topic string, p int32, rp *kmsg.OffsetFetchResponseGroupTopicPartition) {
	c, ok := h.reg.Get(topic)
	if !ok {
		if c, ok = h.internalTopic(topic); !ok {
			c, _ = h.remoteTopic(topic)
		}
	}
	q, code := h.localQueue(c, p)
	switch code {
	case errNone:
		if v, ok := h.cfg.Groups.FetchOffset(group, topic, q); ok {
			rp.Offset, rp.LeaderEpoch, rp.Metadata = v.Offset, v.LeaderEpoch, strp(v.Metadata)
		}
		return
	case errNotLeaderOrFollower:
	default:
		return // no such partition: no offset, as Kafka answers
	}
	addr, queue, code, ok := h.remotePartition(topic, c.Queues, p)
	if !ok || code != errNone {
		rp.ErrorCode = code
		return
	}
	ctx, cancel := groupContext()
	defer cancel()
	off, found, err := h.cfg.Peers.FetchOffset(ctx, addr, group, topic, queue)
	switch {
	case err != nil:
		h.log.Warn("kafkaapi: cannot read an offset from another broker group", "group", group, "topic", topic, "partition", p, "from", addr, "err", err)
		rp.ErrorCode = errCoordinatorNotAvailable
	case found:
		rp.Offset = off
	}
}

// coordinatorOf returns the broker that coordinates key in a cluster of
// several broker groups: self is true for this one; otherwise node is the
// coordinator's master, or code COORDINATOR_NOT_AVAILABLE while its group
// has none.
func (h *Handler) coordinatorOf(key string) (node cluster.Node, self bool, code int16) {
	v := h.view()
	if v == nil {
		return cluster.Node{}, true, errNone
	}
	g, ok := v.Coordinator(key)
	switch {
	case !ok || g.Name == v.Self:
		return cluster.Node{}, true, errNone
	case !g.HasNode:
		return cluster.Node{}, false, errCoordinatorNotAvailable
	}
	return g.Master, false, errNone
}

// notCoordinator is NOT_COORDINATOR when another broker coordinates group
// (a client with an old FindCoordinator answer asks it again), else
// errNone.
func (h *Handler) notCoordinator(group string) int16 {
	if _, self, _ := h.coordinatorOf(group); !self {
		return errNotCoordinator
	}
	return errNone
}

// withRemotePartitions adds to parts, a topic's partitions on this broker,
// every other group's partition of topic.
func (h *Handler) withRemotePartitions(topic string, parts []int32) []int32 {
	v := h.view()
	if v == nil {
		return parts
	}
	c, _ := h.reg.Get(topic)
	var next int32
	for _, pl := range v.Placements(topic, c.Queues) {
		if pl.Group != v.Self {
			for q := range pl.Queues {
				parts = append(parts, next+q)
			}
		}
		next += pl.Queues
	}
	return parts
}

// awaitRegistered waits, at most 2 s, until this broker has registered
// its topics with the name servers again (Config.TopicsRegistered).
func (h *Handler) awaitRegistered(ctx context.Context) {
	if h.cfg.TopicsRegistered == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	h.cfg.TopicsRegistered(ctx)
}
