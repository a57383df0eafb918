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
		default:
			rr.ErrorCode, rr.ErrorMessage = errInvalidRequest, strp("unsupported resource type")
		}
		for _, d := range configs {
			if res.ConfigNames != nil && !slices.Contains(res.ConfigNames, d.name) {
				continue
			}
			rr.Configs = append(rr.Configs, describeConfig(d, res.ResourceType, req.Version))
		}
		resp.Resources = append(resp.Resources, rr)
	}
	r.reply(resp)
}

func describeConfig(d describedConfig, rt kmsg.ConfigResourceType, version int16) kmsg.DescribeConfigsResponseResourceConfig {
	c := kmsg.NewDescribeConfigsResponseResourceConfig()
	c.Name, c.Value, c.IsDefault, c.ConfigType = d.name, strp(d.value), d.isDefault, d.typ
	c.Source = d.source()
	if rt == kmsg.ConfigResourceTypeBroker {
		c.Source, c.ReadOnly = kmsg.ConfigSourceStaticBrokerConfig, true
	}
	if version == 0 {
		c.IsDefault = c.Source == kmsg.ConfigSourceDefaultConfig
	}
	return c
}

// brokerConfigs reports the broker settings clients look at.
func (h *Handler) brokerConfigs() []describedConfig {
	return []describedConfig{
		{"auto.create.topics.enable", strconv.FormatBool(!h.cfg.DisableAutoCreate), false, kmsg.ConfigTypeBoolean},
		{"broker.id", strconv.Itoa(int(h.cfg.NodeID)), false, kmsg.ConfigTypeInt},
		{"default.replication.factor", "1", true, kmsg.ConfigTypeShort},
		// What the store enforces (retentionHours) and topics without a
		// retention.ms of their own follow. log.retention.bytes is per
		// partition in Kafka, as each topic's retention.bytes (default -1);
		// the store's retentionBytes caps the whole shared CommitLog and
		// has no Kafka name.
		{"log.retention.bytes", strconv.Itoa(topics.DefaultRetentionBytes), true, kmsg.ConfigTypeLong},
		{"log.retention.hours", strconv.Itoa(h.store.RetentionHours()), h.store.RetentionHours() == storage.DefaultRetentionHours, kmsg.ConfigTypeInt},
		{"log.retention.ms", strconv.FormatInt(h.reg.DefaultRetentionMs(), 10), h.store.RetentionHours() == storage.DefaultRetentionHours, kmsg.ConfigTypeLong},
		{"message.max.bytes", strconv.Itoa(topics.DefaultMaxMessageBytes), true, kmsg.ConfigTypeInt},
		{"num.partitions", strconv.Itoa(int(h.cfg.DefaultPartitions)), false, kmsg.ConfigTypeInt},
	}
}
