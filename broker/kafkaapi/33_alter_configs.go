package kafkaapi

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/broker/topics"
)

// alterConfigs answers key 33: the legacy, non-incremental form replaces
// a topic's whole config set (unnamed configs return to their defaults).
func (h *Handler) alterConfigs(r *request, req *kmsg.AlterConfigsRequest) {
	resp := req.ResponseKind().(*kmsg.AlterConfigsResponse)
	ctx, cancel := requestContext(0)
	defer cancel()
	for _, res := range req.Resources {
		rr := kmsg.NewAlterConfigsResponseResource()
		rr.ResourceType, rr.ResourceName = res.ResourceType, res.ResourceName
		rr.ErrorCode, rr.ErrorMessage = h.alterTopic(ctx, res.ResourceType, res.ResourceName, req.ValidateOnly,
			func(c *topics.Config) error {
				*c = resetTopicConfigs(*c)
				for _, kv := range res.Configs {
					if err := setTopicConfig(c, kv.Name, kv.Value); err != nil {
						return err
					}
				}
				return nil
			})
		resp.Resources = append(resp.Resources, rr)
	}
	r.reply(resp)
}

// alterTopic applies fn to a topic's config (or only checks it).
func (h *Handler) alterTopic(ctx context.Context, typ kmsg.ConfigResourceType, name string, validateOnly bool,
	fn func(*topics.Config) error) (int16, *string) {
	if typ != kmsg.ConfigResourceTypeTopic {
		return errInvalidRequest, strp("only topic configs can be altered")
	}
	cfg, ok := h.reg.Get(name)
	if !ok {
		return errUnknownTopicOrPartition, nil
	}
	if validateOnly {
		if err := fn(&cfg); err != nil {
			return codeOf(err), strp(err.Error())
		}
		return errNone, nil
	}
	if _, err := h.reg.Update(ctx, name, fn); err != nil {
		return codeOf(err), strp(fmt.Sprint(err))
	}
	return errNone, nil
}
