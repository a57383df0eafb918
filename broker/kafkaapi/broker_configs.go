package kafkaapi

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// BrokerConfigUpdater changes the broker settings that may change while
// the broker runs (cmd/twinmq's dynamic settings, the same ones
// RocketMQ's UPDATE_BROKER_CONFIG changes): Dynamic reports whether it
// knows a key (Kafka's name, such as log.flush.interval.ms, or twinmq's);
// Update sets set and returns deleted keys to their static values, all or
// nothing, checked only with validateOnly, and keeps them across restarts
// (Kafka's dynamic broker configs).
type BrokerConfigUpdater interface {
	Dynamic(key string) bool
	Update(ctx context.Context, set map[string]string, deleted []string, validateOnly bool) error
}

// SetBrokerConfigUpdater makes IncrementalAlterConfigs on the BROKER
// resource change the keys u knows.
func (h *Handler) SetBrokerConfigUpdater(u BrokerConfigUpdater) { h.updater.Store(&u) }

// alterBroker applies IncrementalAlterConfigs operations to this broker's
// resource (its node id, or "" for the cluster-wide default, which a
// single twinmq broker treats as its own): SET and DELETE of dynamic
// keys; a key that is not dynamic, or APPEND / SUBTRACT, is INVALID_CONFIG
// and nothing changes.
func (h *Handler) alterBroker(ctx context.Context, name string, ops []kmsg.IncrementalAlterConfigsRequestResourceConfig, validateOnly bool) (int16, *string) {
	if name != "" && name != strconv.Itoa(int(h.cfg.NodeID)) {
		return errInvalidRequest, strp(fmt.Sprintf("broker %s is not this broker (%d)", name, h.cfg.NodeID))
	}
	p := h.updater.Load()
	if p == nil {
		return errInvalidConfig, strp("broker configs cannot change while the broker runs")
	}
	u := *p
	set := map[string]string{}
	var deleted, static []string
	for _, op := range ops {
		if !u.Dynamic(op.Name) {
			static = append(static, op.Name)
			continue
		}
		switch op.Op {
		case kmsg.IncrementalAlterConfigOpSet:
			if op.Value == nil {
				return errInvalidConfig, strp(op.Name + ": no value")
			}
			set[op.Name] = *op.Value
		case kmsg.IncrementalAlterConfigOpDelete:
			deleted = append(deleted, op.Name)
		default:
			return errInvalidConfig, strp(fmt.Sprintf("%s: operation %v is for list configs", op.Name, op.Op))
		}
	}
	if len(static) > 0 {
		slices.Sort(static)
		return errInvalidConfig, strp("cannot update these configs dynamically: " + strings.Join(static, ", ") +
			" (change them in the configuration and restart)")
	}
	if err := u.Update(ctx, set, deleted, validateOnly); err != nil {
		return errInvalidConfig, strp(err.Error())
	}
	return errNone, nil
}
