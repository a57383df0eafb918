package kafka

import (
	"encoding/binary"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// apiVersionsKey is ApiVersions (key 18): its response header is never
// flexible (KIP-511), so a client can always read our error 35.
const apiVersionsKey = 18

// RequestHeader is a request header (v1 or v2) plus the body bytes that follow
// it. Body aliases the frame.
type RequestHeader struct {
	APIKey        int16
	APIVersion    int16
	CorrelationID int32
	// ClientID is nil for a null client id.
	ClientID *string
	// Flexible is true for header v2 (the request version is flexible,
	// KIP-482): tagged fields follow the client id.
	Flexible bool
	// Body is the request body, aliasing the frame.
	Body []byte
}

// ParseRequestHeader parses the header of frame, the bytes after the 4-byte
// size prefix. Unless the error is ErrShortFrame, APIKey, APIVersion and
// CorrelationID are valid even when err != nil, so the adapter can answer
// (ApiVersions with error 35) or close. An unknown key yields an
// *UnknownAPIKeyError and an unknown version an *UnsupportedVersionError;
// in both cases Body is everything after the correlation id.
func ParseRequestHeader(frame []byte) (RequestHeader, error) {
	var h RequestHeader
	if len(frame) < 8 {
		return h, fmt.Errorf("kafka: %d-byte frame: %w", len(frame), ErrShortFrame)
	}
	h.APIKey = int16(binary.BigEndian.Uint16(frame))
	h.APIVersion = int16(binary.BigEndian.Uint16(frame[2:]))
	h.CorrelationID = int32(binary.BigEndian.Uint32(frame[4:]))
	h.Body = frame[8:]
	req := kmsg.RequestForKey(h.APIKey)
	if req == nil {
		return h, &UnknownAPIKeyError{Key: h.APIKey}
	}
	if h.APIVersion < 0 || h.APIVersion > req.MaxVersion() {
		return h, &UnsupportedVersionError{Key: h.APIKey, Version: h.APIVersion, MaxVersion: req.MaxVersion()}
	}
	req.SetVersion(h.APIVersion)
	h.Flexible = req.IsFlexible()
	if h.APIKey == 7 && h.APIVersion == 0 {
		// ControlledShutdown v0 has header v0: no client id.
		return h, nil
	}
	b := h.Body
	id, n, err := readNullableString(b)
	if err != nil {
		return h, fmt.Errorf("kafka: key %d v%d client id: %w", h.APIKey, h.APIVersion, err)
	}
	h.ClientID, b = id, b[n:]
	if h.Flexible {
		n, err := skipTaggedFields(b)
		if err != nil {
			return h, fmt.Errorf("kafka: key %d v%d header tags: %w", h.APIKey, h.APIVersion, err)
		}
		b = b[n:]
	}
	h.Body = b
	return h, nil
}

// ParseRequest parses a whole request frame (after the size prefix) with
// kmsg. The header is returned as far as it was parsed, as for
// ParseRequestHeader. A body that kmsg cannot read wraps
// ErrMalformedRequest. Strings in the request are copies, not aliases of
// frame. Trailing bytes after the body are ignored, as kmsg does.
func ParseRequest(frame []byte) (RequestHeader, kmsg.Request, error) {
	h, err := ParseRequestHeader(frame)
	if err != nil {
		return h, nil, err
	}
	req := kmsg.RequestForKey(h.APIKey)
	req.SetVersion(h.APIVersion)
	if err := req.ReadFrom(h.Body); err != nil {
		return h, nil, fmt.Errorf("kafka: key %d v%d body (%d bytes): %w: %v",
			h.APIKey, h.APIVersion, len(h.Body), ErrMalformedRequest, err)
	}
	return h, req, nil
}

// readNullableString reads an int16-length string (-1 = null) and returns
// it with the bytes consumed.
func readNullableString(b []byte) (*string, int, error) {
	if len(b) < 2 {
		return nil, 0, ErrMalformedRequest
	}
	l := int(int16(binary.BigEndian.Uint16(b)))
	if l == -1 {
		return nil, 2, nil
	}
	if l < 0 || l > len(b)-2 {
		return nil, 0, ErrMalformedRequest
	}
	s := string(b[2 : 2+l])
	return &s, 2 + l, nil
}

// skipTaggedFields skips a KIP-482 tagged-field section and returns its size.
// Header tags are skipped: no header tag is defined that a broker must read.
func skipTaggedFields(b []byte) (int, error) {
	count, n := binary.Uvarint(b)
	if n <= 0 || count > uint64(len(b)-n) {
		return 0, ErrMalformedRequest
	}
	off := n
	for range count {
		_, n = binary.Uvarint(b[off:]) // tag
		if n <= 0 {
			return 0, ErrMalformedRequest
		}
		off += n
		size, n := binary.Uvarint(b[off:])
		if n <= 0 || size > uint64(len(b)-off-n) {
			return 0, ErrMalformedRequest
		}
		off += n + int(size)
	}
	return off, nil
}
