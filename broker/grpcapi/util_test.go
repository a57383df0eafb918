package grpcapi

import (
	"strconv"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/twinmq/twinmq/wire/rmqpb"
)

func itoa(n int32) string { return strconv.Itoa(int(n)) }

func durationpbTimestamp(t time.Time) *timestamppb.Timestamp { return timestamppb.New(t) }

// TestBodyDigest: each v5 client's own CRC32 checksum format (Java
// upper-case hex, Go lower-case hex, Node.js decimal), and an unspecified
// digest, which no client checks, for the others.
func TestBodyDigest(t *testing.T) {
	body := []byte("body-0") // CRC32 (IEEE) 101430950 = 0x60bb6a6
	for _, tc := range []struct {
		lang rmqpb.Language
		typ  rmqpb.DigestType
		sum  string
	}{
		{rmqpb.Language_JAVA, rmqpb.DigestType_CRC32, "60BB6A6"},
		{rmqpb.Language_KOTLIN, rmqpb.DigestType_CRC32, "60BB6A6"},
		{rmqpb.Language_GOLANG, rmqpb.DigestType_CRC32, "60bb6a6"},
		{rmqpb.Language_NODE_JS, rmqpb.DigestType_CRC32, "101430950"},
		{rmqpb.Language_PYTHON, rmqpb.DigestType_DIGEST_TYPE_UNSPECIFIED, ""},
		{rmqpb.Language_LANGUAGE_UNSPECIFIED, rmqpb.DigestType_DIGEST_TYPE_UNSPECIFIED, ""},
	} {
		if d := bodyDigest(tc.lang, body); d.GetType() != tc.typ || d.GetChecksum() != tc.sum {
			t.Errorf("%v: %v %q, want %v %q", tc.lang, d.GetType(), d.GetChecksum(), tc.typ, tc.sum)
		}
	}
}
