package kafkaapi

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/wire/kafka"
)

// ErrNotInProcess: Do was asked for a key it does not serve in process.
var ErrNotInProcess = errors.New("kafkaapi: key not served in process")

// inProcessKeys are the keys Do serves: the admin keys the web console
// (broker/console) sends, none of which reads its connection. Fetch,
// Produce and the group membership keys are absent: they park on or
// belong to a connection.
var inProcessKeys = map[int16]bool{
	8:  true, // OffsetCommit (an offset reset from outside the group)
	15: true, // DescribeGroups
	16: true, // ListGroups
	19: true, // CreateTopics
	20: true, // DeleteTopics
	32: true, // DescribeConfigs
	35: true, // DescribeLogDirs (partition sizes)
	37: true, // CreatePartitions
	44: true, // IncrementalAlterConfigs
	47: true, // OffsetDelete
	69: true, // ConsumerGroupDescribe (KIP-848 groups)
}

// Do serves req in process, through the same handler a request from the
// network reaches, and returns its response: the web console's mutations
// behave exactly as the same Kafka admin request does. req's version is
// set to the highest this handler serves. The request runs without a
// connection, so with the principal auth.Anonymous has; once the broker
// authorizes requests, the console must authenticate its user and pass
// the principal here (docs/console.md, "Security").
func (h *Handler) Do(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	key := req.Key()
	api, ok := h.apis[key]
	if !ok || !inProcessKeys[key] {
		return nil, fmt.Errorf("%w: %s", ErrNotInProcess, kmsg.NameForKey(key))
	}
	req.SetVersion(api.max)
	sink := make(chan kmsg.Response, 1)
	done := make(chan struct{})
	r := &request{h: h, hdr: kafka.RequestHeader{APIKey: key, APIVersion: api.max}, start: time.Now(),
		done: func() { close(done) }, sink: sink}
	h.served[key].Add(1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				h.log.Error("kafkaapi: handler panic", "api", kmsg.NameForKey(key), "panic", p)
				r.closeConn("internal error", fmt.Errorf("panic: %v", p))
			}
		}()
		api.serve(h, r, req)
	}()
	select {
	case resp := <-sink:
		<-done
		if resp == nil {
			return nil, fmt.Errorf("kafkaapi: %s refused in process", kmsg.NameForKey(key))
		}
		return resp, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("kafkaapi: %s: %w", kmsg.NameForKey(key), context.Cause(ctx))
	}
}
