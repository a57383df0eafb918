package remotingapi

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twinmq/twinmq/wire/remoting"
)

// ErrNotInProcess: Invoke was asked for a code it does not serve in
// process.
var ErrNotInProcess = errors.New("remotingapi: request code not served in process")

// inProcessCodes are the codes Invoke serves: the admin requests the web
// console (broker/console) sends, none of which reads its connection.
var inProcessCodes = map[int32]bool{
	remoting.GetConsumerListByGroup:        true, // who is live in a group
	remoting.GetAllSubscriptionGroupConfig: true, // every group the broker knows
	getConsumerConnectionList:              true, // a group's clients and subscriptions
	InvokeBrokerToResetOffset:              true, // tell live consumers their new offsets (220)
	ResendDLQ:                              true, // re-send a group's dead letters
	remoting.QueryMessage:                  true, // IndexFile query by key
	remoting.ViewMessageByID:               true, // a message by its offsetMsgId
}

// Invoke serves req in process through the handler a request from the
// network reaches, and returns its response, so the web console's
// actions behave exactly as the same RocketMQ admin request does. It runs
// without a connection, so as an anonymous client: once the broker checks
// AK/SK ACLs, the console must authenticate its user and sign here
// (docs/console.md, "Security").
func (b *Broker) Invoke(ctx context.Context, req *remoting.Command) (resp *remoting.Command, err error) {
	r := b.codes[req.Code]
	if r == nil || !inProcessCodes[req.Code] {
		return nil, fmt.Errorf("%w: %d", ErrNotInProcess, req.Code)
	}
	r.served.Add(1)
	defer func() {
		// A handler bug must not take the broker down with it.
		if p := recover(); p != nil {
			b.log.Error("remotingapi: in-process handler panic", "code", req.Code, "panic", p)
			resp, err = nil, fmt.Errorf("remotingapi: request %d: internal error", req.Code)
		}
	}()
	start := time.Now()
	resp = r.serve(ctx, nil, req)
	if resp == nil {
		return nil, fmt.Errorf("remotingapi: request %d: no response", req.Code)
	}
	b.observe(req.Code, r, resp.Code, start)
	return resp, nil
}
