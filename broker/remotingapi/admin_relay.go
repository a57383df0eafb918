package remotingapi

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twinmq/twinmq/netio"
	"github.com/twinmq/twinmq/wire/remoting"
)

// The admin side of the broker-to-client requests (toclient.go): mqadmin
// consumerStatus and the console's client view send
// GET_CONSUMER_RUNNING_INFO (307) to the broker, and mqadmin consumeMessage
// CONSUME_MESSAGE_DIRECTLY (309); the broker relays each, with the
// admin's header fields, to the client named, on the client's own
// connection, and answers with the client's code, remark and body as they
// are (AdminBrokerProcessor.callConsumer).

// relayTimeout bounds the wait for the client, as Broker2Client.callClient's
// 10 s.
const relayTimeout = 10 * time.Second

// callConsumer relays req's fields and body under code to clientID of
// group and returns the client's answer to req.
func (b *Broker) callConsumer(ctx context.Context, code int32, req *remoting.Command, group, clientID string, body []byte) *remoting.Command {
	c, err := b.memberConn(group, clientID)
	if err != nil {
		return remoting.NewResponse(req, remoting.SystemError, fmt.Sprintf("The Consumer <%s> <%s> not online", group, clientID))
	}
	ctx, cancel := context.WithTimeout(ctx, relayTimeout)
	defer cancel()
	fwd := remoting.NewRequest(code, 0)
	for k, v := range req.ExtFields {
		fwd.ExtFields[k] = v
	}
	fwd.Body = body
	resp, err := b.invokeClient(ctx, c, fwd)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return remoting.NewResponse(req, remoting.ConsumeMsgTimeout, fmt.Sprintf("consumer <%s> <%s> Timeout: %v", group, clientID, err))
	case err != nil:
		return remoting.NewResponse(req, remoting.SystemError, fmt.Sprintf("invoke consumer <%s> <%s> Exception: %v", group, clientID, err))
	}
	out := remoting.NewResponse(req, resp.Code, resp.Remark)
	out.Body = resp.Body
	return out
}

// getConsumerRunningInfo (307 from an admin): consumerGroup, clientId,
// jstackEnable.
func (b *Broker) getConsumerRunningInfo(ctx context.Context, _ *netio.Conn, req *remoting.Command) *remoting.Command {
	e := ext{m: req.ExtFields}
	e.require("consumerGroup", "clientId")
	if e.err != nil {
		return errorResponse(req, e.err)
	}
	return b.callConsumer(ctx, remoting.GetConsumerRunningInfo, req, e.str("consumerGroup"), e.str("clientId"), nil)
}

// consumeMessageDirectly (309 from an admin): consumerGroup, clientId,
// msgId (an offsetMsgId). As Java, the broker adds brokerName and sends
// the stored message as the body.
func (b *Broker) consumeMessageDirectly(ctx context.Context, _ *netio.Conn, req *remoting.Command) *remoting.Command {
	e := ext{m: req.ExtFields}
	e.require("consumerGroup", "clientId", "msgId")
	if e.err != nil {
		return errorResponse(req, e.err)
	}
	_, phys, err := remoting.ParseOffsetMsgID(e.str("msgId"))
	if err != nil {
		return errorResponse(req, fmt.Errorf("%w: msgId: %v", errInvalidParameter, err))
	}
	res, err := b.store.ReadAt(phys)
	if err != nil {
		return errorResponse(req, fmt.Errorf("%w: message %s: %v", errQueryNotFound, e.str("msgId"), err))
	}
	body := b.kafkaAwarePayloads(res, nil) // a Kafka batch's records, converted
	res.Release()
	if len(body) == 0 {
		return errorResponse(req, fmt.Errorf("%w: %s is not a message", errQueryNotFound, e.str("msgId")))
	}
	req.ExtFields["brokerName"] = b.cfg.BrokerName
	return b.callConsumer(ctx, remoting.ConsumeMessageDirectly, req, e.str("consumerGroup"), e.str("clientId"), body)
}
