package remotingapi

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/twinmq/twinmq/broker/delay"
	"github.com/twinmq/twinmq/netio"
	"github.com/twinmq/twinmq/storage"
	"github.com/twinmq/twinmq/wire/remoting"
)

// ErrNoProducer: no connection of the half message's producer group is
// open, so nobody can be asked about its transaction.
var ErrNoProducer = errors.New("remotingapi: no producer of the group online")

// CheckTransaction is the halfmsg.Service's Check: it sends
// CHECK_TRANSACTION_STATE (39, docs/rocketmq-protocol.md §2.9), oneway as
// Java's Broker2Client does, on the connection of a producer of the half
// message's group (PGROUP, from HEART_BEAT's producerDataSet). Successive
// checks of one half message go to successive producers of the group, so
// a producer that cannot answer does not keep the question. The body is
// the half message with its real topic and queue, as
// AbstractTransactionalMessageCheckListener.sendCheckMessage sends it;
// the producer answers with END_TRANSACTION, fromTransactionCheck=true.
func (b *Broker) CheckTransaction(_ context.Context, e storage.ReadEntry, checks int) error {
	if e.Kind != storage.KindRocketMQ {
		return fmt.Errorf("half message at %d is not a RocketMQ message", e.Phys)
	}
	m, _, err := remoting.DecodeStoredMessage(e.Payload)
	if err != nil {
		return err
	}
	group, _ := remoting.LookupProperty(m.Properties, propProducerGroup)
	c := b.clients.producer(group, checks)
	if c == nil {
		return fmt.Errorf("%w: %q", ErrNoProducer, group)
	}
	uniq, _ := remoting.LookupProperty(m.Properties, propUniqKey)
	tranID, ok := remoting.LookupProperty(m.Properties, propTranID)
	if !ok {
		tranID = uniq
	}
	if topic, queue, err := delay.Target(lookupIn(m.Properties)); err == nil {
		m.Topic, m.QueueID = topic, queue
	}
	m.Properties = remoting.AppendPropertyList(nil, applyEdits(remoting.ParsePropertyList(m.Properties),
		[]delay.Edit{{Key: propCheckTimes, Value: strconv.Itoa(checks)}}))
	req := remoting.NewRequest(remoting.CheckTransactionState, b.opaque.Add(1))
	req.Flag = remoting.FlagOneway
	req.ExtFields["tranStateTableOffset"] = strconv.FormatInt(e.QueueOffset, 10)
	req.ExtFields["commitLogOffset"] = strconv.FormatInt(e.Phys, 10)
	req.ExtFields["msgId"] = uniq
	req.ExtFields["transactionId"] = tranID
	req.ExtFields["offsetMsgId"] = remoting.OffsetMsgID(b.storeHost, e.Phys)
	req.ExtFields["topic"] = m.Topic
	req.ExtFields["bname"] = b.cfg.BrokerName
	req.Body = remoting.AppendStoredMessage(make([]byte, 0, remoting.StoredLen(&m)), &m)
	if err := c.Write(remoting.AppendCommand(nil, req)); err != nil {
		return fmt.Errorf("%w: %v", ErrClientGone, err)
	}
	return nil
}

// producer returns the connection of one producer of group, the n-th in
// client id order (wrapping), or nil.
func (t *clientTable) producer(group string, n int) *netio.Conn {
	t.mu.Lock()
	defer t.mu.Unlock()
	ps := t.producers[group]
	if len(ps) == 0 {
		return nil
	}
	ids := slices.Sorted(maps.Keys(ps))
	return ps[ids[n%len(ids)]]
}
