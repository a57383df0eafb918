package grpcapi

import (
	"context"
	"errors"
	"fmt"

	"github.com/twinmq/twinmq/broker/log"
	"github.com/twinmq/twinmq/broker/pop"
	"github.com/twinmq/twinmq/wire/rmqpb"
)

// Errors of the adapter, one per apache.rocketmq.v2.Code it answers.
var (
	errBadRequest      = errors.New("bad request")
	errIllegalTopic    = errors.New("illegal topic")
	errTopicNotFound   = errors.New("topic not found")
	errIllegalGroup    = errors.New("illegal consumer group")
	errIllegalFilter   = errors.New("illegal filter expression")
	errIllegalInvis    = errors.New("illegal invisible time")
	errIllegalDelivery = errors.New("illegal delivery time")
	errIllegalTag      = errors.New("illegal message tag")
	errIllegalProperty = errors.New("illegal message property")
	errBodyTooLarge    = errors.New("message body too large")
	errBodyEmpty       = errors.New("message body empty")
	errNoPermission    = errors.New("forbidden")
	errNotFound        = errors.New("message not found")
	errUnsupported     = errors.New("unsupported")
)

// statusTable is the one table from errors to apache.rocketmq.v2.Code; an error
// matching none is INTERNAL_SERVER_ERROR.
var statusTable = []struct {
	err  error
	code rmqpb.Code
}{
	{errBadRequest, rmqpb.Code_BAD_REQUEST},
	{errIllegalTopic, rmqpb.Code_ILLEGAL_TOPIC},
	{errTopicNotFound, rmqpb.Code_TOPIC_NOT_FOUND},
	{errIllegalGroup, rmqpb.Code_ILLEGAL_CONSUMER_GROUP},
	{errIllegalFilter, rmqpb.Code_ILLEGAL_FILTER_EXPRESSION},
	{errIllegalInvis, rmqpb.Code_ILLEGAL_INVISIBLE_TIME},
	{errIllegalDelivery, rmqpb.Code_ILLEGAL_DELIVERY_TIME},
	{errIllegalTag, rmqpb.Code_ILLEGAL_MESSAGE_TAG},
	{errIllegalProperty, rmqpb.Code_ILLEGAL_MESSAGE_PROPERTY_KEY},
	{errBodyTooLarge, rmqpb.Code_MESSAGE_BODY_TOO_LARGE},
	{errBodyEmpty, rmqpb.Code_MESSAGE_BODY_EMPTY},
	{errNoPermission, rmqpb.Code_FORBIDDEN},
	{errNotFound, rmqpb.Code_MESSAGE_NOT_FOUND},
	{errUnsupported, rmqpb.Code_NOT_IMPLEMENTED},
	{errIllegalOffset, rmqpb.Code_ILLEGAL_OFFSET},
	{errOffsetNotFound, rmqpb.Code_OFFSET_NOT_FOUND},
	{pop.ErrBadHandle, rmqpb.Code_INVALID_RECEIPT_HANDLE},
	{pop.ErrNotHeld, rmqpb.Code_INVALID_RECEIPT_HANDLE},
	{pop.ErrLockExpired, rmqpb.Code_INVALID_RECEIPT_HANDLE},
	{log.ErrReplicationTimeout, rmqpb.Code_SLAVE_PERSISTENCE_TIMEOUT},
	{log.ErrNotEnoughReplicasAfterAppend, rmqpb.Code_HA_NOT_AVAILABLE},
	{context.DeadlineExceeded, rmqpb.Code_PROXY_TIMEOUT},
}

func ok() *rmqpb.Status { return &rmqpb.Status{Code: rmqpb.Code_OK, Message: "OK"} }

// status is the Status of err (nil: OK).
func status(err error) *rmqpb.Status {
	if err == nil {
		return ok()
	}
	for _, c := range statusTable {
		if errors.Is(err, c.err) {
			return &rmqpb.Status{Code: c.code, Message: err.Error()}
		}
	}
	return &rmqpb.Status{Code: rmqpb.Code_INTERNAL_SERVER_ERROR, Message: err.Error()}
}

func errf(kind error, format string, args ...any) error {
	return fmt.Errorf("%w: %s", kind, fmt.Sprintf(format, args...))
}
