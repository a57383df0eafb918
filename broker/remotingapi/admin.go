package remotingapi

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/twinmq/twinmq/broker/topics"
	"github.com/twinmq/twinmq/nameserver"
	"github.com/twinmq/twinmq/netio"
	"github.com/twinmq/twinmq/wire/remoting"
)

// updateAndCreateTopic (17) creates a topic or changes its queue count and
// permission. The Go admin client ignores the response code (docs/rocketmq-protocol.md §2.12).
func (b *Broker) updateAndCreateTopic(ctx context.Context, _ *netio.Conn, req *remoting.Command) *remoting.Command {
	e := ext{m: req.ExtFields}
	e.require("topic")
	name := e.str("topic")
	queues := max(e.i32("readQueueNums", 8), e.i32("writeQueueNums", 8))
	perm := e.i32("perm", topics.DefaultPerm)
	if e.err == nil {
		e.err = validTopic(name)
	}
	if e.err != nil {
		return errorResponse(req, e.err)
	}
	if _, ok := b.topics.Get(name); ok {
		_, err := b.topics.Update(ctx, name, func(c *topics.Config) error {
			c.Queues = max(c.Queues, queues) // queues never shrink: their data stays
			c.Perm = perm
			return nil
		})
		if err != nil {
			return errorResponse(req, err)
		}
		return remoting.NewResponse(req, remoting.Success, "")
	}
	if _, err := b.topics.Create(ctx, topics.Config{Name: name, Queues: queues, Perm: perm}); err != nil {
		return errorResponse(req, err)
	}
	return remoting.NewResponse(req, remoting.Success, "")
}

// deleteTopicInBroker (215) deletes the topic, its queues and the
// committed offsets on it.
func (b *Broker) deleteTopicInBroker(ctx context.Context, _ *netio.Conn, req *remoting.Command) *remoting.Command {
	name := req.ExtFields["topic"]
	if err := b.topics.Delete(ctx, name); err != nil {
		return errorResponse(req, err)
	}
	if _, err := b.offsets.Delete(ctx, "", name); err != nil {
		b.log.Warn("cannot delete offsets of deleted topic", "topic", name, "err", err)
	}
	return remoting.NewResponse(req, remoting.Success, "")
}

// getAllTopicConfig (21): TopicConfigSerializeWrapper JSON.
func (b *Broker) getAllTopicConfig(_ context.Context, _ *netio.Conn, req *remoting.Command) *remoting.Command {
	return jsonResponse(req, nameserver.TopicConfigWrapper{TopicConfigTable: b.topicConfigs(),
		DataVersion: nameserver.DataVersion{Timestamp: b.cfg.Now().UnixMilli()}})
}

// getBrokerConfig (26): the broker's settings as Java's
// Configuration.getAllConfigsFormatString writes them ("key=value" lines),
// for mqadmin getBrokerConfig and the console. fileReservedTime is the
// store's retention, the same number Kafka clients read as
// log.retention.hours.
func (b *Broker) getBrokerConfig(_ context.Context, _ *netio.Conn, req *remoting.Command) *remoting.Command {
	props := map[string]string{
		"brokerClusterName":      b.cfg.ClusterName,
		"brokerName":             b.cfg.BrokerName,
		"brokerId":               strconv.FormatInt(b.brokerID.Load(), 10),
		"brokerRole":             b.cfg.BrokerRole,
		"brokerIP1":              b.storeHost.Addr().String(),
		"listenPort":             strconv.Itoa(int(b.storeHost.Port())),
		"namesrvAddr":            strings.Join(b.cfg.NamesrvAddrs, ";"),
		"autoCreateTopicEnable":  strconv.FormatBool(!b.cfg.DisableAutoCreateTopic),
		"defaultTopicQueueNums":  strconv.Itoa(int(b.cfg.DefaultTopicQueues)),
		"maxMessageSize":         strconv.Itoa(b.cfg.MaxMessageSize),
		"flushDiskType":          string(b.store.FlushDiskType()),
		"flushIntervalCommitLog": strconv.FormatInt(b.store.FlushInterval().Milliseconds(), 10),
		"fileReservedTime":       strconv.Itoa(b.store.RetentionHours()),
		"retentionBytes":         strconv.FormatInt(b.store.RetentionBytes(), 10), // twinmq's CommitLog size cap
	}
	var sb strings.Builder
	for _, k := range slices.Sorted(maps.Keys(props)) {
		sb.WriteString(k + "=" + props[k] + "\n")
	}
	resp := remoting.NewResponse(req, remoting.Success, "")
	if v, err := json.Marshal(nameserver.DataVersion{Timestamp: b.cfg.Now().UnixMilli()}); err == nil {
		resp.ExtFields["version"] = string(v)
	}
	resp.Body = []byte(sb.String())
	return resp
}

// jsonResponse is a SUCCESS response whose body is v as compact JSON.
func jsonResponse(req *remoting.Command, v any) *remoting.Command {
	body, err := json.Marshal(v)
	if err != nil {
		return errorResponse(req, fmt.Errorf("encode: %w", err))
	}
	resp := remoting.NewResponse(req, remoting.Success, "")
	resp.Body = body
	return resp
}
