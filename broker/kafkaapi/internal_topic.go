package kafkaapi

import (
	"crypto/sha256"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/broker/topics"
)

// consumerOffsetsTopic is Kafka's internal topic of committed offsets.
// twinmq keeps offsets in its own table (broker/groups, over an internal
// twinmq topic), not as Kafka records, but clients look for this name:
// Kafka lists it, flagged internal, once a group coordinator was asked
// for, and consumers that subscribe by regular expression skip internal
// topics (franz-go's TestConsumeRegex checks exactly that). So while the
// group keys are served, Metadata presents it as Kafka does: internal,
// read-only (Produce gets INVALID_TOPIC_EXCEPTION, as Kafka answers an
// append to an internal topic) and empty, with one partition. Its name is
// reserved: CreateTopics gets TOPIC_ALREADY_EXISTS. It is not in the
// topic registry: the admin keys see it as unknown, but the keys a
// consumer reads and commits with (Fetch, ListOffsets,
// OffsetForLeaderEpoch, OffsetCommit, OffsetFetch) find it,
// empty, and KIP-848 groups assign it when a member subscribes to it by
// name or by a regular expression that matches it, as Kafka's coordinator
// resolves regular expressions over every topic, internal ones included
// (franz-go's Test848RegexBrokerResolves checks exactly that).
const consumerOffsetsTopic = "__consumer_offsets"

// internalTopic returns the presented internal topic called name, if any.
func (h *Handler) internalTopic(name string) (topics.Config, bool) {
	if name != consumerOffsetsTopic || h.cfg.Groups == nil {
		return topics.Config{}, false
	}
	return h.consumerOffsets(), true
}

// internalTopicByID is internalTopic by topic id.
func (h *Handler) internalTopicByID(id [16]byte) (topics.Config, bool) {
	if h.cfg.Groups == nil {
		return topics.Config{}, false
	}
	c := h.consumerOffsets()
	return c, id == c.ID
}

// consumerOffsets describes __consumer_offsets. Its topic id is derived
// from the cluster id, so it is stable across restarts and unlike any
// random id the registry hands out.
func (h *Handler) consumerOffsets() topics.Config {
	sum := sha256.Sum256([]byte("twinmq/" + h.cfg.ClusterID + "/" + consumerOffsetsTopic))
	var id [16]byte
	copy(id[:], sum[:])
	return topics.Config{Name: consumerOffsetsTopic, Queues: 1, ID: id, Internal: true}
}

// appendInternalTopics adds the presented internal topics to an
// all-topics Metadata answer.
func (h *Handler) appendInternalTopics(dst []kmsg.MetadataResponseTopic) []kmsg.MetadataResponseTopic {
	if c, ok := h.internalTopic(consumerOffsetsTopic); ok {
		dst = append(dst, h.topicMetadata(c, errNone))
	}
	return dst
}

// readTopic is lookupTopic for the keys a consumer reads and commits
// with: it also finds the presented internal topic, by name or by id.
func (h *Handler) readTopic(name string, id [16]byte, byID bool) (topics.Config, int16) {
	c, code := h.lookupTopic(name, id, byID)
	if code == errNone {
		return c, code
	}
	if byID && (id != [16]byte{} || name == "") {
		if ic, ok := h.internalTopicByID(id); ok {
			return ic, errNone
		}
	} else if ic, ok := h.internalTopic(name); ok {
		return ic, errNone
	}
	return c, code
}

// groupTopic finds a topic a consumer group may be assigned by name: a
// registry topic or the presented internal topic.
//
// In a cluster of several broker groups its Queues is the topic's
// partition count across groups (KIP-848 assignment and describe).
func (h *Handler) groupTopic(name string) (topics.Config, bool) {
	c, ok := h.reg.Get(name)
	if !ok {
		c, ok = h.remoteTopic(name)
	}
	if ok {
		if v := h.view(); v != nil {
			c.Queues, c.ID = h.partitionCount(c), h.clusterTopicID(v, name)
		}
		return c, true
	}
	return h.internalTopic(name)
}

// groupTopicByID is groupTopic by topic id.
func (h *Handler) groupTopicByID(id [16]byte) (topics.Config, bool) {
	if v := h.view(); v != nil {
		if name, ok := h.topicByClusterID(v, id); ok {
			return h.groupTopic(name)
		}
	}
	if c, ok := h.reg.GetByID(id); ok {
		return c, true
	}
	return h.internalTopicByID(id)
}
