package remotingapi

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/twinmq/twinmq/netio"
	"github.com/twinmq/twinmq/wire/remoting"
)

// MessageQueue names one queue of one broker group.
type MessageQueue struct {
	Topic      string `json:"topic"`
	BrokerName string `json:"brokerName"`
	QueueID    int32  `json:"queueId"`
}

// LockBatchBody is the body of LOCK_BATCH_MQ (41) and UNLOCK_BATCH_MQ (42)
// (LockBatchRequestBody.java, docs/rocketmq-protocol.md §2.10).
type LockBatchBody struct {
	ConsumerGroup string         `json:"consumerGroup"`
	ClientID      string         `json:"clientId"`
	MQSet         []MessageQueue `json:"mqSet"`
}

const maxLockBatch = 4096

// DecodeLockBatch decodes a LOCK_BATCH_MQ or UNLOCK_BATCH_MQ body.
func DecodeLockBatch(b []byte) (LockBatchBody, error) {
	var body LockBatchBody
	if err := json.Unmarshal(b, &body); err != nil {
		return LockBatchBody{}, fmt.Errorf("%w: lock body: %v", errInvalidParameter, err)
	}
	if body.ConsumerGroup == "" || body.ClientID == "" || len(body.MQSet) > maxLockBatch {
		return LockBatchBody{}, fmt.Errorf("%w: lock body without group or client, or %d queues", errInvalidParameter, len(body.MQSet))
	}
	return body, nil
}

type lockKey struct {
	group string
	mq    MessageQueue
}

type lockHolder struct {
	clientID string
	last     time.Time
}

// lockTable is Java's RebalanceLockManager: a queue's lock belongs to one
// client of a group until it unlocks it or stops renewing it for the TTL.
// mu guards locks.
type lockTable struct {
	mu    sync.Mutex
	locks map[lockKey]lockHolder
}

func newLockTable() *lockTable { return &lockTable{locks: make(map[lockKey]lockHolder)} }

// lock tries every queue for clientID and returns those it now holds.
func (t *lockTable) lock(group, clientID string, mqs []MessageQueue, now time.Time, ttl time.Duration) []MessageQueue {
	t.mu.Lock()
	defer t.mu.Unlock()
	got := make([]MessageQueue, 0, len(mqs))
	for _, mq := range mqs {
		k := lockKey{group, mq}
		h, ok := t.locks[k]
		if ok && h.clientID != clientID && now.Sub(h.last) <= ttl {
			continue
		}
		t.locks[k] = lockHolder{clientID: clientID, last: now}
		got = append(got, mq)
	}
	return got
}

// unlock releases the queues clientID holds.
func (t *lockTable) unlock(group, clientID string, mqs []MessageQueue) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, mq := range mqs {
		k := lockKey{group, mq}
		if h, ok := t.locks[k]; ok && h.clientID == clientID {
			delete(t.locks, k)
		}
	}
}

func (b *Broker) lockBatchMQ(_ context.Context, _ *netio.Conn, req *remoting.Command) *remoting.Command {
	body, err := DecodeLockBatch(req.Body)
	if err != nil {
		return errorResponse(req, err)
	}
	got := b.locks.lock(body.ConsumerGroup, body.ClientID, body.MQSet, b.cfg.Now(), b.cfg.LockTTL)
	out, _ := json.Marshal(struct {
		LockOKMQSet []MessageQueue `json:"lockOKMQSet"`
	}{got})
	resp := remoting.NewResponse(req, remoting.Success, "")
	resp.Body = out
	return resp
}

func (b *Broker) unlockBatchMQ(_ context.Context, _ *netio.Conn, req *remoting.Command) *remoting.Command {
	body, err := DecodeLockBatch(req.Body)
	if err != nil {
		return errorResponse(req, err)
	}
	b.locks.unlock(body.ConsumerGroup, body.ClientID, body.MQSet)
	return remoting.NewResponse(req, remoting.Success, "")
}
