package kafka

import (
	"errors"
	"fmt"
)

// Sentinel errors. Decoders wrap them with context; match with errors.Is.
// The adapters map them to Kafka error codes (this package knows no codes).
var (
	// ErrShortFrame: a request frame too short for key, version and
	// correlation id. Nothing of the header is known; close the connection.
	ErrShortFrame = errors.New("kafka: frame shorter than a request header")
	// ErrUnknownAPIKey: the request's key is not a Kafka API key that kmsg
	// knows. The error is an *UnknownAPIKeyError.
	ErrUnknownAPIKey = errors.New("kafka: unknown api key")
	// ErrUnsupportedVersion: the key is known but the version is not. The
	// error is an *UnsupportedVersionError.
	ErrUnsupportedVersion = errors.New("kafka: unsupported api version")
	// ErrMalformedRequest: the header or body is truncated or inconsistent.
	ErrMalformedRequest = errors.New("kafka: malformed request")

	// ErrCorruptBatch: a record batch fails validation (lengths, CRC,
	// counts, record encoding, compressed payload). Kafka answers
	// CORRUPT_MESSAGE.
	ErrCorruptBatch = errors.New("kafka: corrupt record batch")
	// ErrCRCMismatch is wrapped together with ErrCorruptBatch when only the
	// checksum is wrong.
	ErrCRCMismatch = errors.New("kafka: record batch crc mismatch")
	// ErrLegacyMagic: a magic 0 or 1 message set. Kafka answers
	// UNSUPPORTED_FOR_MESSAGE_FORMAT (or CORRUPT_MESSAGE on produce v3+).
	ErrLegacyMagic = errors.New("kafka: legacy message format (magic 0/1)")
	// ErrTruncatedBatch: fewer bytes than the batch header or BatchLength
	// announce. On fetch this is a normal partial batch; on produce it is
	// corruption.
	ErrTruncatedBatch = errors.New("kafka: truncated record batch")

	// ErrUnknownCodec: a compression codec outside 0..4.
	ErrUnknownCodec = errors.New("kafka: unknown compression codec")
	// ErrTooLarge: decompression would exceed the caller's size limit
	// (decompression bomb guard).
	ErrTooLarge = errors.New("kafka: decompressed size over limit")
	// ErrBudget: the decompression budget (BatchReader.Budget) refused
	// the output's next bytes; nothing is kept charged. The caller may
	// wait for room and try again.
	ErrBudget = errors.New("kafka: decompression budget spent")
	// ErrEmptyBatch: AppendBatch was given no records.
	ErrEmptyBatch = errors.New("kafka: batch without records")
)

// UnknownAPIKeyError carries the key of a request kmsg does not know.
type UnknownAPIKeyError struct{ Key int16 }

func (e *UnknownAPIKeyError) Error() string {
	return fmt.Sprintf("kafka: unknown api key %d", e.Key)
}

// Is reports ErrUnknownAPIKey.
func (e *UnknownAPIKeyError) Is(target error) bool { return target == ErrUnknownAPIKey }

// UnsupportedVersionError carries a known key with a version outside
// [0, kmsg max]. For ApiVersions (key 18) the adapter answers with
// ApiVersionsUnsupported (KIP-511), never a disconnect.
type UnsupportedVersionError struct {
	Key, Version, MaxVersion int16
}

func (e *UnsupportedVersionError) Error() string {
	return fmt.Sprintf("kafka: api key %d version %d unsupported (max %d)", e.Key, e.Version, e.MaxVersion)
}

// Is reports ErrUnsupportedVersion.
func (e *UnsupportedVersionError) Is(target error) bool { return target == ErrUnsupportedVersion }
