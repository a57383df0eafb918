package kafkaapi

import (
	"fmt"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/broker/topics"
)

// incrementalAlterConfigs answers key 44 (KIP-339): SET, DELETE (back to
// the default), and APPEND / SUBTRACT on list configs (cleanup.policy);
// the broker loggers (loggers.go) change too.
func (h *Handler) incrementalAlterConfigs(r *request, req *kmsg.IncrementalAlterConfigsRequest) {
	resp := req.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
	ctx, cancel := requestContext(0)
	defer cancel()
	for _, res := range req.Resources {
		rr := kmsg.NewIncrementalAlterConfigsResponseResource()
		rr.ResourceType, rr.ResourceName = res.ResourceType, res.ResourceName
		if res.ResourceType == kmsg.ConfigResourceTypeBrokerLogger {
			rr.ErrorCode, rr.ErrorMessage = h.alterBrokerLoggers(res.ResourceName, res.Configs, req.ValidateOnly)
			resp.Resources = append(resp.Resources, rr)
			continue
		}
		if res.ResourceType == kmsg.ConfigResourceTypeGroupConfig && h.share != nil {
			rr.ErrorCode, rr.ErrorMessage = h.alterGroupConfigs(ctx, res.ResourceName, res.Configs, req.ValidateOnly) // share.go
			resp.Resources = append(resp.Resources, rr)
			continue
		}
		if res.ResourceType == kmsg.ConfigResourceTypeBroker {
			rr.ErrorCode, rr.ErrorMessage = h.alterBroker(ctx, res.ResourceName, res.Configs, req.ValidateOnly) // broker_configs.go
			resp.Resources = append(resp.Resources, rr)
			continue
		}
		rr.ErrorCode, rr.ErrorMessage = h.alterTopic(ctx, res.ResourceType, res.ResourceName, req.ValidateOnly,
			func(c *topics.Config) error {
				for _, op := range res.Configs {
					if err := applyIncremental(c, op); err != nil {
						return err
					}
				}
				return nil
			})
		resp.Resources = append(resp.Resources, rr)
	}
	r.reply(resp)
}

func applyIncremental(c *topics.Config, op kmsg.IncrementalAlterConfigsRequestResourceConfig) error {
	switch op.Op {
	case kmsg.IncrementalAlterConfigOpSet:
		return setTopicConfig(c, op.Name, op.Value)
	case kmsg.IncrementalAlterConfigOpDelete:
		return setTopicConfig(c, op.Name, nil)
	case kmsg.IncrementalAlterConfigOpAppend, kmsg.IncrementalAlterConfigOpSubtract:
		if op.Name != "cleanup.policy" || op.Value == nil {
			return fmt.Errorf("%s: %v on a non-list config: %w", op.Name, op.Op, errBadConfig)
		}
		items := strings.Split(c.CleanupPolicy, ",")
		for _, v := range strings.Split(*op.Value, ",") {
			if op.Op == kmsg.IncrementalAlterConfigOpAppend && !slices.Contains(items, v) {
				items = append(items, v)
			} else if op.Op == kmsg.IncrementalAlterConfigOpSubtract {
				items = slices.DeleteFunc(items, func(x string) bool { return x == v })
			}
		}
		joined := strings.Join(items, ",")
		if joined == "" {
			joined = topics.DefaultCleanupPolicy
		}
		return setTopicConfig(c, op.Name, &joined)
	}
	return fmt.Errorf("%s: operation %d: %w", op.Name, op.Op, errBadConfig)
}
