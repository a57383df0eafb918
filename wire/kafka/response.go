package kafka

import (
	"encoding/binary"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// AppendResponse appends a whole response frame to dst: the 4-byte size
// prefix, the response header and resp's body. The header is v1 (a tagged
// field section after the correlation id) when resp's version is flexible,
// except for ApiVersions, which always uses header v0 (KIP-511). resp's
// version must be the request's version (resp.SetVersion).
func AppendResponse(dst []byte, correlationID int32, resp kmsg.Response) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint32(dst, uint32(correlationID))
	if resp.IsFlexible() && resp.Key() != apiVersionsKey {
		dst = append(dst, 0) // no header tagged fields
	}
	dst = resp.AppendTo(dst)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}

// ApiVersionsUnsupported returns the answer to an ApiVersions request whose
// version we do not support (KIP-511): a v0 body with error 35
// (UNSUPPORTED_VERSION) naming only our ApiVersions range, so the client
// retries at min(its max, maxVersion). Encode it with AppendResponse.
func ApiVersionsUnsupported(minVersion, maxVersion int16) *kmsg.ApiVersionsResponse {
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.SetVersion(0)
	resp.ErrorCode = 35 // UNSUPPORTED_VERSION
	k := kmsg.NewApiVersionsResponseApiKey()
	k.ApiKey = apiVersionsKey
	k.MinVersion = minVersion
	k.MaxVersion = maxVersion
	resp.ApiKeys = append(resp.ApiKeys, k)
	return resp
}
