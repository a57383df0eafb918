package remotingapi

import (
	"errors"

	"github.com/twinmq/twinmq/broker/halfmsg"
	"github.com/twinmq/twinmq/broker/log"
	"github.com/twinmq/twinmq/broker/topics"
	"github.com/twinmq/twinmq/storage"
	"github.com/twinmq/twinmq/wire/remoting"
)

// Request codes twinmq answers that wire/remoting does not name.
const (
	getAllTopicConfig int32 = 21 // RequestCode.GET_ALL_TOPIC_CONFIG
)

// Errors of the adapter; codeFor maps them to response codes.
var (
	errTopicNotExist    = errors.New("remotingapi: topic does not exist")
	errNoPermission     = errors.New("remotingapi: no permission")
	errMessageIllegal   = errors.New("remotingapi: message illegal")
	errInvalidParameter = errors.New("remotingapi: invalid parameter")
	errQueryNotFound    = errors.New("remotingapi: not found")
	errNoConsumer       = errors.New("remotingapi: no consumer for this group")
)

// errorCodes is the one table from errors to RocketMQ response codes
// (docs/rocketmq-protocol.md §2.0); the first match wins, anything else is SYSTEM_ERROR.
var errorCodes = []struct {
	err  error
	code int32
}{
	{errTopicNotExist, remoting.TopicNotExist},
	{topics.ErrTopicNotFound, remoting.TopicNotExist},
	{errNoPermission, remoting.NoPermission},
	{errMessageIllegal, remoting.MessageIllegal},
	{remoting.ErrMalformed, remoting.MessageIllegal},
	{remoting.ErrProperties, remoting.MessageIllegal},
	{storage.ErrEntryTooLarge, remoting.MessageIllegal},
	{errInvalidParameter, remoting.InvalidParameter},
	{topics.ErrInvalidName, remoting.InvalidParameter},
	{topics.ErrInvalidConfig, remoting.InvalidParameter},
	{topics.ErrTopicExists, remoting.TopicExistAlready},
	{errQueryNotFound, remoting.QueryNotFound},
	// END_TRANSACTION refusals: SYSTEM_ERROR, as EndTransactionProcessor
	// answers them (listed to say so).
	{halfmsg.ErrUnknown, remoting.SystemError},
	{halfmsg.ErrResolving, remoting.SystemError},
	{errTransactionGroup, remoting.SystemError},
	{halfmsg.ErrTooMany, remoting.SystemBusy},
	{log.ErrFenced, remoting.ServiceNotAvailable},
	{storage.ErrReplica, remoting.ServiceNotAvailable},
	{log.ErrNotEnoughReplicas, remoting.SlaveNotAvailable},
	{log.ErrNotEnoughReplicasAfterAppend, remoting.SlaveNotAvailable},
	{log.ErrReplicationTimeout, remoting.FlushSlaveTimeout},
	{storage.ErrFailed, remoting.ServiceNotAvailable},
	{storage.ErrNoSpace, remoting.ServiceNotAvailable}, // RocketMQ's answer to a full disk
	{storage.ErrClosed, remoting.ServiceNotAvailable},
}

// codeFor returns the response code for err.
func codeFor(err error) int32 {
	for _, e := range errorCodes {
		if errors.Is(err, e.err) {
			return e.code
		}
	}
	return remoting.SystemError
}

// errorResponse answers req with err's code and text.
func errorResponse(req *remoting.Command, err error) *remoting.Command {
	return remoting.NewResponse(req, codeFor(err), err.Error())
}
