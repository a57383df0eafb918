package remotingapi

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/twinmq/twinmq/broker/delay"
	"github.com/twinmq/twinmq/broker/halfmsg"
	"github.com/twinmq/twinmq/broker/log"
	"github.com/twinmq/twinmq/broker/topics"
	"github.com/twinmq/twinmq/netio"
	"github.com/twinmq/twinmq/storage"
	"github.com/twinmq/twinmq/wire/remoting"
)

// Transactional messages (docs/rocketmq-protocol.md §2.9, §6.4;
// docs/transactions-rocketmq.md). A send with TRAN_MSG=true is stored as a
// half message in halfmsg.HalfTopic (sendHalf); END_TRANSACTION (37)
// commits it (the message is written to its real topic only then) or
// rolls it back; the halfmsg.Service asks the producer group about the
// half messages nobody ended (check_transaction.go).

// Properties of transactional messages (MessageConst.java).
const (
	propTranMsg       = "TRAN_MSG"          // "true" on a prepared message
	propProducerGroup = "PGROUP"            // the producer group to check back
	propTranID        = "__transactionId__" // = UNIQ_KEY
	propCheckTimes    = "TRANSACTION_CHECK_TIMES"
)

// errTransactionGroup: an END_TRANSACTION from a producer group other
// than the half message's (Java: "The producer group wrong").
var errTransactionGroup = errors.New("remotingapi: the producer group wrong")

// EnableTransactions turns on transactional sends and END_TRANSACTION
// (37), with svc holding the half messages; before, a prepared message
// is stored like any other and 37 is not supported. The service's Check
// and Discarded are CheckTransaction and TransactionDiscarded.
func (b *Broker) EnableTransactions(svc *halfmsg.Service) {
	b.txn.Store(svc)
	// Half messages given up before TRANS_CHECK_MAX_TIME_TOPIC was a
	// topic of the table: make it one, so that consumers can pull them.
	if _, max, err := b.logs.Range(halfmsg.CheckMaxTopic, 0); err == nil && max > 0 {
		if err := b.ensureCheckMaxTopic(); err != nil {
			b.log.Warn("cannot create "+halfmsg.CheckMaxTopic, "err", err)
		}
	}
}

// ensureCheckMaxTopic creates TRANS_CHECK_MAX_TIME_TOPIC (one queue,
// read and write permission) if the topic table does not have it, as
// Java's TopicConfigManager.createTopicOfTranCheckMaxTime does at the
// first given-up half message: a topic consumers pull (and the name
// servers route) like any other; producers may still not send to it
// (isTransactionTopic).
func (b *Broker) ensureCheckMaxTopic() error {
	if _, ok := b.topics.Get(halfmsg.CheckMaxTopic); ok {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := b.topics.Create(ctx, topics.Config{Name: halfmsg.CheckMaxTopic, Queues: 1, Perm: topics.DefaultPerm})
	if errors.Is(err, topics.ErrTopicExists) {
		return nil
	}
	return err
}

// TransactionsPending returns the number of half messages neither
// committed, rolled back nor given up (0 before EnableTransactions).
func (b *Broker) TransactionsPending() int {
	if svc := b.txn.Load(); svc != nil {
		return svc.Pending()
	}
	return 0
}

// isTransactionTopic reports the topics clients may not send to
// (TopicValidator.isNotAllowedSendTopic).
func isTransactionTopic(t string) bool {
	return t == halfmsg.HalfTopic || t == halfmsg.OpTopic || t == halfmsg.CheckMaxTopic
}

// sendHalf stores m, a prepared message of a parsed send, as a half
// message (TransactionalMessageBridge.parseHalfMessageInner): its topic
// and queue move to REAL_TOPIC and REAL_QID, __transactionId__ is its
// UNIQ_KEY, the transaction bits of its sysFlag are cleared, and it goes
// to queue 0 of the half topic. The reply carries the real queue, the
// half message's queue offset and offsetMsgId: the producer's
// END_TRANSACTION names the half message by them.
func (b *Broker) sendHalf(ctx context.Context, svc *halfmsg.Service, req *remoting.Command, m *remoting.MessageExt, uniq string) *remoting.Command {
	if err := svc.Admit(); err != nil {
		return errorResponse(req, err)
	}
	props := remoting.ParsePropertyList(m.Properties)
	props = applyEdits(props, []delay.Edit{
		{Key: delay.PropRealTopic, Value: m.Topic},
		{Key: delay.PropRealQueueID, Value: strconv.Itoa(int(m.QueueID))},
		{Key: propTranID, Value: uniq},
	})
	m.Properties = remoting.AppendPropertyList(nil, props)
	if len(m.Properties) > remoting.MaxPropertiesLen {
		return errorResponse(req, fmt.Errorf("%w: properties too long", errMessageIllegal))
	}
	realQueue := m.QueueID
	m.Topic, m.QueueID = halfmsg.HalfTopic, 0
	m.SysFlag &^= remoting.SysFlagTransactionMask
	pos, err := b.logs.Append(ctx, []log.Message{b.entry(m)})
	if len(pos) > 0 {
		svc.Prepared(pos[0].QueueOffset, pos[0].Phys, pos[0].StoreTime)
	}
	code, err := sendStatus(pos, err)
	if err != nil {
		return errorResponse(req, fmt.Errorf("store: %w", err))
	}
	resp := b.sendResponse(req, code, realQueue, pos[0].QueueOffset, remoting.OffsetMsgID(b.storeHost, pos[0].Phys))
	resp.ExtFields["transactionId"] = uniq
	return resp
}

// endTransactionRequest is a decoded END_TRANSACTION header
// (EndTransactionRequestHeader.java).
type endTransactionRequest struct {
	producerGroup        string
	tranStateTableOffset int64 // the half message's queue offset: its key
	commitLogOffset      int64
	commitOrRollback     int32 // sysFlag values: 0 unknown, 8 commit, 12 rollback
	fromTransactionCheck bool
	msgID, transactionID string
}

// parseEndTransaction decodes and checks an END_TRANSACTION header.
func parseEndTransaction(m map[string]string) (endTransactionRequest, error) {
	e := ext{m: m}
	e.require("producerGroup", "tranStateTableOffset", "commitLogOffset", "commitOrRollback")
	r := endTransactionRequest{
		producerGroup: e.str("producerGroup"), tranStateTableOffset: e.i64("tranStateTableOffset", -1),
		commitLogOffset: e.i64("commitLogOffset", -1), commitOrRollback: e.i32("commitOrRollback", -1),
		fromTransactionCheck: e.boolean("fromTransactionCheck"), msgID: e.str("msgId"), transactionID: e.str("transactionId"),
	}
	if e.err != nil {
		return r, e.err
	}
	if r.tranStateTableOffset < 0 || r.commitLogOffset < 0 {
		return r, fmt.Errorf("%w: negative offset (tranStateTableOffset %d, commitLogOffset %d)",
			errInvalidParameter, r.tranStateTableOffset, r.commitLogOffset)
	}
	switch r.commitOrRollback {
	case 0, remoting.SysFlagTransactionCommit, remoting.SysFlagTransactionRollback:
	default:
		return r, fmt.Errorf("%w: commitOrRollback %d", errInvalidParameter, r.commitOrRollback)
	}
	return r, nil
}

// endTransaction answers END_TRANSACTION (37, EndTransactionProcessor):
// commit or roll back a half message. Go and Java clients send it
// oneway; the reply (harmless) says what happened. An unknown half
// message, one already resolved, or one of another producer group gets
// SYSTEM_ERROR and changes nothing; "unknown" (0) changes nothing either,
// and the check-back asks again later.
func (b *Broker) endTransaction(ctx context.Context, c *netio.Conn, req *remoting.Command) *remoting.Command {
	svc := b.txn.Load()
	if svc == nil {
		return remoting.NotSupported(req)
	}
	r, err := parseEndTransaction(req.ExtFields)
	if err != nil {
		return errorResponse(req, err)
	}
	action := halfmsg.ActionCommit
	switch r.commitOrRollback {
	case 0:
		b.log.Debug("transaction state unknown; checking back later", "producerGroup", r.producerGroup,
			"msgId", r.msgID, "fromTransactionCheck", r.fromTransactionCheck, "remark", req.Remark)
		return remoting.NewResponse(req, remoting.Success, "")
	case remoting.SysFlagTransactionRollback:
		action = halfmsg.ActionRollback
	}
	err = svc.Resolve(ctx, r.tranStateTableOffset, r.commitLogOffset, action, func(e storage.ReadEntry) ([]storage.Entry, error) {
		return b.endMessage(ctx, &r, action, e)
	})
	if errors.Is(err, log.ErrReplicationTimeout) || errors.Is(err, log.ErrNotEnoughReplicasAfterAppend) {
		// Resolved on this master; its slaves did not confirm it in time.
		b.log.Info("END_TRANSACTION written, not confirmed by the slaves", "producerGroup", r.producerGroup,
			"msgId", r.msgID, "err", err)
		return errorResponse(req, err)
	}
	if err != nil {
		b.log.Warn("END_TRANSACTION refused", "producerGroup", r.producerGroup, "msgId", r.msgID,
			"tranStateTableOffset", r.tranStateTableOffset, "commitLogOffset", r.commitLogOffset,
			"fromTransactionCheck", r.fromTransactionCheck, "remote", c.RemoteAddr().String(), "err", err)
		return errorResponse(req, err)
	}
	return remoting.NewResponse(req, remoting.Success, "")
}

// endMessage checks that the half message e belongs to the request's
// producer group and builds what its resolution writes: for a commit the
// message in its real topic and queue (EndTransactionProcessor.endMessageTransaction),
// with the transaction bits set to COMMIT, PreparedTransactionOffset the
// half message's CommitLog offset, REAL_TOPIC, REAL_QID and TRAN_MSG
// removed and every other property kept (UNIQ_KEY: the producer's msgId
// stays valid). A DELAY or timer property takes effect now.
func (b *Broker) endMessage(ctx context.Context, r *endTransactionRequest, action halfmsg.Action, e storage.ReadEntry) ([]storage.Entry, error) {
	if e.Kind != storage.KindRocketMQ {
		return nil, fmt.Errorf("%w: half message %d is not a RocketMQ message", halfmsg.ErrUnknown, r.tranStateTableOffset)
	}
	m, _, err := remoting.DecodeStoredMessage(e.Payload)
	if err != nil {
		return nil, fmt.Errorf("half message %d: %w", r.tranStateTableOffset, err)
	}
	if pg, _ := remoting.LookupProperty(m.Properties, propProducerGroup); pg != r.producerGroup {
		return nil, fmt.Errorf("%w: half message %d is of group %q, not %q", errTransactionGroup, r.tranStateTableOffset, pg, r.producerGroup)
	}
	if action == halfmsg.ActionRollback {
		return nil, nil
	}
	topic, queue, err := delay.Target(lookupIn(m.Properties))
	if err != nil {
		return nil, fmt.Errorf("half message %d: %w", r.tranStateTableOffset, err)
	}
	if _, ok := b.topics.Get(topic); !ok {
		return nil, fmt.Errorf("%w: %s (half message %d)", errTopicNotExist, topic, r.tranStateTableOffset)
	}
	m.Properties = remoting.AppendPropertyList(nil, applyEdits(remoting.ParsePropertyList(m.Properties), []delay.Edit{
		{Key: delay.PropRealTopic, Delete: true}, {Key: delay.PropRealQueueID, Delete: true}, {Key: propTranMsg, Delete: true},
	}))
	m.Topic, m.QueueID, m.StoreHost = topic, queue, b.storeHost
	m.SysFlag = m.SysFlag&^(remoting.SysFlagTransactionMask|remoting.SysFlagStoreHostV6) |
		remoting.SysFlagTransactionCommit | remoting.HostSysFlags(m.BornHost, b.storeHost)&remoting.SysFlagStoreHostV6
	m.PreparedTransactionOffset = e.Phys
	entry, err := b.delayEntry(ctx, &m, 0, delay.UseDefaultMaxReconsumeTimes) // sendback.go
	if err != nil {
		return nil, err
	}
	return []storage.Entry{entry.StoreEntry()}, nil
}

// AppendResolution is the halfmsg.Service's Append: a resolution goes
// through the log service sends go through, so on a SYNC_MASTER a commit
// (the message in its real topic) waits for the in-sync slaves as a sync
// send does, and END_TRANSACTION answers FLUSH_SLAVE_TIMEOUT or
// SLAVE_NOT_AVAILABLE when they do not confirm it (codes.go), as
// EndTransactionProcessor answers from its put result.
func (b *Broker) AppendResolution(ctx context.Context, entries []storage.Entry) ([]storage.Position, error) {
	return b.logs.AppendEntries(ctx, entries)
}

// TransactionDiscarded is the halfmsg.Service's Discarded: the copy of a
// half message given up on after its last check, in queue 0 of
// TRANS_CHECK_MAX_TIME_TOPIC (Java's DefaultTransactionalMessageCheckListener.resolveDiscardMsg),
// created as a topic first.
//
// An entry of the half topic that is no RocketMQ message (a Kafka client
// produced to the topic by name) is given up without a copy: nobody could
// read one.
func (b *Broker) TransactionDiscarded(e storage.ReadEntry) ([]storage.Entry, error) {
	if e.Kind != storage.KindRocketMQ {
		return nil, nil
	}
	if err := b.ensureCheckMaxTopic(); err != nil {
		return nil, fmt.Errorf("%s: %w", halfmsg.CheckMaxTopic, err)
	}
	m, _, err := remoting.DecodeStoredMessage(e.Payload)
	if err != nil {
		return nil, err
	}
	m.Topic, m.QueueID = halfmsg.CheckMaxTopic, 0
	entry := b.entry(&m)
	return []storage.Entry{entry.StoreEntry()}, nil
}
