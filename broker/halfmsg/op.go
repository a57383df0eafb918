package halfmsg

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/twinmq/twinmq/storage"
)

// Topics of the half messages, their op records and the half messages
// given up on (RocketMQ's names, TopicValidator.java).
const (
	HalfTopic     = "RMQ_SYS_TRANS_HALF_TOPIC"
	OpTopic       = "RMQ_SYS_TRANS_OP_HALF_TOPIC"
	CheckMaxTopic = "TRANS_CHECK_MAX_TIME_TOPIC"
)

// Action is what an op record says happened to a half message.
type Action uint8

// Actions of op records (layout in doc.go).
const (
	ActionCommit    Action = 1
	ActionRollback  Action = 2
	ActionChecked   Action = 3
	ActionDiscarded Action = 4
)

// resolves reports whether the action ends the half message.
func (a Action) resolves() bool {
	return a == ActionCommit || a == ActionRollback || a == ActionDiscarded
}

// ErrCorruptOp marks an op record that does not decode.
var ErrCorruptOp = errors.New("halfmsg: corrupt op record")

const (
	opVersion = 1
	opLen     = 12
	// maxRecordedChecks is the largest check count an op record holds.
	maxRecordedChecks = 1<<16 - 1
)

// Op is one op record.
type Op struct {
	Action Action
	Key    int64
	Checks int
}

// AppendOp appends op's record to dst.
func AppendOp(dst []byte, op Op) []byte {
	dst = append(dst, opVersion, byte(op.Action))
	dst = binary.BigEndian.AppendUint64(dst, uint64(op.Key))
	return binary.BigEndian.AppendUint16(dst, uint16(min(max(op.Checks, 0), maxRecordedChecks)))
}

// DecodeOp decodes one op record.
func DecodeOp(b []byte) (Op, error) {
	if len(b) != opLen || b[0] != opVersion {
		return Op{}, fmt.Errorf("%w: %d bytes, version %d", ErrCorruptOp, len(b), firstByte(b))
	}
	op := Op{Action: Action(b[1]), Key: int64(binary.BigEndian.Uint64(b[2:])), Checks: int(binary.BigEndian.Uint16(b[10:]))}
	if op.Action < ActionCommit || op.Action > ActionDiscarded || op.Key < 0 {
		return Op{}, fmt.Errorf("%w: action %d, key %d", ErrCorruptOp, op.Action, op.Key)
	}
	return op, nil
}

func firstByte(b []byte) int {
	if len(b) == 0 {
		return -1
	}
	return int(b[0])
}

func opEntry(op Op) storage.Entry {
	return storage.Entry{Kind: storage.KindInternal, Topic: OpTopic, Count: 1, Payload: AppendOp(make([]byte, 0, opLen), op)}
}
