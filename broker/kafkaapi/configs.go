package kafkaapi

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/broker/topics"
)

var errBadConfig = errors.New("kafkaapi: invalid config")

// topicConfig is one Kafka topic config backed by a topics.Config field.
type topicConfig struct {
	typ kmsg.ConfigType
	get func(*topics.Config) string
	// set parses v into c; v nil resets to the default.
	set func(c *topics.Config, v *string) error
}

// topicConfigs are the topic configs users expect to see and change.
// retention.ms defaults to the broker's log.retention.ms (the store's
// retentionHours); topics.Retention enforces it per queue and the store
// keeps CommitLog segments for the longest of them. Other names are kept
// verbatim in Config.Extra; names Kafka does not know are refused.
var topicConfigs = map[string]topicConfig{
	"retention.ms": {kmsg.ConfigTypeLong,
		func(c *topics.Config) string { return strconv.FormatInt(c.RetentionMs, 10) },
		func(c *topics.Config, v *string) error {
			// nil: follow the broker's log.retention.ms (the registry
			// fills it in when it stores the topic).
			c.RetentionMsSet = v != nil
			return setInt(&c.RetentionMs, v, 0, -1)
		}},
	"retention.bytes": {kmsg.ConfigTypeLong,
		func(c *topics.Config) string { return strconv.FormatInt(c.RetentionBytes, 10) },
		func(c *topics.Config, v *string) error {
			return setInt(&c.RetentionBytes, v, topics.DefaultRetentionBytes, -1)
		}},
	"max.message.bytes": {kmsg.ConfigTypeInt,
		func(c *topics.Config) string { return strconv.Itoa(int(c.MaxMessageBytes)) },
		func(c *topics.Config, v *string) error {
			n := int64(c.MaxMessageBytes)
			err := setInt(&n, v, topics.DefaultMaxMessageBytes, 0)
			if err == nil && n > 1<<30 {
				err = fmt.Errorf("max.message.bytes %d: %w", n, errBadConfig)
			}
			c.MaxMessageBytes = int32(n)
			return err
		}},
	"message.timestamp.type": {kmsg.ConfigTypeString,
		func(c *topics.Config) string { return c.TimestampType },
		func(c *topics.Config, v *string) error {
			return setEnum(&c.TimestampType, v, topics.DefaultTimestampType, "CreateTime", "LogAppendTime")
		}},
	"cleanup.policy": {kmsg.ConfigTypeList,
		func(c *topics.Config) string { return c.CleanupPolicy },
		func(c *topics.Config, v *string) error {
			return setEnum(&c.CleanupPolicy, v, topics.DefaultCleanupPolicy, "delete", "compact", "compact,delete", "delete,compact")
		}},
}

// topicDefaults are the configs of a topic that sets none; retention.ms
// is the broker's and is compared by RetentionMsSet instead.
var topicDefaults = topics.Config{
	RetentionBytes:  topics.DefaultRetentionBytes,
	MaxMessageBytes: topics.DefaultMaxMessageBytes, TimestampType: topics.DefaultTimestampType,
	CleanupPolicy: topics.DefaultCleanupPolicy,
}

func setInt(dst *int64, v *string, def, min int64) error {
	if v == nil {
		*dst = def
		return nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(*v), 10, 64)
	if err != nil || n < min {
		return fmt.Errorf("value %q: %w", *v, errBadConfig)
	}
	*dst = n
	return nil
}

func setEnum(dst *string, v *string, def string, allowed ...string) error {
	if v == nil {
		*dst = def
		return nil
	}
	if !slices.Contains(allowed, *v) {
		return fmt.Errorf("value %q not in %v: %w", *v, allowed, errBadConfig)
	}
	*dst = *v
	return nil
}

// setTopicConfig sets (v != nil) or resets (v == nil) one config.
func setTopicConfig(c *topics.Config, name string, v *string) error {
	if tc, ok := topicConfigs[name]; ok {
		if err := tc.set(c, v); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		return nil
	}
	if !kafkaTopicConfigNames[name] {
		// Kafka's LogConfig.validateNames: a typo is refused, not stored.
		return fmt.Errorf("unknown topic config name %s: %w", name, errBadConfig)
	}
	if v == nil {
		delete(c.Extra, name)
		return nil
	}
	if c.Extra == nil {
		c.Extra = map[string]string{}
	}
	c.Extra[name] = *v
	return nil
}

// kafkaTopicConfigNames are the topic configs a Kafka broker knows
// (TopicConfig.java, Kafka 4.1). Those twinmq does not act on
// (topicConfigs acts on the rest) are kept verbatim and reported back, as
// tools that copy a topic's configs expect; any other name is refused
// with INVALID_CONFIG, as Kafka refuses it.
var kafkaTopicConfigNames = map[string]bool{
	"cleanup.policy": true, "compression.type": true, "compression.gzip.level": true,
	"compression.lz4.level": true, "compression.zstd.level": true, "delete.retention.ms": true,
	"file.delete.delay.ms": true, "flush.messages": true, "flush.ms": true,
	"follower.replication.throttled.replicas": true, "index.interval.bytes": true,
	"leader.replication.throttled.replicas": true, "local.retention.bytes": true, "local.retention.ms": true,
	"max.compaction.lag.ms": true, "max.message.bytes": true, "message.downconversion.enable": true,
	"message.format.version": true, "message.timestamp.after.max.ms": true,
	"message.timestamp.before.max.ms": true, "message.timestamp.difference.max.ms": true,
	"message.timestamp.type": true, "min.cleanable.dirty.ratio": true, "min.compaction.lag.ms": true,
	"min.insync.replicas": true, "preallocate": true, "remote.log.copy.disable": true,
	"remote.log.delete.on.disable": true, "remote.storage.enable": true, "retention.bytes": true,
	"retention.ms": true, "segment.bytes": true, "segment.index.bytes": true, "segment.jitter.ms": true,
	"segment.ms": true, "unclean.leader.election.enable": true,
}

// resetTopicConfigs returns c with every config at its default (Kafka's
// non-incremental AlterConfigs replaces the whole set).
func resetTopicConfigs(c topics.Config) topics.Config {
	for name := range topicConfigs {
		_ = setTopicConfig(&c, name, nil)
	}
	c.Extra = nil
	return c
}

// describedConfig is one config as DescribeConfigs and CreateTopics show it.
type describedConfig struct {
	name, value string
	isDefault   bool
	typ         kmsg.ConfigType
}

// describeTopicConfigs lists c's configs sorted by name.
func describeTopicConfigs(c *topics.Config) []describedConfig {
	out := make([]describedConfig, 0, len(topicConfigs)+len(c.Extra))
	def := topicDefaults
	def.RetentionMs, def.RetentionMsSet = c.RetentionMs, false
	for name, tc := range topicConfigs {
		v := tc.get(c)
		isDefault := v == tc.get(&def)
		if name == "retention.ms" {
			isDefault = !c.RetentionMsSet
		}
		out = append(out, describedConfig{name, v, isDefault, tc.typ})
	}
	for name, v := range c.Extra {
		out = append(out, describedConfig{name, v, false, kmsg.ConfigTypeString})
	}
	slices.SortFunc(out, func(a, b describedConfig) int { return strings.Compare(a.name, b.name) })
	return out
}

// source is a config's KIP-226 source.
func (d describedConfig) source() kmsg.ConfigSource {
	if d.isDefault {
		return kmsg.ConfigSourceDefaultConfig
	}
	return kmsg.ConfigSourceDynamicTopicConfig
}
