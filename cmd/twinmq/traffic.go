package main

import (
	"cmp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twinmq/twinmq/broker/httpapi"
	"github.com/twinmq/twinmq/broker/stats"
	"github.com/twinmq/twinmq/broker/topics"
)

// The protocols traffic is counted by, as the protocol label says them.
const (
	protoKafka = iota
	protoRocketMQ
	protoGRPC
	numProtos
)

var protoNames = [numProtos]string{"kafka", "rocketmq", "grpc"}

// topicTraffic counts messages and bytes in and out per topic and
// protocol, for twinmq_topic_* and the Kafka JMX-exporter and RocketMQ
// exporter names (docs/operations.md). The adapters add to it through
// protoMeter (a map load and two atomic adds a request); a scrape reads
// it. A deleted topic's counts go with it.
type topicTraffic struct {
	topics sync.Map // topic name -> *topicCounts
	// retries counts retries and dead letters (retryMeter); a group's
	// counts stay when its topics go, as Kafka's and RocketMQ's do.
	retries sync.Map // groupTopic -> *retryCounts
	// stats are RocketMQ's broker statistics (VIEW_BROKER_STATS_DATA):
	// the puts of every protocol are recorded here, the RocketMQ pulls
	// and send-backs by the remoting adapter; cluster keys BROKER_*.
	stats   *stats.Table
	cluster string
}

// groupTopic names the retry counts of a consumer group on a topic.
type groupTopic struct{ group, topic string }

type retryCounts struct{ retried, dead atomic.Int64 }

// retryMeter is the adapters' RetryMeter over topicTraffic.
type retryMeter struct{ t *topicTraffic }

func (m retryMeter) counts(group, topic string) *retryCounts {
	k := groupTopic{group, topic}
	if c, ok := m.t.retries.Load(k); ok {
		return c.(*retryCounts)
	}
	c, _ := m.t.retries.LoadOrStore(k, new(retryCounts))
	return c.(*retryCounts)
}

func (m retryMeter) Retried(group, topic string)      { m.counts(group, topic).retried.Add(1) }
func (m retryMeter) DeadLettered(group, topic string) { m.counts(group, topic).dead.Add(1) }

// retrySamples lists the retry counts at picks, sorted by group and
// topic, under the label names given.
func (t *topicTraffic) retrySamples(groupLabel string, at func(*retryCounts) int64) []httpapi.Sample {
	var keys []groupTopic
	t.retries.Range(func(k, _ any) bool {
		keys = append(keys, k.(groupTopic))
		return true
	})
	slices.SortFunc(keys, func(a, b groupTopic) int {
		return cmp.Or(strings.Compare(a.group, b.group), strings.Compare(a.topic, b.topic))
	})
	out := make([]httpapi.Sample, 0, len(keys))
	for _, k := range keys {
		c, _ := t.retries.Load(k)
		if v := at(c.(*retryCounts)); v > 0 {
			out = append(out, httpapi.Sample{Labels: []string{groupLabel, k.group, "topic", k.topic}, Value: float64(v)})
		}
	}
	return out
}

type topicCounts struct {
	msgsIn, bytesIn, msgsOut, bytesOut [numProtos]atomic.Int64
	// Kafka's partitions of Produce and Fetch requests, and the failed
	// ones (kafkaapi.RequestMeter).
	produceReqs, produceFailed, fetchReqs, fetchFailed atomic.Int64
}

func newTopicTraffic(reg *topics.Registry, cluster string) *topicTraffic {
	t := &topicTraffic{stats: stats.New(), cluster: cluster}
	reg.Watch(func(c topics.Config, deleted bool) {
		if deleted {
			t.topics.Delete(c.Name)
		}
	})
	return t
}

func (t *topicTraffic) counts(topic string) *topicCounts {
	if c, ok := t.topics.Load(topic); ok {
		return c.(*topicCounts)
	}
	c, _ := t.topics.LoadOrStore(topic, new(topicCounts))
	return c.(*topicCounts)
}

// protoMeter is one protocol's view of topicTraffic: the adapters'
// TopicMeter.
type protoMeter struct {
	t     *topicTraffic
	proto int
}

func (m protoMeter) In(topic string, messages, bytes int) {
	c := m.t.counts(topic)
	c.msgsIn[m.proto].Add(int64(messages))
	c.bytesIn[m.proto].Add(int64(bytes))
	now := time.Now()
	m.t.stats.Add(stats.TopicPutNums, topic, int64(messages), 1, now)
	m.t.stats.Add(stats.TopicPutSize, topic, int64(bytes), 1, now)
	m.t.stats.Add(stats.BrokerPutNums, m.t.cluster, int64(messages), 0, now)
}

// Request implements kafkaapi.RequestMeter.
func (m protoMeter) Request(topic string, fetch, failed bool) {
	c := m.t.counts(topic)
	total, bad := &c.produceReqs, &c.produceFailed
	if fetch {
		total, bad = &c.fetchReqs, &c.fetchFailed
	}
	total.Add(1)
	if failed {
		bad.Add(1)
	}
}

func (m protoMeter) Out(topic string, messages, bytes int) {
	c := m.t.counts(topic)
	c.msgsOut[m.proto].Add(int64(messages))
	c.bytesOut[m.proto].Add(int64(bytes))
}

// snapshot lists the topics with their counts, sorted by name.
func (t *topicTraffic) snapshot() (names []string, counts []*topicCounts) {
	t.topics.Range(func(k, v any) bool {
		names = append(names, k.(string))
		return true
	})
	slices.Sort(names)
	for _, n := range names {
		counts = append(counts, t.counts(n))
	}
	return names, counts
}

// register adds the traffic families to mon: twinmq's own, by protocol,
// and the sums under the names Kafka's JMX exporter and RocketMQ 5's
// exporter give the same quantities.
func (t *topicTraffic) register(mon *httpapi.Server) {
	type field func(c *topicCounts, proto int) int64
	byProto := func(name, help string, at field) {
		mon.Metric(name, help, httpapi.Counter, func() []httpapi.Sample {
			names, counts := t.snapshot()
			out := make([]httpapi.Sample, 0, len(names)*numProtos)
			for i, n := range names {
				for p := range numProtos {
					if v := at(counts[i], p); v > 0 {
						out = append(out, httpapi.Sample{Labels: []string{"topic", n, "protocol", protoNames[p]}, Value: float64(v)})
					}
				}
			}
			return out
		})
	}
	summedIf := func(name, help string, at field, zeros bool) {
		mon.Metric(name, help, httpapi.Counter, func() []httpapi.Sample {
			names, counts := t.snapshot()
			out := make([]httpapi.Sample, 0, len(names))
			for i, n := range names {
				var v int64
				for p := range numProtos {
					v += at(counts[i], p)
				}
				if v > 0 || zeros {
					out = append(out, httpapi.Sample{Labels: []string{"topic", n}, Value: float64(v)})
				}
			}
			return out
		})
	}
	summed := func(name, help string, at field) { summedIf(name, help, at, true) }
	msgsIn := func(c *topicCounts, p int) int64 { return c.msgsIn[p].Load() }
	bytesIn := func(c *topicCounts, p int) int64 { return c.bytesIn[p].Load() }
	msgsOut := func(c *topicCounts, p int) int64 { return c.msgsOut[p].Load() }
	bytesOut := func(c *topicCounts, p int) int64 { return c.bytesOut[p].Load() }
	byProto("twinmq_topic_messages_in_total", "Messages appended to a topic by producers, by protocol.", msgsIn)
	byProto("twinmq_topic_bytes_in_total", "Bytes of messages producers appended to a topic (record batches or message bodies as sent), by protocol.", bytesIn)
	byProto("twinmq_topic_messages_out_total", "Messages of a topic sent to consumers (Kafka fetches, RocketMQ pulls), by protocol.", msgsOut)
	byProto("twinmq_topic_bytes_out_total", "Bytes of a topic's messages sent to consumers, by protocol.", bytesOut)
	summed("kafka_server_brokertopicmetrics_messagesin_total", "Kafka JMX MessagesInPerSec: messages appended to a topic (both protocols).", msgsIn)
	summed("kafka_server_brokertopicmetrics_bytesin_total", "Kafka JMX BytesInPerSec: bytes producers appended to a topic (both protocols).", bytesIn)
	summed("kafka_server_brokertopicmetrics_bytesout_total", "Kafka JMX BytesOutPerSec: bytes of a topic sent to consumers (both protocols).", bytesOut)
	// Kafka's own request counts (the Kafka protocol's only; at is given
	// the Kafka slot and sums nothing else). A topic shows once it has
	// one: four series per topic that mostly stay 0 would cost every
	// scrape of a broker with many topics (the 50 ms budget).
	kafkaOnly := func(at func(*topicCounts) *atomic.Int64) field {
		return func(c *topicCounts, p int) int64 {
			if p != protoKafka {
				return 0
			}
			return at(c).Load()
		}
	}
	summedIf("kafka_server_brokertopicmetrics_totalproducerequests_total", "Kafka JMX TotalProduceRequestsPerSec: partitions of Produce requests for a topic.",
		kafkaOnly(func(c *topicCounts) *atomic.Int64 { return &c.produceReqs }), false)
	summedIf("kafka_server_brokertopicmetrics_failedproducerequests_total", "Kafka JMX FailedProduceRequestsPerSec: partitions of Produce requests for a topic answered with an error.",
		kafkaOnly(func(c *topicCounts) *atomic.Int64 { return &c.produceFailed }), false)
	summedIf("kafka_server_brokertopicmetrics_totalfetchrequests_total", "Kafka JMX TotalFetchRequestsPerSec: partitions of Fetch requests for a topic.",
		kafkaOnly(func(c *topicCounts) *atomic.Int64 { return &c.fetchReqs }), false)
	summedIf("kafka_server_brokertopicmetrics_failedfetchrequests_total", "Kafka JMX FailedFetchRequestsPerSec: partitions of Fetch requests for a topic answered with an error.",
		kafkaOnly(func(c *topicCounts) *atomic.Int64 { return &c.fetchFailed }), false)
	summed("rocketmq_messages_in_total", "RocketMQ 5 exporter: messages produced to a topic (both protocols).", msgsIn)
	summed("rocketmq_messages_out_total", "RocketMQ 5 exporter: messages consumed from a topic (both protocols).", msgsOut)
	summed("rocketmq_throughput_in_total", "RocketMQ 5 exporter: bytes produced to a topic (both protocols).", bytesIn)
	summed("rocketmq_throughput_out_total", "RocketMQ 5 exporter: bytes consumed from a topic (both protocols).", bytesOut)
	retried := func(c *retryCounts) int64 { return c.retried.Load() }
	dead := func(c *retryCounts) int64 { return c.dead.Load() }
	mon.Metric("twinmq_group_retries_total", "Messages a consumer group sent back for a retry (CONSUMER_SEND_MSG_BACK) or had delivered again (gRPC), by group and the topic they were first consumed from.",
		httpapi.Counter, func() []httpapi.Sample { return t.retrySamples("group", retried) })
	mon.Metric("twinmq_group_dlq_messages_total", "Messages moved to a consumer group's dead-letter topic (%DLQ%group), by group and the topic they were first consumed from.",
		httpapi.Counter, func() []httpapi.Sample { return t.retrySamples("group", dead) })
	mon.Metric("rocketmq_send_to_dlq_messages_total", "RocketMQ 5 exporter: messages that reached their maximum deliveries and went to the dead-letter topic.",
		httpapi.Counter, func() []httpapi.Sample { return t.retrySamples("consumer_group", dead) })
}
