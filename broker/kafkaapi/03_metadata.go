package kafkaapi

import (
	"context"
	"errors"
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/broker/cluster"
	"github.com/twinmq/twinmq/broker/topics"
	"github.com/twinmq/twinmq/netio"
)

// metadata answers key 3: this one broker leads every partition with epoch
// 0 and is the controller (sarama, kafka-go, librdkafka and kafkajs send
// admin requests to the controller). Requested topics that do not exist
// are created when the request allows it (always before v4) and the
// broker does (kafka-go's Reader and librdkafka producers rely on it),
// answered the first time as Kafka does (requestedTopic).
func (h *Handler) metadata(r *request, req *kmsg.MetadataRequest) {
	resp := req.ResponseKind().(*kmsg.MetadataResponse)
	v := h.view()
	resp.Brokers = h.metadataBrokers(r.conn, v)
	resp.ClusterID = strp(h.clusterID(v))
	resp.ControllerID = h.cfg.NodeID
	// v0 has no null topic list: an empty one means all topics.
	if req.Topics == nil || (req.Version == 0 && len(req.Topics) == 0) {
		for _, c := range h.reg.List() {
			resp.Topics = append(resp.Topics, h.topicMetadata(c, errNone))
		}
		if v != nil { // topics only other groups carry
			for _, name := range slices.Sorted(maps.Keys(v.Topics)) {
				if _, local := h.reg.Get(name); !local {
					resp.Topics = append(resp.Topics, h.topicMetadata(topics.Config{Name: name}, errNone))
				}
			}
		}
		resp.Topics = h.appendInternalTopics(resp.Topics)
		r.reply(resp)
		return
	}
	autoCreate := !h.cfg.DisableAutoCreate && (req.Version < 4 || req.AllowAutoTopicCreation)
	for _, t := range req.Topics {
		resp.Topics = append(resp.Topics, h.requestedTopic(t, autoCreate))
	}
	r.reply(resp)
}

// metadataBrokers lists this broker (at the address of the listener c
// came through), every other group's master with a Kafka listener in a
// cluster of several broker groups, and every group's followers (slaves
// with a Kafka listener, KIP-392), with their racks.
func (h *Handler) metadataBrokers(c *netio.Conn, v *cluster.View) []kmsg.MetadataResponseBroker {
	host, port := h.advertisedFor(c)
	b := kmsg.NewMetadataResponseBroker()
	b.NodeID, b.Host, b.Port = h.cfg.NodeID, host, port
	if h.cfg.Rack != "" {
		b.Rack = strp(h.cfg.Rack)
	}
	out := []kmsg.MetadataResponseBroker{b}
	add := func(n cluster.Node) {
		if slices.ContainsFunc(out, func(b kmsg.MetadataResponseBroker) bool { return b.NodeID == n.NodeID }) {
			return
		}
		b := kmsg.NewMetadataResponseBroker()
		b.NodeID, b.Host, b.Port = n.NodeID, n.Host, n.Port
		if n.Rack != "" {
			b.Rack = strp(n.Rack)
		}
		out = append(out, b)
	}
	if v == nil && h.cfg.Cluster != nil {
		v = h.cfg.Cluster() // one group: only its followers are listed
		if v == nil {
			return out
		}
		if g, ok := v.Group(v.Self); ok {
			for _, f := range g.Followers {
				add(f)
			}
		}
		return out
	}
	if v == nil {
		return out
	}
	for _, g := range v.Groups {
		if g.Name != v.Self && g.HasNode {
			add(g.Master)
		}
		for _, f := range g.Followers {
			add(f)
		}
	}
	return out
}

// requestedTopic describes one requested topic, creating it if allowed.
func (h *Handler) requestedTopic(t kmsg.MetadataRequestTopic, autoCreate bool) kmsg.MetadataResponseTopic {
	if t.Topic == nil {
		if c, ok := h.internalTopicByID(t.TopicID); ok {
			return h.topicMetadata(c, errNone)
		}
		c, code := h.lookupTopic("", t.TopicID, true)
		if code != errNone {
			mt := kmsg.NewMetadataResponseTopic()
			mt.ErrorCode, mt.TopicID = code, t.TopicID
			return mt
		}
		return h.topicMetadata(c, errNone)
	}
	name := *t.Topic
	if c, ok := h.reg.Get(name); ok {
		return h.topicMetadata(c, errNone)
	}
	if c, ok := h.remoteTopic(name); ok {
		return h.topicMetadata(c, errNone)
	}
	if c, ok := h.internalTopic(name); ok {
		return h.topicMetadata(c, errNone)
	}
	mt := kmsg.NewMetadataResponseTopic()
	mt.Topic = strp(name)
	if err := validKafkaName(name); err != nil {
		mt.ErrorCode = errInvalidTopic
		return mt
	}
	if !autoCreate {
		mt.ErrorCode = errUnknownTopicOrPartition
		return mt
	}
	ctx, cancel := context.WithTimeout(context.Background(), defaultAdminTimeout)
	defer cancel()
	_, err := h.createEverywhere(ctx, topics.Config{Name: name, Queues: h.cfg.DefaultPartitions})
	if err != nil && !errors.Is(err, topics.ErrTopicExists) { // exists: created meanwhile by another request
		h.log.Warn("kafkaapi: auto-create", "topic", name, "err", err)
		mt.ErrorCode = codeOf(err)
		return mt
	}
	// Kafka answers the request that auto-creates a topic with
	// LEADER_NOT_AVAILABLE and no partitions (ZooKeeper mode's
	// createTopicsInZk; KRaft's controller round trip answers
	// UNKNOWN_TOPIC_OR_PARTITION), and clients ask again: kafka-go's Conn
	// tests read "no partitions" after DeleteTopics. The topic exists by
	// now, so the next Metadata shows it.
	mt.ErrorCode = errLeaderNotAvailable
	return mt
}

// topicMetadata describes an existing topic. In a cluster of several
// broker groups its partitions are every group's queues (cluster.go), led
// by each group's master; a group without a live master answers
// LEADER_NOT_AVAILABLE for its partitions until the next one registers.
func (h *Handler) topicMetadata(c topics.Config, code int16) kmsg.MetadataResponseTopic {
	mt := kmsg.NewMetadataResponseTopic()
	mt.ErrorCode, mt.Topic, mt.TopicID, mt.IsInternal = code, strp(c.Name), c.ID, c.Internal
	v := h.view()
	replicas, isr := h.replicas()
	if v == nil || c.Internal {
		mt.Partitions = make([]kmsg.MetadataResponseTopicPartition, c.Queues)
		for i := range mt.Partitions {
			mt.Partitions[i] = h.partitionMetadata(int32(i), h.cfg.NodeID, h.leaderEpoch(), errNone, replicas, isr)
		}
		return mt
	}
	mt.TopicID = h.clusterTopicID(v, c.Name)
	var next int32
	for _, pl := range v.Placements(c.Name, c.Queues) {
		leader, epoch, pcode, reps, in := h.cfg.NodeID, h.leaderEpoch(), errNone, replicas, isr
		if pl.Group != v.Self {
			if g, ok := v.Group(pl.Group); ok && g.HasNode {
				leader, epoch, reps, in = g.Master.NodeID, g.Epoch, g.Replicas, g.ISR
			} else {
				leader, pcode, reps, in = -1, errLeaderNotAvailable, nil, nil
			}
		}
		for range pl.Queues {
			mt.Partitions = append(mt.Partitions, h.partitionMetadata(next, leader, epoch, pcode, reps, in))
			next++
		}
	}
	if mt.Partitions == nil {
		mt.Partitions = []kmsg.MetadataResponseTopicPartition{}
	}
	return mt
}

// partitionMetadata is partition i led by node leader (-1: none) in
// epoch, with its group's replicas and in-sync replicas (nil: the leader
// alone).
func (h *Handler) partitionMetadata(i, leader, epoch int32, code int16, replicas, isr []int32) kmsg.MetadataResponseTopicPartition {
	p := kmsg.NewMetadataResponseTopicPartition()
	p.ErrorCode, p.Partition, p.Leader, p.LeaderEpoch = code, i, leader, epoch
	p.Replicas, p.ISR, p.OfflineReplicas = replicas, isr, []int32{}
	if len(replicas) == 0 || len(isr) == 0 {
		p.Replicas, p.ISR = []int32{leader}, []int32{leader}
	}
	if leader < 0 {
		p.Replicas, p.ISR = []int32{}, []int32{}
	}
	return p
}

// replicas are this group's members and in-sync ones, this broker
// first (Config.Replicas), or nil.
func (h *Handler) replicas() (replicas, isr []int32) {
	if h.cfg.Replicas == nil {
		return nil, nil
	}
	return h.cfg.Replicas()
}
