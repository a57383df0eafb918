package kafkaapi

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/broker/topics"
)

// createTopics answers key 19, ValidateOnly included. One broker holds
// every partition, so only replication factor 1 (or -1, the default) can
// be honoured; more is INVALID_REPLICATION_FACTOR, as Kafka answers when
// there are fewer brokers than replicas.
func (h *Handler) createTopics(r *request, req *kmsg.CreateTopicsRequest) {
	resp := req.ResponseKind().(*kmsg.CreateTopicsResponse)
	ctx, cancel := requestContext(req.TimeoutMillis)
	defer cancel()
	count := map[string]int{}
	for _, t := range req.Topics {
		count[t.Topic]++
	}
	for _, t := range req.Topics {
		rt := kmsg.NewCreateTopicsResponseTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = t.Topic, -1, -1
		if count[t.Topic] > 1 {
			rt.ErrorCode, rt.ErrorMessage = errInvalidRequest, strp("topic named more than once")
		} else {
			h.createTopic(ctx, t, req.ValidateOnly, &rt)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	r.reply(resp)
}

func (h *Handler) createTopic(ctx context.Context, t kmsg.CreateTopicsRequestTopic, validateOnly bool, rt *kmsg.CreateTopicsResponseTopic) {
	cfg, code, msg := h.topicToCreate(t)
	if _, ok := h.internalTopic(t.Topic); ok {
		code, msg = errTopicAlreadyExists, "topic "+t.Topic+" already exists"
	}
	if code == errNone {
		_, ok := h.reg.Get(t.Topic)
		if _, remote := h.remoteTopic(t.Topic); ok || remote {
			code, msg = errTopicAlreadyExists, "topic "+t.Topic+" already exists"
		}
	}
	if code == errNone && !validateOnly {
		total := cfg.Queues
		created, err := h.createEverywhere(ctx, cfg)
		if err != nil {
			code, msg = codeOf(err), err.Error()
		}
		cfg = created
		cfg.Name, cfg.Queues = t.Topic, total
	}
	if code != errNone {
		rt.ErrorCode, rt.ErrorMessage = code, strp(msg)
		return
	}
	rt.TopicID, rt.NumPartitions, rt.ReplicationFactor = cfg.ID, cfg.Queues, h.replicationFactor()
	if v := h.view(); v != nil {
		rt.TopicID = h.clusterTopicID(v, t.Topic)
	}
	for _, d := range describeTopicConfigs(&cfg) {
		c := kmsg.NewCreateTopicsResponseTopicConfig()
		c.Name, c.Value, c.Source = d.name, strp(d.value), int8(d.source())
		rt.Configs = append(rt.Configs, c)
	}
}

// topicToCreate checks a CreateTopics entry and builds its config.
func (h *Handler) topicToCreate(t kmsg.CreateTopicsRequestTopic) (topics.Config, int16, string) {
	if err := validKafkaName(t.Topic); err != nil {
		return topics.Config{}, errInvalidTopic, err.Error()
	}
	n := t.NumPartitions
	if len(t.ReplicaAssignment) > 0 {
		if n != -1 || t.ReplicationFactor != -1 {
			return topics.Config{}, errInvalidRequest, "replica assignment with partitions or replication factor"
		}
		n = int32(len(t.ReplicaAssignment))
		for _, a := range t.ReplicaAssignment {
			if len(a.Replicas) != 1 || a.Replicas[0] != h.cfg.NodeID {
				return topics.Config{}, errInvalidReplicaAssignment, "replicas must be this broker only"
			}
		}
	} else if rf, size := t.ReplicationFactor, h.replicationFactor(); rf != -1 && (rf < 1 || rf > size) {
		// Every queue lives on every member of the broker group: the
		// replication factor is the group's size (-1 asks for it; less
		// is granted as the group's size too, as a SYNC_MASTER cannot keep
		// fewer copies).
		return topics.Config{}, errInvalidReplicationFactor,
			fmt.Sprintf("replication factor %d: this broker group has %d member(s), which every partition is copied to", rf, size)
	}
	if n == -1 {
		n = h.cfg.DefaultPartitions
	}
	if n < 1 || n > topics.MaxQueues {
		return topics.Config{}, errInvalidPartitions, "number of partitions out of range"
	}
	cfg := resetTopicConfigs(topics.Config{Name: t.Topic, Queues: n})
	for _, c := range t.Configs {
		if err := setTopicConfig(&cfg, c.Name, c.Value); err != nil {
			return topics.Config{}, errInvalidConfig, err.Error()
		}
	}
	return cfg, errNone, ""
}

// replicationFactor is the size of this broker's group (1 without
// replication): how many copies every partition has.
func (h *Handler) replicationFactor() int16 {
	if h.cfg.GroupSize == nil {
		return 1
	}
	return int16(max(h.cfg.GroupSize(), 1))
}
