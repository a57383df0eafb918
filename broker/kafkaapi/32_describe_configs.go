package kafkaapi

import (
	"slices"
	"strconv"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/broker/topics"
	"github.com/twinmq/twinmq/storage"
)

// describeConfigs answers key 32 for topics and this broker.
func (h *Handler) describeConfigs(r *request, req *kmsg.DescribeConfigsRequest) {
	resp := req.ResponseKind().(*kmsg.DescribeConfigsResponse)
	for _, res := range req.Resources {
		rr := kmsg.NewDescribeConfigsResponseResource()
		rr.ResourceType, rr.ResourceName = res.ResourceType, res.ResourceName
		var configs []describedConfig
		switch res.ResourceType {
		case kmsg.ConfigResourceTypeTopic:
			cfg, ok := h.reg.Get(res.ResourceName)
			if !ok {
				rr.ErrorCode = errUnknownTopicOrPartition
				break
			}
			configs = describeTopicConfigs(&cfg)
		case kmsg.ConfigResourceTypeBroker:
			configs = h.brokerConfigs()
		case kmsg.ConfigResourceTypeBrokerLogger:
			if rr.ErrorCode, rr.ErrorMessage = h.checkLoggerName(res.ResourceName); rr.ErrorCode == errNone {
				configs = h.brokerLoggers()
			}
		case kmsg.ConfigResourceTypeGroupConfig:
			if h.share == nil {
				rr.ErrorCode, rr.ErrorMessage = errInvalidRequest, strp("unsupported resource type")
				break
			}
			configs = h.describeGroupConfigs(res.ResourceName) // share.go
		default:
			rr.ErrorCode, rr.ErrorMessage = errInvalidRequest, strp("unsupported resource type")
		}
		for _, d := range configs {
			if res.ConfigNames != nil && !slices.Contains(res.ConfigNames, d.name) {
				continue
			}
			c := describeConfig(d, res.ResourceType, req.Version)
			if res.ResourceType == kmsg.ConfigResourceTypeBrokerLogger {
				c.ReadOnly = h.cfg.LogLevel == nil
			}
			rr.Configs = append(rr.Configs, c)
		}
		resp.Resources = append(resp.Resources, rr)
	}
	r.reply(resp)
}

func describeConfig(d describedConfig, rt kmsg.ConfigResourceType, version int16) kmsg.DescribeConfigsResponseResourceConfig {
	c := kmsg.NewDescribeConfigsResponseResourceConfig()
	c.Name, c.Value, c.IsDefault, c.ConfigType = d.name, strp(d.value), d.isDefault, d.typ
	c.Source = d.source()
	switch rt {
	case kmsg.ConfigResourceTypeBroker:
		// No broker config changes while the broker runs: each is
		// read-only, Kafka's default or set at startup (flags, file,
		// environment).
		c.Source, c.ReadOnly = kmsg.ConfigSourceStaticBrokerConfig, true
		if d.isDefault {
			c.Source = kmsg.ConfigSourceDefaultConfig
		}
	case kmsg.ConfigResourceTypeBrokerLogger:
		c.Source = d.loggerSource() // ReadOnly: see describeConfigs
	case kmsg.ConfigResourceTypeGroupConfig:
		c.Source = kmsg.ConfigSourceGroupConfig
		if d.isDefault {
			c.Source = kmsg.ConfigSourceDefaultConfig
		}
	}
	if version == 0 {
		c.IsDefault = c.Source == kmsg.ConfigSourceDefaultConfig
	}
	return c
}

// brokerConfigs reports the broker settings consoles and tools read
// (kafka-ui, AKHQ, Redpanda Console show them on their broker page),
// sorted by name. isDefault marks Kafka's default value, which is then
// reported as DEFAULT_CONFIG; any other is STATIC_BROKER_CONFIG.
func (h *Handler) brokerConfigs() []describedConfig {
	listener := h.advertisedListeners()
	rf := strconv.Itoa(int(h.replicationFactor()))
	minISR := max(h.cfg.MinInSyncReplicas, 1)
	defaultRetention := h.store.RetentionHours() == storage.DefaultRetentionHours
	return []describedConfig{
		{"advertised.listeners", listener, false, kmsg.ConfigTypeString},
		{"auto.create.topics.enable", strconv.FormatBool(!h.cfg.DisableAutoCreate), !h.cfg.DisableAutoCreate, kmsg.ConfigTypeBoolean},
		{"broker.id", strconv.Itoa(int(h.cfg.NodeID)), false, kmsg.ConfigTypeInt},
		{"compression.type", "producer", true, kmsg.ConfigTypeString},
		// Every partition has the broker group's members as replicas
		// (docs/design.md section 6), whatever a topic asks.
		{"default.replication.factor", rf, rf == "1", kmsg.ConfigTypeInt},
		{"delete.topic.enable", "true", true, kmsg.ConfigTypeBoolean},
		{"log.cleanup.policy", topics.DefaultCleanupPolicy, true, kmsg.ConfigTypeList},
		// One data directory holds the CommitLog of every partition.
		{"log.dirs", h.store.Dir(), false, kmsg.ConfigTypeString},
		// ASYNC_FLUSH's period (flushIntervalMs), which can change at run
		// time (IncrementalAlterConfigs; broker_configs.go).
		{"log.flush.interval.ms", strconv.FormatInt(h.store.FlushInterval().Milliseconds(), 10), false, kmsg.ConfigTypeLong},
		{"log.message.timestamp.type", topics.DefaultTimestampType, true, kmsg.ConfigTypeString},
		// What the store enforces (retentionHours) and topics without a
		// retention.ms of their own follow. log.retention.bytes is per
		// partition in Kafka, as each topic's retention.bytes (default -1);
		// the store's retentionBytes caps the whole shared CommitLog and
		// has no Kafka name.
		{"log.retention.bytes", strconv.Itoa(topics.DefaultRetentionBytes), true, kmsg.ConfigTypeLong},
		// topics.Retention looks every 30 s (Kafka: 5 minutes).
		{"log.retention.check.interval.ms", strconv.FormatInt(topics.DefaultRetentionCheck.Milliseconds(), 10), false, kmsg.ConfigTypeLong},
		{"log.retention.hours", strconv.Itoa(h.store.RetentionHours()), defaultRetention, kmsg.ConfigTypeInt},
		{"log.retention.ms", strconv.FormatInt(h.reg.DefaultRetentionMs(), 10), defaultRetention, kmsg.ConfigTypeLong},
		{"message.max.bytes", strconv.Itoa(topics.DefaultMaxMessageBytes), true, kmsg.ConfigTypeInt},
		{"min.insync.replicas", strconv.Itoa(minISR), minISR == 1, kmsg.ConfigTypeInt},
		{"num.partitions", strconv.Itoa(int(h.cfg.DefaultPartitions)), h.cfg.DefaultPartitions == 1, kmsg.ConfigTypeInt},
		{"socket.request.max.bytes", strconv.Itoa(MaxRequestSize), true, kmsg.ConfigTypeInt},
		{"unclean.leader.election.enable", "false", true, kmsg.ConfigTypeBoolean},
	}
}
