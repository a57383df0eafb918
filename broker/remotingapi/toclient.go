package remotingapi

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/twinmq/twinmq/netio"
	"github.com/twinmq/twinmq/wire/remoting"
)

// Broker-to-client requests that expect an answer (docs/rocketmq-protocol.md §1.6, §2.13):
// GET_CONSUMER_RUNNING_INFO (307) and CONSUME_MESSAGE_DIRECTLY (309). They
// go out on the connection the client opened, and the client's reply comes
// back on it as a response frame carrying the request's opaque; the
// pendingTable matches the two. An admin (the console, `twinmq group`)
// calls the exported methods; Java's broker relays mqadmin's
// consumerStatus and consumeMessage this way (Broker2Client.java).

// Errors of broker-to-client requests.
var (
	// ErrConsumerNotOnline: no connection of that client in that group
	// (CONSUMER_NOT_ONLINE 206 in Java's AdminBrokerProcessor).
	ErrConsumerNotOnline = errors.New("remotingapi: consumer not online")
	// ErrClientGone: the connection closed before the client answered.
	ErrClientGone = errors.New("remotingapi: client connection closed before it answered")
	// ErrClientFailed: the client answered with a non-success code.
	ErrClientFailed = errors.New("remotingapi: client answered with an error")
)

// pendingKey names one request in flight to one connection: the opaque
// alone is unique per broker, but a response counts only on the connection
// the request went out on.
type pendingKey struct {
	conn   uint64
	opaque int32
}

// pendingTable tracks broker-to-client requests awaiting their response.
// mu guards calls.
type pendingTable struct {
	mu    sync.Mutex
	calls map[pendingKey]chan *remoting.Command
}

func newPendingTable() *pendingTable {
	return &pendingTable{calls: make(map[pendingKey]chan *remoting.Command)}
}

// add registers a call; the channel receives the response, or is closed
// when the connection goes away.
func (p *pendingTable) add(k pendingKey) chan *remoting.Command {
	ch := make(chan *remoting.Command, 1)
	p.mu.Lock()
	p.calls[k] = ch
	p.mu.Unlock()
	return ch
}

// forget drops a call that timed out or failed to go out.
func (p *pendingTable) forget(k pendingKey) {
	p.mu.Lock()
	delete(p.calls, k)
	p.mu.Unlock()
}

// complete hands a response to its caller; it reports whether one waited.
func (p *pendingTable) complete(conn uint64, resp *remoting.Command) bool {
	k := pendingKey{conn, resp.Opaque}
	p.mu.Lock()
	ch, ok := p.calls[k]
	delete(p.calls, k)
	p.mu.Unlock()
	if ok {
		ch <- resp // buffered, sent once: never blocks
	}
	return ok
}

// closeConn fails every call in flight on a closed connection.
func (p *pendingTable) closeConn(conn uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, ch := range p.calls {
		if k.conn == conn {
			close(ch)
			delete(p.calls, k)
		}
	}
}

// invokeClient sends req on c and waits for the client's response or ctx.
func (b *Broker) invokeClient(ctx context.Context, c *netio.Conn, req *remoting.Command) (*remoting.Command, error) {
	req.Opaque = b.opaque.Add(1)
	k := pendingKey{c.ID(), req.Opaque}
	ch := b.pending.add(k)
	if err := c.Write(remoting.AppendCommand(nil, req)); err != nil {
		b.pending.forget(k)
		return nil, fmt.Errorf("%w: %v", ErrClientGone, err)
	}
	select {
	case resp, ok := <-ch:
		if !ok {
			return nil, ErrClientGone
		}
		return resp, nil
	case <-ctx.Done():
		b.pending.forget(k)
		return nil, fmt.Errorf("remotingapi: waiting for client answer to code %d: %w", req.Code, ctx.Err())
	}
}

// memberConn returns the connection of clientID in group.
func (b *Broker) memberConn(group, clientID string) (*netio.Conn, error) {
	b.clients.mu.Lock()
	defer b.clients.mu.Unlock()
	m, ok := b.clients.groups[group][clientID]
	if !ok {
		return nil, fmt.Errorf("%w: client %s of group %s", ErrConsumerNotOnline, clientID, group)
	}
	return m.conn, nil
}

// clientBody checks a client's answer and returns its body.
func clientBody(resp *remoting.Command, what string) ([]byte, error) {
	if resp.Code != remoting.Success {
		return nil, fmt.Errorf("%w: %s: code %d: %s", ErrClientFailed, what, resp.Code, resp.Remark)
	}
	return resp.Body, nil
}

// ConsumerRunningInfo asks a consumer client for its running state
// (GET_CONSUMER_RUNNING_INFO 307, docs/rocketmq-protocol.md §2.13) and returns the JSON body it
// answers (ConsumerRunningInfo.java: properties, subscriptionSet, mqTable,
// statusTable, jstack when asked).
func (b *Broker) ConsumerRunningInfo(ctx context.Context, group, clientID string, jstack bool) ([]byte, error) {
	c, err := b.memberConn(group, clientID)
	if err != nil {
		return nil, err
	}
	req := remoting.NewRequest(remoting.GetConsumerRunningInfo, 0)
	req.ExtFields["consumerGroup"] = group
	req.ExtFields["clientId"] = clientID
	req.ExtFields["jstackEnable"] = strconv.FormatBool(jstack)
	resp, err := b.invokeClient(ctx, c, req)
	if err != nil {
		return nil, err
	}
	return clientBody(resp, "consumer running info")
}

// ConsumeMessageDirectly has one consumer client consume the stored
// message offsetMsgID outside its normal flow (CONSUME_MESSAGE_DIRECTLY
// 309, mqadmin consumeMessage) and returns its JSON
// ConsumeMessageDirectlyResult. The body sent is the stored record, as
// Java's AdminBrokerProcessor sends it.
func (b *Broker) ConsumeMessageDirectly(ctx context.Context, group, clientID, offsetMsgID string) ([]byte, error) {
	_, phys, err := remoting.ParseOffsetMsgID(offsetMsgID)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errInvalidParameter, err)
	}
	c, err := b.memberConn(group, clientID)
	if err != nil {
		return nil, err
	}
	res, err := b.store.ReadAt(phys)
	if err != nil {
		return nil, fmt.Errorf("%w: message %s: %v", errQueryNotFound, offsetMsgID, err)
	}
	body := rocketMQPayloads(res)
	res.Release()
	if len(body) == 0 {
		return nil, fmt.Errorf("%w: %s is not a RocketMQ message", errQueryNotFound, offsetMsgID)
	}
	req := remoting.NewRequest(remoting.ConsumeMessageDirectly, 0)
	req.ExtFields["consumerGroup"] = group
	req.ExtFields["clientId"] = clientID
	req.ExtFields["msgId"] = offsetMsgID
	req.ExtFields["brokerName"] = b.cfg.BrokerName
	req.Body = body
	resp, err := b.invokeClient(ctx, c, req)
	if err != nil {
		return nil, err
	}
	return clientBody(resp, "consume message directly")
}
