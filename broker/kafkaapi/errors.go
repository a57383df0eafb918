package kafkaapi

import (
	"errors"
	"log/slog"

	"github.com/twinmq/twinmq/broker/log"
	"github.com/twinmq/twinmq/broker/topics"
	"github.com/twinmq/twinmq/storage"
	"github.com/twinmq/twinmq/wire/kafka"
)

// Kafka protocol error codes (org.apache.kafka.common.protocol.Errors).
// This is the adapter's one table of codes.
const (
	errNone                        int16 = 0
	errOffsetOutOfRange            int16 = 1
	errCorruptMessage              int16 = 2
	errUnknownTopicOrPartition     int16 = 3
	errInvalidFetchSize            int16 = 4
	errLeaderNotAvailable          int16 = 5
	errNotLeaderOrFollower         int16 = 6
	errRequestTimedOut             int16 = 7
	errMessageTooLarge             int16 = 10
	errCoordinatorNotAvailable     int16 = 15
	errInvalidTopic                int16 = 17
	errRecordListTooLarge          int16 = 18
	errNotEnoughReplicas           int16 = 19
	errNotEnoughReplicasAfter      int16 = 20
	errInvalidRequiredAcks         int16 = 21
	errInvalidTimestamp            int16 = 32
	errUnsupportedSaslMechanism    int16 = 33
	errIllegalSaslState            int16 = 34
	errSaslAuthenticationFailed    int16 = 58
	errUnsupportedVersion          int16 = 35
	errTopicAlreadyExists          int16 = 36
	errInvalidPartitions           int16 = 37
	errInvalidReplicationFactor    int16 = 38
	errInvalidReplicaAssignment    int16 = 39
	errInvalidConfig               int16 = 40
	errInvalidRequest              int16 = 42
	errUnsupportedForMessageFormat int16 = 43
	errOutOfOrderSequence          int16 = 45
	errDuplicateSequence           int16 = 46
	errInvalidProducerEpoch        int16 = 47
	errSecurityDisabled            int16 = 54
	errKafkaStorageError           int16 = 56
	errLogDirNotFound              int16 = 57
	errUnknownProducerID           int16 = 59
	errTokenRequestNotAllowed      int16 = 64
	errFetchSessionIDNotFound      int16 = 70
	errFencedLeaderEpoch           int16 = 74
	errUnknownLeaderEpoch          int16 = 75
	errElectionNotNeeded           int16 = 84
	errNoReassignmentInProgress    int16 = 85
	errInvalidRecord               int16 = 87
	errResourceNotFound            int16 = 91
	errDuplicateResource           int16 = 92
	errUnacceptableCredential      int16 = 93
	errUnknownTopicID              int16 = 100
	errUnknownServerError          int16 = -1
)

// codeOf maps an error of the store, the registry or the codec to a code.
func codeOf(err error) int16 {
	switch {
	case err == nil:
		return errNone
	case errors.Is(err, kafka.ErrLegacyMagic):
		return errUnsupportedForMessageFormat
	case errors.Is(err, kafka.ErrTooLarge):
		return errRecordListTooLarge
	case errors.Is(err, kafka.ErrCorruptBatch), errors.Is(err, kafka.ErrTruncatedBatch):
		return errCorruptMessage
	case errors.Is(err, storage.ErrOffsetOutOfRange):
		return errOffsetOutOfRange
	case errors.Is(err, storage.ErrEntryTooLarge):
		return errMessageTooLarge
	case errors.Is(err, log.ErrFenced), errors.Is(err, storage.ErrReplica):
		return errNotLeaderOrFollower
	case errors.Is(err, log.ErrNotEnoughReplicas):
		return errNotEnoughReplicas
	case errors.Is(err, log.ErrNotEnoughReplicasAfterAppend):
		return errNotEnoughReplicasAfter
	case errors.Is(err, log.ErrReplicationTimeout):
		return errRequestTimedOut
	case errors.Is(err, storage.ErrFailed), errors.Is(err, storage.ErrCorrupt), errors.Is(err, storage.ErrClosed),
		errors.Is(err, storage.ErrNoSpace): // retriable: Kafka answers a full log dir so too
		return errKafkaStorageError
	case errors.Is(err, topics.ErrTopicExists):
		return errTopicAlreadyExists
	case errors.Is(err, topics.ErrTopicNotFound):
		return errUnknownTopicOrPartition
	case errors.Is(err, topics.ErrInvalidName):
		return errInvalidTopic
	case errors.Is(err, topics.ErrInvalidConfig), errors.Is(err, errBadConfig):
		return errInvalidConfig
	}
	return errUnknownServerError
}

// appendLogLevel is the level a failed append is logged at: debug for a
// full disk (the store logs it once, and producers retry meanwhile),
// warn otherwise.
func appendLogLevel(err error) slog.Level {
	if errors.Is(err, storage.ErrNoSpace) {
		return slog.LevelDebug
	}
	return slog.LevelWarn
}
