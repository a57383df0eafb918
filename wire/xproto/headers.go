package xproto

import (
	"bytes"
	"encoding/base64"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/twinmq/twinmq/wire/kafka"
	"github.com/twinmq/twinmq/wire/remoting"
)

// Escaping of Kafka headers that a RocketMQ properties string cannot carry
// verbatim (version 1 of the mapping; the names never change).
//
// A properties string is "name\x01value\x02..." read by Java into a map,
// so a header is carried as itself only when its name and value are
// non-empty valid UTF-8 without 0x01 and 0x02, its name is not one seen
// before in the record and does not start with a reserved prefix below.
// Any other header i (its index in the record) becomes the property
//
//	TWINMQ_HDR_<i> = base64url(name) "." base64url(value)   (value not null)
//	TWINMQ_HDR_<i> = base64url(name)                         (value null)
//
// (base64url without padding, RFC 4648 section 5), and a record key that
// cannot be KEYS becomes TWINMQ_KEY = base64url(key). Nothing is dropped:
// a RocketMQ consumer decodes them with any base64 library, and a Kafka
// consumer reading the message back gets the original header (ToKafka
// undoes the escaping).
const (
	escHeaderPrefix = "TWINMQ_HDR_"
	escKey          = "TWINMQ_KEY"
	// HeaderRawProperties carries a stored RocketMQ message's whole
	// properties string, as stored, when it is malformed (some item has no
	// 0x01, an empty name, or it does not end where the items end), so a
	// Kafka consumer still gets every byte.
	HeaderRawProperties = "TWINMQ_RAW_PROPERTIES"
	// HeaderConvertError names why a stored RocketMQ message could not be
	// fully converted (an undecodable body compression, a damaged stored
	// record); the record still takes its offset, so the partition moves on.
	HeaderConvertError = "TWINMQ_CONVERT_ERROR"
)

var b64 = base64.RawURLEncoding

// carriable reports whether s can be a property name or value as is.
func carriable(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= utf8.RuneSelf {
			return utf8.ValidString(s[i:]) && !strings.ContainsAny(s[i:], "\x01\x02")
		} else if c == remoting.NameValueSeparator || c == remoting.PropertySeparator {
			return false
		}
	}
	return s != ""
}

// carriableBytes is carriable for a []byte, without a copy. It runs on
// every header of every converted record, so it scans ASCII (the common
// case) in one loop of its own rather than a UTF-8 check and a search.
func carriableBytes(b []byte) bool {
	for i, c := range b {
		if c >= utf8.RuneSelf {
			return utf8.Valid(b[i:]) && !bytes.ContainsAny(b[i:], "\x01\x02")
		} else if c == remoting.NameValueSeparator || c == remoting.PropertySeparator {
			return false
		}
	}
	return len(b) > 0
}

// escapeHeader is the property of a header that cannot be carried as is.
func escapeHeader(i int, h kafka.RecordHeader) remoting.Property {
	v := b64.EncodeToString([]byte(h.Key))
	if h.Value != nil {
		v += "." + b64.EncodeToString(h.Value)
	}
	return remoting.Property{Key: escHeaderPrefix + strconv.Itoa(i), Value: v}
}

// appendEscapedHeader appends the property escapeHeader makes, without
// building it as strings first.
func appendEscapedHeader(dst []byte, i int, h kafka.RecordHeader) []byte {
	dst = append(dst, escHeaderPrefix...)
	dst = strconv.AppendInt(dst, int64(i), 10)
	dst = append(dst, remoting.NameValueSeparator)
	dst = b64.AppendEncode(dst, []byte(h.Key))
	if h.Value != nil {
		dst = append(dst, '.')
		dst = b64.AppendEncode(dst, h.Value)
	}
	return append(dst, remoting.PropertySeparator)
}

// unescapeHeader undoes escapeHeader; ok is false for a property that is
// not an escaped header (it is then an ordinary property).
func unescapeHeader(p remoting.Property) (kafka.RecordHeader, bool) {
	if !strings.HasPrefix(p.Key, escHeaderPrefix) {
		return kafka.RecordHeader{}, false
	}
	if _, err := strconv.Atoi(p.Key[len(escHeaderPrefix):]); err != nil {
		return kafka.RecordHeader{}, false
	}
	name, val, hasVal := strings.Cut(p.Value, ".")
	k, err := b64.DecodeString(name)
	if err != nil {
		return kafka.RecordHeader{}, false
	}
	h := kafka.RecordHeader{Key: string(k)}
	if hasVal {
		v, err := b64.DecodeString(val)
		if err != nil {
			return kafka.RecordHeader{}, false
		}
		h.Value = append([]byte{}, v...)
	}
	return h, true
}

// reserved reports whether a header name would be mistaken for an escape.
func reserved(name string) bool {
	return strings.HasPrefix(name, escHeaderPrefix) || name == escKey
}
